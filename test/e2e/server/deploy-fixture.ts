// The sample app that deploys through `slipway serve` are tested with, shared by the server's and the
// dashboard's deploy tests: test/e2e/deploy/app/server.mjs as the process service `api` on a published
// port with HTTP health checks, committed to a git repository the server knows; deploys through the REST
// API (the whole NDJSON answer, or a deploy that must end with its release); and a bounded shutdown of the
// deploy agent and its instances for the test's `finally`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { agentPaths, callAgent } from "../../../src/deploy/index.js";
import { freePort } from "../../support/ports.js";
import { e2eDir } from "../helpers.js";
import { addRepo, type GitRepo, makeRepo, type Server } from "./helpers.js";

export const appJs = readFileSync(join(e2eDir, "deploy", "app", "server.mjs"), "utf8");

/** The app's slipway.yaml: `api` answers `version` on `port`; `extra` is appended to the service (a strategy). */
export function slipwayYaml(port: number, version: string, extra = ""): string {
  return `deploy:
  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 1
      publish: ${port}
      env:
        APP_VERSION: ${version}
      health:
        http: /healthz
        interval: 100ms
        deadline: 10s
      drain_timeout: 1s
${extra}`;
}

/** A repository of the app at v1 on a free port, registered with the server as `name`. */
export async function addSampleApp(server: Server, name: string): Promise<{ repo: GitRepo; port: number }> {
  const port = await freePort();
  const repo = makeRepo({ "slipway.yaml": slipwayYaml(port, "v1"), "app/server.mjs": appJs });
  await addRepo(server, repo, name);
  return { repo, port };
}

function postDeploy(server: { url: string }, token: string | null, repo: string, body: unknown) {
  return fetch(`${server.url}/api/v1/repos/${repo}/deploys`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

type Line = Record<string, any>;

/** POSTs a deploy and reads the whole NDJSON answer (or the JSON error). */
export async function deployApi(
  server: { url: string },
  token: string | null,
  repo: string,
  body: unknown,
): Promise<{ status: number; lines: Line[]; error?: Line }> {
  const res = await postDeploy(server, token, repo, body);
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, lines: [], error: JSON.parse(text) };
  expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
  return {
    status: 200,
    lines: text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line),
  };
}

/** Deploys `version` of acme/shop with the admin token and waits until the stream ends with the release. */
export async function deployVersion(server: Server, version: string): Promise<void> {
  const res = await postDeploy(server, server.token, "acme/shop", { version });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(text.trim().split("\n").at(-1)).toContain('"release"');
}

/**
 * Stops the agent and its instances. Bounded: an agent asked while a canary holds a manual pause does
 * not answer (the harness kills what is left when the test ends).
 */
export async function shutdownAgent(server: Server, app: string, env = "production"): Promise<void> {
  await Promise.race([
    callAgent(agentPaths(server.dataDir, app, env).socketPath, "POST", "/shutdown", {
      stopInstances: true,
    }).catch(() => undefined),
    new Promise((r) => setTimeout(r, 10_000)),
  ]);
}
