// How the API answers failures: an unexpected error is "internal error (id …)" with the detail only in
// the server's log; an operation's own message is kept, without the server's local paths.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CiService } from "../ci/index.js";
import { openStore, type Store } from "../store/index.js";
import { createApp, withoutLocalPaths } from "./app.js";
import { createMetrics } from "./metrics.js";

describe("error answers", () => {
  let dir: string;
  let store: Store;
  let app: ReturnType<typeof createApp>;
  let token: string;
  const logged: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-errors-"));
    store = await openStore({ dataDir: dir });
    const ci = new CiService({ store, dataDir: dir });
    app = createApp({ ci, metrics: createMetrics(ci), isReady: () => true, log: (l) => logged.push(l) });
    token = (await store.tokens.create("admin", "admin")).token;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as { error: string } };
  };

  it("names the data, temporary and home directories instead of spelling them out", () => {
    expect(withoutLocalPaths(`git fetch failed: '${dir}/mirrors/1.git' is not a repository`, dir)).toBe(
      "git fetch failed: '<data-dir>/mirrors/1.git' is not a repository",
    );
    expect(withoutLocalPaths(`cannot read ${tmpdir()}/slipway-leg-x/ci.yml`, "/srv/slipway")).toBe(
      "cannot read <tmp>/slipway-leg-x/ci.yml",
    );
  });

  it("keeps an operation's message without the server's paths", async () => {
    const src = join(dir, "src");
    const git = (...args: string[]) => execFileSync("git", args, { cwd: src, stdio: "ignore" });
    mkdirSync(join(src, ".github", "workflows"), { recursive: true });
    writeFileSync(join(src, ".github", "workflows", "ci.yml"), "on: workflow_dispatch\njobs: {}\n");
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init");
    const added = await call("POST", "/api/v1/repos", { url: src, name: "acme/app" });
    expect(added.status).toBe(201);
    // The server's mirror is damaged: fetching it fails with git's own message.
    writeFileSync(join(dir, "mirrors", "1.git", "HEAD"), "garbage");
    const r = await call("POST", "/api/v1/repos/acme/app/dispatch", { workflow: "ci.yml" });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/^git .*not a git repository.* \(error id [0-9a-f]{12}\)$/s);
    expect(r.body.error).not.toContain(dir);
  });

  it("answers an unexpected error with an id only, and logs the detail under that id", async () => {
    await store.close();
    const r = await call("GET", "/api/v1/repos");
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/^internal error \(id [0-9a-f]{12}\)$/);
    const id = /id ([0-9a-f]{12})/.exec(r.body.error)![1];
    expect(logged.some((l) => l.startsWith(`error ${id} on GET /api/v1/repos: `))).toBe(true);
  });
});
