// The remaining paths of the OpenAPI document (../openapi.ts): webhook intake, the dashboard's event
// stream and session, liveness, readiness and metrics.
import type { Op } from "./op.js";

export const opsPaths: Record<string, Record<string, Op>> = {
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
