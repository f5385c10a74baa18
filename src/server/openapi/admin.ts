// The administration paths of the OpenAPI document (../openapi.ts): environments and their rules,
// secrets, the audit log, notification deliveries, API tokens and runners.
import type { Op } from "./op.js";

export const adminPaths: Record<string, Record<string, Op>> = {
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
  "/api/v1/audit": {
    get: {
      summary:
        "The audit log, newest first: who changed secrets, environments, repositories, webhook secrets, forge settings, tokens, runners and app owners, and who approved or rejected a deployment (never a secret value). `action` is exact, or a prefix ending in '.'; `before` pages back from the id `next` gave",
      role: "admin",
      query: ["repo", "action", "subject", "before", "limit"],
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
      summary: "Create an API token; its value is shown once (audited, without it)",
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
      summary: "Register a runner; its token is shown once (audited, without it)",
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
};
