// The runner protocol paths of the OpenAPI document (../openapi.ts): what a runner calls with its runner
// token — claim a job, heartbeat, logs, steps, artifacts, completion.
import type { Op } from "./op.js";

export const runnerProtocolPaths: Record<string, Record<string, Op>> = {
  "/api/v1/runner/claim": {
    post: {
      summary:
        "Runner: claim a queued job leg whose runs-on labels the runner has (long poll with waitMs); labels, when given, must be a subset of those it was registered with",
      role: "runner",
      body: { labels: "string[]", waitMs: "integer" },
    },
  },
  "/api/v1/runner/jobs/{id}/heartbeat": {
    post: {
      summary: "Runner: extend the lease; ok=false means stop the job",
      role: "runner",
      params: ["id"],
    },
  },
  "/api/v1/runner/jobs/{id}/logs": {
    post: {
      summary: "Runner: append a numbered log chunk (idempotent)",
      role: "runner",
      params: ["id"],
      body: { seq: "integer", content: "string" },
    },
  },
  "/api/v1/runner/jobs/{id}/steps": {
    post: { summary: "Runner: report a step's start or end", role: "runner", params: ["id"] },
  },
  "/api/v1/runner/jobs/{id}/artifacts": {
    get: {
      summary: "Runner: the artifacts of the run of a job it holds (409 for any other job)",
      role: "runner",
      params: ["id"],
      response: { schema: "ArtifactList" },
    },
    post: {
      summary:
        "Runner: upload an artifact (a tar stream of its files) for the job it holds; 201 {artifact}; 409 for another runner's job or a taken name without overwrite=true, 413 past the run's size cap, 400 for a bad name or archive — nothing is stored then",
      role: "runner",
      params: ["id"],
      query: ["name", "retentionDays", "overwrite"],
      tarBody: true,
    },
  },
  "/api/v1/runner/jobs/{id}/artifacts/{name}": {
    get: {
      summary: "Runner: one artifact of the run of a job it holds, as a tar stream",
      role: "runner",
      params: ["id", "name"],
      response: "tar",
    },
  },
  "/api/v1/runner/jobs/{id}/complete": {
    post: { summary: "Runner: the job's result", role: "runner", params: ["id"] },
  },
};
