// Test helpers for the runtimes and health probes: a ServiceSpec with defaults, labels, and a tiny HTTP app
// (plain Node, no dependencies) whose behaviour the environment controls.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InstanceLabels, ServiceSpec } from "../types.js";

export function testService(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: "web",
    runtime: "process",
    replicas: 1,
    env: {},
    secrets: [],
    volumes: [],
    dependsOn: [],
    restart: { policy: "no", backoffMs: 1000, maxBackoffMs: 30_000 },
    hooks: {},
    strategy: { type: "recreate" },
    drainTimeoutMs: 1000,
    stopTimeoutMs: 2000,
    ...overrides,
  };
}

export function testLabels(
  app: string,
  instance: string,
  overrides: Partial<InstanceLabels> = {},
): InstanceLabels {
  return { app, env: "test", service: "web", release: "r1", instance, ...overrides };
}

export function tempDir(prefix = "slipway-deploy-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The app's behaviour, by environment variable:
 * - PORT: where it listens (none: it just stays up); READY_AFTER_MS: listens only after that long;
 * - GET /healthz: 200, or 503 with UNHEALTHY=1, or 200/503 in turn with FLAKY=1;
 * - GET anything else: JSON with GREETING, the pid, SLIPWAY_INSTANCE_DIR and the cwd;
 * - SIGTERM: logs "bye" and exits 0, or logs "ignoring SIGTERM" with IGNORE_TERM=1;
 * - EXIT_AFTER_MS: logs "boom" to stderr and exits with EXIT_CODE (default 1).
 */
export const testAppSource = `
import { createServer } from "node:http";
const env = process.env;
let probes = 0;
const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    probes++;
    const bad = env.UNHEALTHY === "1" || (env.FLAKY === "1" && probes % 2 === 0);
    res.writeHead(bad ? 503 : 200, { "content-type": "text/plain" });
    res.end(bad ? "not ready\\n" : "ok\\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({
    greeting: env.GREETING ?? "",
    pid: process.pid,
    instanceDir: env.SLIPWAY_INSTANCE_DIR ?? "",
    cwd: process.cwd(),
  }));
});
process.on("SIGTERM", () => {
  if (env.IGNORE_TERM === "1") {
    console.log("ignoring SIGTERM");
    return;
  }
  console.log("bye");
  process.exit(0);
});
if (env.EXIT_AFTER_MS)
  setTimeout(() => {
    console.error("boom");
    process.exit(Number(env.EXIT_CODE ?? 1));
  }, Number(env.EXIT_AFTER_MS));
const listen = () => {
  if (!env.PORT) return;
  server.listen(Number(env.PORT), "127.0.0.1", () => console.log("listening on " + env.PORT));
};
setTimeout(listen, Number(env.READY_AFTER_MS ?? 0));
console.log("started " + process.pid);
setInterval(() => {}, 1 << 30);
`;

/** Writes the app to `dir` and returns the argv that runs it. */
export function writeTestApp(dir: string): string[] {
  const path = join(dir, "app.mjs");
  writeFileSync(path, testAppSource);
  return [process.execPath, path];
}
