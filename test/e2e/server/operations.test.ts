// Tokens and roles, and running the server: health, readiness and metrics endpoints, a graceful stop on
// SIGTERM, and clear, fast failures when the database or the data dir is unusable.
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  type Harness,
  logText,
  makeRepo,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "./helpers.js";
import { finishedQuickRun, quickWorkflow } from "./quick-run.js";

cleanupAfterAll();

const name = "acme/app";

describe.concurrent("auth", () => {
  test("enforces tokens and roles; token values are never listed; the admin token file is 0600", async ({
    h,
  }) => {
    const server = await h.startServer();
    expect(statSync(join(server.dataDir, "admin-token")).mode & 0o777).toBe(0o600);
    const id = await finishedQuickRun(server, name);

    // No token at all.
    expect((await api(server, "GET", "/api/v1/runs", undefined, null)).status).toBe(401);
    expect((await api(server, "GET", "/api/v1/runs", undefined, "slw_not-a-real-token")).status).toBe(401);
    const anonymous = await h.cli(server, ["runs", "list"], { token: null });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/401|token is required/);

    const viewer = (await h.cliOk(server, ["token", "create", "ci-viewer", "--role", "viewer", "--json"]))
      .json;
    const developer = (await h.cliOk(server, ["token", "create", "dev", "--role", "developer", "--json"]))
      .json;
    expect(viewer.token).toMatch(/^slw_/);

    // A viewer reads but cannot change anything.
    const list = await h.cli(server, ["runs", "list", "--json"], { token: viewer.token });
    expect(list.code).toBe(0);
    expect(list.json.map((r: any) => r.id)).toEqual([id]);
    expect((await h.cli(server, ["logs", String(id)], { token: viewer.token })).stdout).toContain(
      "quick ran",
    );
    for (const args of [
      ["rerun", String(id), "--failed"],
      ["rerun", String(id), "--job", "quick"],
      ["cancel", String(id)],
      ["dispatch", name, "quick.yml"],
    ]) {
      const denied = await h.cli(server, args, { token: viewer.token });
      expect(denied.code, args.join(" ")).toBe(1);
      expect(denied.stderr).toMatch(/developer role/);
    }
    expect(
      (await api(server, "POST", `/api/v1/runs/${id}/rerun`, { job: "quick" }, viewer.token)).status,
    ).toBe(403);
    expect((await api(server, "POST", `/api/v1/runs/${id}/cancel`, {}, viewer.token)).status).toBe(403);
    expect(
      (await api(server, "POST", `/api/v1/repos/${name}/dispatch`, { workflow: "quick.yml" }, viewer.token))
        .status,
    ).toBe(403);
    expect((await api(server, "GET", "/api/v1/tokens", undefined, viewer.token)).status).toBe(403);
    expect((await api(server, "GET", "/api/v1/tokens", undefined, developer.token)).status).toBe(403);

    // A developer can re-run.
    const rerun = await h.cli(server, ["rerun", String(id), "--job", "quick", "--json"], {
      token: developer.token,
    });
    expect(rerun.code).toBe(0);
    expect(rerun.json.attempt).toBe(2);
    expect(
      (await waitForRun(server, id, { until: (v) => v.run.attempt === 2 && v.run.status === "completed" }))
        .run.conclusion,
    ).toBe("success");

    // Listing tokens shows names and roles, never values (nor their hashes).
    const tokens = await h.cliOk(server, ["token", "list", "--json"]);
    expect(tokens.json.map((t: any) => [t.name, t.role])).toEqual(
      expect.arrayContaining([
        ["admin", "admin"],
        ["ci-viewer", "viewer"],
        ["dev", "developer"],
      ]),
    );
    for (const secret of [server.token, viewer.token, developer.token]) {
      expect(tokens.stdout).not.toContain(secret);
      expect(tokens.stdout).not.toContain(secret.slice(4, 20));
    }
    for (const t of tokens.json) expect(Object.keys(t)).not.toEqual(expect.arrayContaining(["token"]));
    const human = await h.cliOk(server, ["token", "list"]);
    expect(human.stdout).toContain("ci-viewer");
    expect(human.stdout).not.toContain(viewer.token);

    // `login` remembers the server and a token (mode 0600); later commands need neither flag nor env.
    const config = tempDir("slipway-login-");
    const env = { XDG_CONFIG_HOME: config };
    await h.cliOk(null, ["login", "--server", server.url, "--token", developer.token], { env });
    expect(statSync(join(config, "slipway", "config.json")).mode & 0o777).toBe(0o600);
    const remembered = await h.cli(null, ["runs", "list", "--json"], { env, token: null });
    expect(remembered.code).toBe(0);
    expect(remembered.json.map((r: any) => r.id)).toEqual([id]);

    // A revoked token stops working.
    await h.cliOk(server, ["token", "revoke", String(viewer.id), "--yes"]);
    expect((await api(server, "GET", "/api/v1/runs", undefined, viewer.token)).status).toBe(401);
  });
});

describe.concurrent("operations", () => {
  test("/healthz, /readyz and /metrics answer", async ({ h }) => {
    const repo = makeRepo({ ".github/workflows/quick.yml": quickWorkflow });
    const server = await h.startServer();
    await addRepo(server, repo, name);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const id = await dispatchRun(server, name, "quick.yml");
    await waitForRun(server, id);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^slipway_queue_depth\{status="queued"\} 0$/m);
    expect(text).toMatch(/^slipway_runs_total\{conclusion="success"\} 1$/m);
    expect((await api(server, "GET", "/api/v1/openapi.json", undefined, null)).status).toBe(200);
  });

  test("SIGTERM lets the running step finish within the grace period, then exits 0", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const repo = makeRepo({
      ".github/workflows/slow.yml": `name: Slow
on: workflow_dispatch
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "slow started"
          sleep 3
          echo "finished" > ${dir}/finished
`,
    });
    const server = await h.startServer({ args: ["--shutdown-grace", "20"] });
    await addRepo(server, repo, name);
    const id = await dispatchRun(server, name, "slow.yml");
    await waitFor(
      "the step to start",
      async () => (await logText(server, id)).includes("slow started"),
      20_000,
    );
    const signalled = Date.now();
    server.kill("SIGTERM");
    // Not ready any more while it drains (the step still runs, so the listener is still up).
    await waitFor(
      "the server to start stopping",
      () => server.stderr().includes("SIGTERM: stopping"),
      5000,
      20,
    );
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(existsSync(join(dir, "finished"))).toBe(false);
    const { code, signal } = await server.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(15_000);
    expect(existsSync(join(dir, "finished"))).toBe(true);
    // The result was recorded before the exit; the admin token was printed at the first start only.
    const again = await h.startServer({ dataDir: server.dataDir });
    expect(server.stderr()).toContain(server.token);
    expect(again.stderr()).not.toContain(server.token);
    expect(again.token).toBe(server.token);
    const v = await waitForRun(again, id, { timeoutMs: 10_000 });
    expect(v.run.conclusion).toBe("success");
  });

  test("an unreachable database is a clear, fast error", async ({ h }) => {
    const dataDir = join(tempDir("slipway-server-"), "data");
    const started = Date.now();
    const r = await runServe(h, ["--data-dir", dataDir, "--database", "postgres://127.0.0.1:1/x"]);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/cannot open database/);
    expect(r.stderr).toContain("127.0.0.1:1");
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe("");
  });

  test("an unwritable data dir is a clear error", async ({ h }) => {
    const parent = tempDir("slipway-server-");
    const file = join(parent, "not-a-directory");
    writeFileSync(file, "");
    const dataDir = join(file, "data");
    const r = await runServe(h, ["--data-dir", dataDir]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain(dataDir);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stdout).toBe("");
  });
});

/** `slipway serve` expected to fail at start: its exit code and output. */
async function runServe(
  h: Harness,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = h.spawn(["serve", "--listen", "127.0.0.1:0", ...args], h.env());
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}
