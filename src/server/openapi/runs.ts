// The run paths of the OpenAPI document (../openapi.ts): listing and reading runs, their artifacts, logs
// and live events, re-running, cancelling, and approving or rejecting an environment's gate.
import type { Op } from "./op.js";

export const runPaths: Record<string, Record<string, Op>> = {
  "/api/v1/runs": {
    get: {
      summary: "List runs, newest first (status: waiting, queued, running or completed)",
      role: "viewer",
      query: ["repo", "status", "limit"],
    },
  },
  "/api/v1/runs/{id}": {
    get: {
      summary: "A run with its attempts, jobs and steps, and each job's annotations and step summary",
      role: "viewer",
      params: ["id"],
      response: { schema: "RunView" },
    },
  },
  "/api/v1/runs/{id}/artifacts": {
    get: {
      summary: "The run's artifacts (expired ones are gone)",
      role: "viewer",
      params: ["id"],
      response: { schema: "ArtifactList" },
    },
  },
  "/api/v1/runs/{id}/artifacts/{name}": {
    get: {
      summary:
        "One artifact's files as a tar stream (application/x-tar), or a zip (application/zip) with ?format=zip or an Accept header naming application/zip only; 404 when absent or expired",
      role: "viewer",
      params: ["id", "name"],
      query: ["format"],
      response: "tar-or-zip",
    },
  },
  "/api/v1/runs/{id}/artifacts/{name}/zip": {
    get: {
      summary:
        "One artifact's files as a zip, as GitHub serves an artifact (…/actions/artifacts/{id}/zip); 404 when absent or expired",
      role: "viewer",
      params: ["id", "name"],
      response: "zip",
    },
  },
  "/api/v1/runs/{id}/logs": {
    get: {
      summary: "Log chunks of a run's jobs",
      role: "viewer",
      params: ["id"],
      query: ["attempt", "job", "after", "limit"],
    },
  },
  "/api/v1/runs/{id}/events": {
    get: {
      summary:
        "Server-Sent Events: run, job, step and log events of a run until it completes; `resync` when events were dropped for a slow client (re-read the run); 503 past the server's stream cap",
      role: "viewer",
      params: ["id"],
    },
  },
  "/api/v1/runs/{id}/rerun": {
    post: {
      summary: "Re-run a job (and what depends on it) or the failed jobs as a new attempt",
      role: "developer",
      params: ["id"],
      body: { job: "string", matrix: "object", failed: "boolean", all: "boolean" },
    },
  },
  "/api/v1/runs/{id}/cancel": { post: { summary: "Cancel a run", role: "developer", params: ["id"] } },
  "/api/v1/runs/{id}/approve": {
    post: {
      summary:
        "Let the run's jobs waiting for an environment go (all pending environments, or `environment`): 403 naming the rule when the caller is not a required reviewer, or triggered the run and the environment does not allow self-review; audited. Without a pending environment: start a fork pull request's run that waits for approval; it still gets no secrets (not by the pull request's author; audited)",
      role: "developer",
      params: ["id"],
      body: { environment: "string: only this environment's jobs" },
    },
  },
  "/api/v1/runs/{id}/reject": {
    post: {
      summary:
        "Fail the run's jobs waiting for an environment (the run ends failure with the reason; 403 when the caller is not a required reviewer), or end a fork's run that waits for approval without running it: cancelled, with the reason (audited)",
      role: "developer",
      params: ["id"],
      body: {
        reason: "string: one line, at most 500 characters",
        environment: "string: only this environment's jobs",
      },
    },
  },
};
