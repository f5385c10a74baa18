// `slipway secret set|list|rm` against a running server, as a user runs them: the value from stdin (never
// argv) arrives byte for byte and reaches a run's `secrets` context; list shows names, scope, when and
// who — never a value, in the table or in JSON; rm; tokens without the admin role, unknown tokens and
// no token are refused and change nothing; `slipway login` points the commands at the server.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  binPath,
  type CliResult,
  cleanupAfterAll,
  dispatchRun,
  type Harness,
  logText,
  makeRepo,
  rootDir,
  type Server,
  test,
  waitForRun,
} from "./helpers.js";

cleanupAfterAll();

/** `slipway ARGS` with `input` on stdin (the harness's cli() gives its commands no stdin). */
function cliWithStdin(
  h: Harness,
  server: Server,
  args: string[],
  input: string | Buffer,
  opts: { token?: string | null } = {},
): Promise<CliResult> {
  const token = opts.token === undefined ? server.token : opts.token;
  const env = h.env({ SLIPWAY_SERVER: server.url, ...(token ? { SLIPWAY_TOKEN: token } : {}) });
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: rootDir,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const pem = "-----BEGIN KEY-----\nline one\nline two\n-----END KEY-----\n";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const readSecret = `name: Read
on: workflow_dispatch
jobs:
  read:
    runs-on: ubuntu-latest
    steps:
      - env:
          KEY: \${{ secrets.DEPLOY_KEY }}
        run: printf %s "$KEY" | sha256sum
`;

describe("slipway secret against a server", { concurrent: true }, () => {
  test("set from stdin, list without values, rm; the value reaches a run byte for byte", async ({ h }) => {
    const server = await h.startServer();
    const repo = makeRepo({ "README.md": "x\n", ".github/workflows/read.yml": readSecret });
    await addRepo(server, repo, "acme/app");

    const set = await cliWithStdin(h, server, ["secret", "set", "DEPLOY_KEY", "--repo", "acme/app"], pem);
    expect(set).toMatchObject({ code: 0, stdout: "" });
    expect(set.stderr).toBe(
      `created secret DEPLOY_KEY (repo acme/app, ${pem.length} bytes) on ${server.url}\n`,
    );
    const global = await cliWithStdin(
      h,
      server,
      ["secret", "set", "SHARED", "--json", "--server", server.url, "--token", server.token],
      "shared-value",
      { token: null },
    );
    expect(global.code).toBe(0);
    expect(JSON.parse(global.stdout)).toEqual({
      name: "SHARED",
      repo: null,
      env: null,
      scope: "global",
      created: true,
    });

    const list = await h.cliOk(server, ["secret", "list", "--json"]);
    expect(list.json).toEqual([
      expect.objectContaining({
        name: "SHARED",
        scope: "global",
        updatedBy: "admin",
        updatedAt: expect.any(Number),
      }),
      expect.objectContaining({
        name: "DEPLOY_KEY",
        scope: "repo acme/app",
        repo: "acme/app",
        updatedBy: "admin",
      }),
    ]);
    const table = await h.cliOk(server, ["secret", "list"]);
    expect(table.stdout).toMatch(/^NAME +SCOPE +UPDATED +BY\n/);
    expect(table.stdout).toMatch(/DEPLOY_KEY +repo acme\/app +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +admin\n/);
    for (const out of [list.stdout, table.stdout, list.stderr, table.stderr, set.stderr]) {
      expect(out).not.toContain("BEGIN KEY");
      expect(out).not.toContain("shared-value");
    }

    const run = await dispatchRun(server, "acme/app", "read.yml");
    expect((await waitForRun(server, run)).run.conclusion).toBe("success");
    expect(await logText(server, run)).toContain(sha256(pem));

    const rm = await h.cliOk(server, ["secret", "rm", "DEPLOY_KEY", "--repo", "acme/app", "--yes"]);
    expect(rm.stderr).toBe(`removed secret DEPLOY_KEY (repo acme/app) on ${server.url}\n`);
    const again = await h.cli(server, ["secret", "rm", "DEPLOY_KEY", "--repo", "acme/app", "--yes"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe("slipway: no secret DEPLOY_KEY in that scope\n");
    expect((await h.cliOk(server, ["secret", "list", "--json"])).json.map((s: any) => s.name)).toEqual([
      "SHARED",
    ]);
    const audit = await h.cliOk(server, ["secret", "audit", "--json"]);
    expect(audit.json.map((e: any) => [e.action, e.subject, e.actor])).toEqual([
      ["secret.remove", "DEPLOY_KEY", "admin"],
      ["secret.set", "SHARED", "admin"],
      ["secret.set", "DEPLOY_KEY", "admin"],
    ]);
  });

  test("refuses a value in argv, tokens without the admin role, unknown tokens and no token", async ({
    h,
  }) => {
    const server = await h.startServer();
    const argv = await cliWithStdin(h, server, ["secret", "set", "TOKEN", "in-argv"], "");
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/too many arguments/);

    const dev = await api<{ token: string }>(server, "POST", "/api/v1/tokens", {
      name: "dev",
      role: "developer",
    });
    const asDev = await cliWithStdin(h, server, ["secret", "set", "TOKEN"], "v", { token: dev.body.token });
    expect(asDev.code).toBe(1);
    expect(asDev.stderr).toBe(
      "slipway: POST /api/v1/secrets: this needs the admin role; the token has developer\n",
    );
    const bogus = await cliWithStdin(h, server, ["secret", "set", "TOKEN"], "v", {
      token: "slw_not-a-token",
    });
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toMatch(/a valid API token is required/);
    const none = await h.cli(server, ["secret", "list"], { token: null });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/a valid API token is required/);
    const viewer = await api<{ token: string }>(server, "POST", "/api/v1/tokens", {
      name: "v",
      role: "viewer",
    });
    const rmAsViewer = await h.cli(server, ["secret", "rm", "TOKEN", "--yes"], { token: viewer.body.token });
    expect(rmAsViewer.code).toBe(1);
    // Developers may read names (to know what a workflow can use), never values.
    expect((await h.cliOk(server, ["secret", "list", "--json"], { token: dev.body.token })).json).toEqual([]);
    const bad = await cliWithStdin(h, server, ["secret", "set", "bad-name"], "v");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid secret: name|invalid secret name 'bad-name'/);
    expect((await api(server, "GET", "/api/v1/secrets")).body).toEqual({ secrets: [] });
  });

  test("`slipway login` points secret commands at the server", async ({ h }) => {
    const server = await h.startServer();
    await h.cliOk(null, ["login", "--server", server.url, "--token", server.token]);
    const set = await cliWithStdin(h, server, ["secret", "set", "FROM_LOGIN"], "value", { token: null });
    // cliWithStdin sets SLIPWAY_SERVER; without a token the login's token is the one used.
    expect(set.code).toBe(0);
    const list = await h.cliOk(null, ["secret", "list", "--json"]);
    expect(list.json.map((s: any) => s.name)).toEqual(["FROM_LOGIN"]);
  });
});
