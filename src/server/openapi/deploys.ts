// The deploy paths of the OpenAPI document (../openapi.ts): deploying a repository's app, the releases,
// and an environment's deploy status, figures, promote, abort, rollback and owner.
import type { Op } from "./op.js";

export const deployPaths: Record<string, Record<string, Op>> = {
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
};
