// The repository paths of the OpenAPI document (../openapi.ts): registering and changing repositories, their
// webhook secret and forge settings, the public badges, a repository's runs and workflow dispatch.
import type { Op } from "./op.js";

export const repoPaths: Record<string, Record<string, Op>> = {
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
};
