// The API's bounds and errors against a real `slipway serve`: query numbers are checked; a failure
// answers an id and no internal text; /readyz says a fixed text; event streams are capped and the
// server keeps answering; the last admin token cannot be revoked and `--reset-admin-token` gets back
// in; names with control characters are refused; a job's stored log stops at its cap; a server that
// never answers is a clear CLI error, not a hang.
import { statSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  logText,
  makeRepo,
  sleep,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";
import { finishedQuickRun } from "../server/quick-run.js";

cleanupAfterAll();

const name = "acme/app";

describe.concurrent("the API's bounds and errors", () => {
  test("limit, attempt and after must be whole numbers in range: 400 naming the parameter", async ({ h }) => {
    const server = await h.startServer();
    const id = await finishedQuickRun(server, name);
    for (const bad of ["abc", "-1", "0", "1.5", "100000"]) {
      const r = await api(server, "GET", `/api/v1/runs?limit=${bad}`);
      expect(r.status, `limit=${bad}`).toBe(400);
      expect(r.body.error).toMatch(/'limit' must be a whole number from 1 to 1000/);
      const byRepo = await api(server, "GET", `/api/v1/repos/${name}/runs?limit=${bad}`);
      expect(byRepo.status, `repo runs limit=${bad}`).toBe(400);
    }
    expect((await api(server, "GET", `/api/v1/runs/${id}/logs?attempt=abc`)).status).toBe(400);
    expect((await api(server, "GET", "/api/v1/runs?status=bogus")).status).toBe(400);
    expect((await api(server, "GET", `/api/v1/runs/${id}/logs?after=-5`)).status).toBe(400);
    const ok = await api(server, "GET", "/api/v1/runs?limit=1");
    expect(ok.status).toBe(200);
    expect(ok.body.runs).toHaveLength(1);
    // The repository's own run list answers (its route was shadowed by the repository route).
    const mine = await api(server, "GET", `/api/v1/repos/${name}/runs?limit=1`);
    expect(mine.status).toBe(200);
    expect(mine.body.runs.map((r: { id: number }) => r.id)).toEqual([id]);
  });

  test("a failure answers 'internal error (id …)' and logs the detail; /readyz says a fixed text", async ({
    h,
  }) => {
    const server = await h.startServer();
    // Break the database under the running server.
    const db = new Database(join(server.dataDir, "slipway.db"));
    try {
      db.exec("ALTER TABLE runs RENAME TO runs_gone");
      const r = await api(server, "GET", "/api/v1/runs");
      expect(r.status).toBe(500);
      expect(r.body.error).toMatch(/^internal error \(id [0-9a-f]{12}\)$/);
      const errorId = /id ([0-9a-f]{12})/.exec(r.body.error)![1];
      await waitFor(
        "the detail in the server's log",
        () => server.stderr().includes(`error ${errorId}`),
        5000,
      );
      expect(server.stderr()).toMatch(new RegExp(`error ${errorId} on GET /api/v1/runs: .*no such table`));

      db.exec("ALTER TABLE repos RENAME TO repos_gone");
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toBe("database unavailable\n");
    } finally {
      db.exec("ALTER TABLE runs_gone RENAME TO runs");
      db.exec("ALTER TABLE repos_gone RENAME TO repos");
      db.close();
    }
    expect(await (await fetch(`${server.url}/readyz`)).text()).toBe("ready\n");
  });

  test("300 event streams: the first 256 are served, the rest get 503, and the server still answers", async ({
    h,
  }) => {
    const server = await h.startServer({ args: ["--local-runners", "1"] });
    const repo = makeRepo({
      ".github/workflows/slow.yml": `name: Slow
on: workflow_dispatch
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "slow started"
          sleep 120
`,
    });
    await addRepo(server, repo, name);
    const id = await dispatchRun(server, name, "slow.yml");
    await waitFor(
      "the step to start",
      async () => (await logText(server, id)).includes("slow started"),
      30_000,
    );
    const controllers: AbortController[] = [];
    // Each Response is held until the end: undici cancels the body of a Response that is garbage
    // collected, which would close its stream early and give its place to a later request.
    const held: Response[] = [];
    const open = () => {
      const c = new AbortController();
      controllers.push(c);
      return fetch(`${server.url}/api/v1/runs/${id}/events`, {
        headers: { authorization: `Bearer ${server.token}`, accept: "text/event-stream" },
        signal: c.signal,
      }).then((r) => {
        held.push(r);
        return r.status;
      });
    };
    try {
      const statuses = await Promise.all(Array.from({ length: 300 }, open));
      expect(statuses.filter((s) => s === 200)).toHaveLength(256);
      expect(statuses.filter((s) => s === 503)).toHaveLength(44);
      const started = Date.now();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await api(server, "GET", "/api/v1/runs")).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5000);
      // Closed streams give their places back.
      for (const c of controllers.splice(0)) c.abort();
      held.length = 0;
      await waitFor("a stream place to free up", async () => (await open()) === 200, 15_000, 200);
    } finally {
      for (const c of controllers) c.abort();
    }
  });

  test("the last admin token cannot be revoked (409); --reset-admin-token gets back in and revokes nothing", async ({
    h,
  }) => {
    const server = await h.startServer();
    const tokens = await api(server, "GET", "/api/v1/tokens");
    const admin = tokens.body.tokens.find((t: { role: string }) => t.role === "admin");
    const last = await h.cli(server, ["token", "revoke", String(admin.id), "--yes"]);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toMatch(/last active admin token/);
    const direct = await api(server, "DELETE", `/api/v1/tokens/${admin.id}`);
    expect(direct.status).toBe(409);
    expect((await api(server, "GET", "/api/v1/tokens")).status).toBe(200);
    const viewer = (await h.cliOk(server, ["token", "create", "watcher", "--role", "viewer", "--json"])).json;

    // The token is lost: the server is stopped and an operator with the data directory resets it.
    server.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
    const reset = await h.cliOk(null, ["serve", "--reset-admin-token", "--data-dir", server.dataDir]);
    const fresh = reset.stdout.trim();
    expect(fresh).toMatch(/^slw_/);
    const file = join(server.dataDir, "admin-token");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const restarted = await h.startServer({ dataDir: server.dataDir });
    expect(restarted.token).toBe(fresh);
    const list = await api(restarted, "GET", "/api/v1/tokens", undefined, fresh);
    expect(list.status).toBe(200);
    // Nothing else was revoked: the old admin and the viewer still work.
    expect(list.body.tokens.filter((t: { revokedAt: number | null }) => t.revokedAt !== null)).toEqual([]);
    expect((await api(restarted, "GET", "/api/v1/tokens", undefined, server.token)).status).toBe(200);
    expect((await api(restarted, "GET", "/api/v1/runs", undefined, viewer.token)).status).toBe(200);
    // With two admins, one can go.
    expect((await api(restarted, "DELETE", `/api/v1/tokens/${admin.id}`, undefined, fresh)).status).toBe(200);
  });

  test("token and runner names with control characters are refused with 400 and nothing is stored", async ({
    h,
  }) => {
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    for (const bad of ["evil\nname", "bell\u0007", "esc\u001b]0;pwned\u0007", "rtl\u202eevil"]) {
      const t = await api(server, "POST", "/api/v1/tokens", { name: bad, role: "viewer" });
      expect(t.status, JSON.stringify(bad)).toBe(400);
      expect(t.body.error).toMatch(/token name .* has control or unprintable characters/);
      const r = await api(server, "POST", "/api/v1/runners", { name: bad, labels: [] });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      const l = await api(server, "POST", "/api/v1/runners", { name: "fine", labels: ["ok", bad] });
      expect(l.status, JSON.stringify(bad)).toBe(400);
    }
    expect(
      (await api(server, "POST", "/api/v1/tokens", { name: "x".repeat(101), role: "viewer" })).status,
    ).toBe(400);
    const cli = await h.cli(server, ["token", "create", "two\nlines", "--role", "viewer"]);
    expect(cli.code).toBe(2);
    const tokens = (await api(server, "GET", "/api/v1/tokens")).body.tokens;
    expect(tokens.map((t: { name: string }) => t.name)).toEqual(["admin"]);
    expect((await api(server, "GET", "/api/v1/runners")).body.runners).toEqual([]);
  });

  test("a job's stored log stops at --max-job-log with one truncation marker", async ({ h }) => {
    const server = await h.startServer({ args: ["--max-job-log", "8192"] });
    const repo = makeRepo({
      ".github/workflows/loud.yml": `name: Loud
on: workflow_dispatch
jobs:
  loud:
    runs-on: ubuntu-latest
    steps:
      - run: |
          seq -f 'line %g 00000000000000000000000000000000000000000000000000000000000000000000000000' 1 2000
          echo "the very end"
`,
    });
    await addRepo(server, repo, name);
    const id = await dispatchRun(server, name, "loud.yml");
    const v = await waitForRun(server, id);
    expect(v.run.conclusion).toBe("success");
    const text = await logText(server, id);
    expect(text.split("this job's log reached its size limit (8192 bytes)")).toHaveLength(2);
    expect(Buffer.byteLength(text)).toBeLessThan(8192 + 200);
    expect(text).not.toContain("the very end");
    expect(text).toContain("line 1 ");
  });

  test("a server that accepts and never answers is a CLI error naming the URL, not a hang", async ({ h }) => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const started = Date.now();
      const r = await h.cli({ url, token: "slw_x" }, ["runs", "list"], {
        env: { SLIPWAY_HTTP_TIMEOUT_MS: "1000" },
        timeoutMs: 30_000,
      });
      expect(r.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.stderr).toContain(`no answer from ${url}/api/v1/runs within 1000 ms`);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
    await sleep(0);
  });
});
