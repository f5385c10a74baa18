// The OpenAPI document of the REST API, served at /api/v1/openapi.json.
import { schemas } from "./openapi-schemas.js";
type Op = {
  summary: string;
  role?: string;
  body?: Record<string, unknown>;
  params?: string[];
  query?: string[];
  /** The 200 answer: a schema of components.schemas, or a tar stream. */
  response?: { schema: string } | "tar" | "tar-or-zip" | "zip";
  /** The request body is a tar stream (application/x-tar), not JSON. */
  tarBody?: boolean;
};

const ops: Record<string, Record<string, Op>> = {
  "/api/v1/repos": {
    get: { summary: "List repositories", role: "viewer" },
    post: {
      summary: "Register a repository; the response holds its webhook secret, shown once",
      role: "admin",
      body: {
        url: "string",
        name: "string",
        branch: "string",
        pollInterval: "integer (seconds)",
        forkPullRequests: "run-without-secrets (default) | require-approval | off",
      },
    },
  },
  "/api/v1/repos/{name}": {
    get: { summary: "One repository", role: "viewer", params: ["name"] },
    patch: {
      summary: "Change a repository's settings (audited)",
      role: "admin",
      params: ["name"],
      body: { forkPullRequests: "run-without-secrets | require-approval | off" },
    },
  },
  "/api/v1/repos/{name}/webhook-secret": {
    post: {
      summary:
        "Rotate the repository's webhook secret (audited); the response holds the new one, shown once, and the old one stops verifying",
      role: "admin",
      params: ["name"],
    },
  },
  "/api/v1/repos/{name}/forge": {
    get: {
      summary:
        "Where the repository's runs and deploys are reported (forge, API URL, project), whether a token is set (never the token), public badges, PR comments",
      role: "viewer",
      params: ["name"],
    },
    patch: {
      summary:
        "Change the forge settings (audited); null derives provider, apiUrl or project from the remote again",
      role: "admin",
      params: ["name"],
      body: {
        provider: "github | gitea | gitlab | null",
        apiUrl: "string: the API base, e.g. https://api.github.com, https://git.example/api/v1 | null",
        project: "string: owner/name (GitLab: path or id) | null",
        public: "boolean: badges without a token",
        prComment:
          "boolean: comment on a deployed commit's pull request or merge request (GitHub, Gitea, GitLab)",
      },
    },
  },
  "/api/v1/repos/{name}/forge/token": {
    put: {
      summary: "Set the forge access token (stored encrypted, never answered; audited)",
      role: "admin",
      params: ["name"],
      body: { token: "string" },
    },
    delete: {
      summary: "Remove the forge token: nothing is reported any more",
      role: "admin",
      params: ["name"],
    },
  },
  "/badges/{repo}/{workflow}.svg": {
    get: {
      summary:
        "SVG badge of a workflow's newest finished run on a branch (query: branch, default the repository's); public when the repository is, else a viewer token",
      params: ["repo", "workflow"],
      query: ["branch"],
    },
  },
  "/badges/apps/{app}/{env}.svg": {
    get: {
      summary:
        "SVG badge of an app environment's live health from its deploy agent (healthy, degraded n/m, down, deploying, canary; 'unknown, last <version>' when no agent answers); public when its owning repository is, else a viewer token (otherwise 404, as for an unknown one)",
      params: ["app", "env"],
    },
  },
  "/api/v1/repos/{name}/runs": {
    get: { summary: "Runs of a repository", role: "viewer", params: ["name"], query: ["limit"] },
  },
  "/api/v1/repos/{name}/dispatch": {
    post: {
      summary: "workflow_dispatch: start a workflow",
      role: "developer",
      params: ["name"],
      body: { workflow: "string", ref: "string", inputs: "object" },
    },
  },
  "/api/v1/repos/{name}/deploys": {
    post: {
      summary:
        "Deploy a commit of the repository (its slipway.yaml's deploy: section) through the environment's deploy agent; streams NDJSON: {deploy}, the agent's {event} lines, {keepalive}, then {release} or {error}",
      role: "deployer",
      params: ["name"],
      body: {
        env: "string (default production)",
        ref: "string: branch, tag or commit (default: the repository's default branch)",
        services: "string[]: deploy only these services",
        images: "object: service → image reference (docker services)",
        strategy: "recreate|rolling|blue-green|canary: for every deployed service",
        version: "string: the version the release carries",
        wait: "boolean: wait for a deploy in progress instead of refusing",
        config: "string: slipway.yaml's path in the repository (default slipway.yaml)",
        app: "string: instead of deploy.app (default: the repository's name)",
      },
    },
  },
  "/api/v1/releases": {
    get: {
      summary: "Releases, newest first",
      role: "viewer",
      query: ["app", "env", "limit", "before"],
    },
  },
  "/api/v1/releases/{app}/{env}/{number}": {
    get: { summary: "One release with its events", role: "viewer", params: ["app", "env", "number"] },
  },
  "/api/v1/deploy/{app}/{env}/status": {
    get: {
      summary:
        "The environment's services, instances, health and traffic weights from its agent, or {agent: null, current} when no agent runs; 404 for an app never deployed",
      role: "viewer",
      params: ["app", "env"],
    },
  },
  "/api/v1/deploy/{app}/{env}/figures": {
    get: {
      summary:
        "The routers' live figures per service and version (req/s, error rate, p50/p99), sampled every 2 s over the last 5 minutes: {intervalMs, windowMs, now, services: [{service, t, versions: {v: {rps, errorRate, p50, p99}}}]}; {agent: false, services: []} when no agent runs; 404 for an app never deployed",
      role: "viewer",
      params: ["app", "env"],
    },
  },
  "/api/v1/deploy/{app}/{env}/promote": {
    post: { summary: "Let a paused canary continue to 100%", role: "deployer", params: ["app", "env"] },
  },
  "/api/v1/deploy/{app}/{env}/abort": {
    post: {
      summary: "Stop the deploy in progress and roll it back",
      role: "deployer",
      params: ["app", "env"],
    },
  },
  "/api/v1/deploy/{app}/{env}/rollback": {
    post: {
      summary:
        "Deploy an earlier successful release again (default: the one before the current); streams NDJSON like a deploy",
      role: "deployer",
      params: ["app", "env"],
      body: { to: "integer: the release number", wait: "boolean" },
    },
  },
  "/api/v1/deploy/{app}/{env}/owner": {
    get: {
      summary: "The repository that owns the app environment (its first server deploy claimed it)",
      role: "viewer",
      params: ["app", "env"],
    },
    put: {
      summary: "Rebind the app environment (and its secrets) to another registered repository",
      role: "admin",
      params: ["app", "env"],
      body: { repo: "string: the repository's name" },
    },
  },
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
  "/api/v1/environments": {
    get: {
      summary:
        "A repository's deployment environments: reviewers, wait timer, allowed branches and tags, vars",
      role: "viewer",
      query: ["repo"],
    },
  },
  "/api/v1/environments/{env}": {
    get: { summary: "One environment of a repository", role: "viewer", params: ["env"], query: ["repo"] },
    put: {
      summary:
        "Create or replace an environment's protection rules and vars (201 when created; audited). Omitted fields reset to their defaults",
      role: "admin",
      params: ["env"],
      query: ["repo"],
      body: {
        reviewers: "string[]: roles (that role or above) or token names; default none",
        waitTimer: "integer seconds or a duration (90s, 5m, 1h); default 0",
        branches:
          "string[] | null: branch patterns allowed to deploy; null (default) with tags null: any ref",
        tags: "string[] | null: tag patterns allowed to deploy",
        allowSelfReview: "boolean: whoever triggered a run may approve it; default false",
        vars: "object: the vars context of the environment's jobs (only theirs)",
      },
    },
    delete: {
      summary: "Remove an environment's rules and vars (its secrets stay; audited)",
      role: "admin",
      params: ["env"],
      query: ["repo"],
    },
  },
  "/api/v1/secrets": {
    get: {
      summary: "Secrets' names, scopes and who changed them when (never values)",
      role: "developer",
      query: ["repo", "env"],
    },
    post: {
      summary: "Create or replace a secret (the response holds its metadata, never the value)",
      role: "admin",
      body: {
        name: "string",
        value: "string (UTF-8 text)",
        value_base64: "string (any bytes; instead of value)",
        repo: "string",
        env: "string",
      },
    },
  },
  "/api/v1/secrets/{name}": {
    delete: {
      summary: "Delete a secret of exactly this scope",
      role: "admin",
      params: ["name"],
      query: ["repo", "env"],
    },
  },
  "/api/v1/secrets/audit": {
    get: {
      summary: "The audit log of secret changes, newest first",
      role: "admin",
      query: ["name", "limit"],
    },
  },
  "/api/v1/notifications/deliveries": {
    get: {
      summary: "The notification delivery log, newest first: status, attempts, last error (no bodies)",
      role: "viewer",
      query: ["status", "channel", "repo", "limit", "before"],
    },
  },
  "/api/v1/notifications/test": {
    post: {
      summary:
        "Send a test message to a channel of the server's configuration (or of a repository's slipway.yaml) now, once",
      role: "developer",
      body: { channel: "string", repo: "string (optional)" },
    },
  },
  "/api/v1/tokens": {
    get: { summary: "List API tokens (never their values)", role: "admin" },
    post: {
      summary: "Create an API token; its value is shown once",
      role: "admin",
      body: { name: "string", role: "viewer|developer|deployer|admin" },
    },
  },
  "/api/v1/tokens/{id}": {
    delete: {
      summary:
        "Revoke a token (409 for the last active admin token: see `slipway serve --reset-admin-token`)",
      role: "admin",
      params: ["id"],
    },
  },
  "/api/v1/runners": {
    get: { summary: "List runners", role: "admin" },
    post: {
      summary: "Register a runner; its token is shown once",
      role: "admin",
      body: { name: "string", labels: "string[]" },
    },
  },
  "/api/v1/runners/{ref}": {
    delete: {
      summary: "Remove a runner (by name or id): its token stops working at once, its running jobs fail",
      role: "admin",
      params: ["ref"],
    },
  },
  "/api/v1/runners/{ref}/disable": {
    post: {
      summary: "Disable a runner: its token is refused until enabled, its running jobs fail",
      role: "admin",
      params: ["ref"],
    },
  },
  "/api/v1/runners/{ref}/enable": {
    post: { summary: "Enable a disabled runner", role: "admin", params: ["ref"] },
  },
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
  "/hooks/{provider}/{repo}": {
    post: {
      summary:
        "Webhooks of github, gitea or gitlab for one repository (owner/name): the signature is checked on the raw body as it arrives, before anything is parsed",
      params: ["provider", "repo"],
    },
  },
  "/hooks/{provider}": {
    post: {
      summary:
        "Legacy webhook URL: the body names the repository, so it is parsed before it is verified; smaller body cap",
      params: ["provider"],
    },
  },
  "/api/v1/events": {
    get: {
      summary:
        "Server-Sent Events: every run's and job's status changes (no log lines), for the dashboard's runs list; `resync` when events were dropped",
      role: "viewer",
    },
  },
  "/api/v1/session": {
    get: { summary: "The dashboard session's identity and CSRF token (session cookie)" },
    post: {
      summary:
        "Dashboard sign-in: an API token in, an HttpOnly SameSite=Strict session cookie out (Origin must name this server)",
      body: { token: "string" },
    },
    delete: { summary: "Dashboard sign-out (X-CSRF-Token and Origin required)" },
  },
  "/healthz": { get: { summary: "Liveness" } },
  "/readyz": { get: { summary: "Readiness (database reachable, not shutting down)" } },
  "/metrics": { get: { summary: "Prometheus metrics" } },
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, methods] of Object.entries(ops)) {
    const entry: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(methods)) {
      entry[method] = {
        summary: op.summary,
        ...(op.role
          ? {
              security: [{ [op.role === "runner" ? "runnerToken" : "apiToken"]: [] }],
              "x-slipway-role": op.role,
            }
          : {}),
        parameters: [
          ...(op.params ?? []).map((name) => ({
            name,
            in: "path",
            required: true,
            schema: { type: "string" },
          })),
          ...(op.query ?? []).map((name) => ({
            name,
            in: "query",
            required: false,
            schema: { type: "string" },
          })),
        ],
        ...(op.body
          ? {
              requestBody: {
                content: {
                  "application/json": {
                    schema: {
                      type: "object",
                      properties: Object.fromEntries(
                        Object.entries(op.body).map(([k, v]) => [k, { description: String(v) }]),
                      ),
                    },
                  },
                },
              },
            }
          : {}),
        ...(op.tarBody
          ? {
              requestBody: {
                content: { "application/x-tar": { schema: { type: "string", format: "binary" } } },
              },
            }
          : {}),
        responses: {
          "200":
            op.response === "tar" || op.response === "zip" || op.response === "tar-or-zip"
              ? {
                  description: "OK",
                  content: Object.fromEntries(
                    (op.response === "tar-or-zip"
                      ? ["application/x-tar", "application/zip"]
                      : [op.response === "zip" ? "application/zip" : "application/x-tar"]
                    ).map((t) => [t, { schema: { type: "string", format: "binary" } }]),
                  ),
                }
              : op.response
                ? {
                    description: "OK",
                    content: {
                      "application/json": { schema: { $ref: `#/components/schemas/${op.response.schema}` } },
                    },
                  }
                : { description: "OK" },
          "400": { description: "Bad input" },
          "401": { description: "No or bad credentials" },
          "403": {
            description: "Role too low, or a protection rule refused the caller (the message names it)",
          },
          "404": { description: "Not found" },
        },
      };
    }
    paths[path] = entry;
  }
  return {
    openapi: "3.1.0",
    info: { title: "slipway CI server", version: "1" },
    components: {
      schemas,
      securitySchemes: {
        apiToken: {
          type: "http",
          scheme: "bearer",
          description: "An API token (slw_…) with a role: viewer < developer < deployer < admin",
        },
        runnerToken: { type: "http", scheme: "bearer", description: "A runner token (slwr_…)" },
      },
    },
    paths,
  };
}
