// Deploys through `slipway serve`, as a user drives them: a registered git repository whose slipway.yaml
// has a process-runtime service; deploys through the REST API (NDJSON stream) and `slipway deploy
// --server`, run by the server's deploy agent from a checkout of the commit; the service answers on its
// published port; `releases`, `status`, `promote` and `rollback --server`; a rollback to a commit whose
// checkout is gone extracts it again; bad slipway.yaml → 400 with file:line:col; unknown repository
// 404; unknown ref 400; a viewer token is refused; and the same on PostgreSQL (the agent opens the
// server's database).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { agentPaths } from "../../../src/deploy/index.js";
import { addSampleApp, deployApi, shutdownAgent, slipwayYaml } from "./deploy-fixture.js";
import { api, cleanupAfterAll, createDatabase, type GitRepo, type Server, test, waitFor } from "./helpers.js";

cleanupAfterAll();

async function token(server: Server, name: string, role: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name, role });
  expect(r.status).toBe(201);
  return r.body.token;
}

async function get(url: string): Promise<string> {
  return (await fetch(url)).text();
}

function commitV(repo: GitRepo, port: number, version: string, strategy = "") {
  return repo.commit({ "slipway.yaml": slipwayYaml(port, version, strategy) }, `release ${version}`);
}

describe("deploys through the server", { concurrent: true }, () => {
  test("API and CLI deploys, releases, status, promote, rollback and bad input", async ({ h }) => {
    const server = await h.startServer();
    const { repo, port } = await addSampleApp(server, "acme/shop");
    const url = `http://127.0.0.1:${port}/`;
    const sha1 = repo.head();
    const deployer = await token(server, "ci-bot", "deployer");
    const viewer = await token(server, "watcher", "viewer");
    const checkouts = join(server.dataDir, "deploy-checkouts", "acme", "shop");
    try {
      // 1. Through the API: the stream names the commit, reports progress, ends with the release.
      const first = await deployApi(server, deployer, "acme/shop", { version: "v1.0.0" });
      expect(first.status, JSON.stringify(first.error)).toBe(200);
      expect(first.lines[0]).toEqual({
        deploy: { repo: "acme/shop", ref: "refs/heads/main", sha: sha1, app: "shop", env: "production" },
      });
      expect(first.lines.some((l) => l.event?.message)).toBe(true);
      const last = first.lines.at(-1)!;
      expect(last.error, JSON.stringify(last.error)).toBeUndefined();
      expect(last.release).toMatchObject({
        number: 1,
        app: "shop",
        env: "production",
        status: "succeeded",
        version: "v1.0.0",
        trigger: "server",
        actor: "ci-bot",
      });
      expect(last.release.spec.spec.services[0].cwd).toBe(join(checkouts, sha1, "app"));
      expect(await get(url)).toMatch(/^v1 /);

      // 2. `slipway releases --server` (SLIPWAY_SERVER, a viewer token) lists it.
      const listed = await h.cliOk(server, ["releases", "--server", "--app", "shop", "--json"], {
        token: viewer,
      });
      expect(listed.json).toMatchObject([
        { number: 1, status: "succeeded", version: "v1.0.0", trigger: "server" },
      ]);

      // 3. A new commit, deployed with `slipway deploy --server URL`, rolls out.
      const sha2 = commitV(repo, port, "v2");
      const second = await h.cli(
        null,
        ["deploy", "--server", server.url, "--repo", "acme/shop", "--version", "v2.0.0", "--json"],
        { token: null, env: { SLIPWAY_TOKEN: deployer } },
      );
      expect(second.code, second.stderr).toBe(0);
      expect(second.json).toMatchObject({
        number: 2,
        status: "succeeded",
        version: "v2.0.0",
        revisions: { api: "r2" },
      });
      expect(second.stderr).toContain(
        `deploying acme/shop@${sha2.slice(0, 7)} (refs/heads/main) to shop/production`,
      );
      expect(await get(url)).toMatch(/^v2 /);
      // Release #1's checkout stays (a rollback goes back to it); #2 runs from its own.
      expect(existsSync(join(checkouts, sha1, "app", "server.mjs"))).toBe(true);
      expect(existsSync(join(checkouts, sha2, "slipway.yaml"))).toBe(true);

      const status = await h.cliOk(server, ["status", "--server", "--app", "shop", "--json"], {
        token: viewer,
      });
      expect(status.json.services[0]).toMatchObject({ name: "api", router: { weights: { r2: 100 } } });
      const show = await h.cliOk(server, ["releases", "show", "2", "--server", "--app", "shop", "--json"], {
        token: viewer,
      });
      expect(show.json).toMatchObject({ number: 2, actor: "ci-bot" });
      expect(show.json.events.length).toBeGreaterThan(0);

      // 4. A paused canary, promoted through the server while the deploy streams.
      commitV(
        repo,
        port,
        "v3",
        "      strategy:\n        type: canary\n        steps: [{ set_weight: 50 }, { pause: {} }]\n",
      );
      const canary = deployApi(server, deployer, "acme/shop", {});
      // (The release stays "running" while it holds: the agent's status shows the pause.)
      const paused = await waitFor("the canary to pause", async () => {
        const s = await api(server, "GET", "/api/v1/deploy/shop/production/status", undefined, viewer);
        return s.body.active?.number === 3 && s.body.services[0].router.weights.r3 === 50 ? s : undefined;
      });
      expect(paused.body).toMatchObject({ active: { number: 3, actor: "ci-bot" } });
      expect(paused.body.services[0].router.weights).toEqual({ r2: 50, r3: 50 });
      expect(
        (await api(server, "POST", "/api/v1/deploy/shop/production/promote", undefined, viewer)).status,
      ).toBe(403);
      const promoted = await h.cli(server, ["promote", "--server", "--app", "shop", "--json"], {
        token: deployer,
      });
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(promoted.json).toEqual({ release: 3 });
      const third = await canary;
      expect(third.lines.at(-1)?.release).toMatchObject({ number: 3, status: "succeeded" });
      expect(await get(url)).toMatch(/^v3 /);

      // 5. Rollback to #1 after its checkout was removed: the server extracts it again.
      rmSync(join(checkouts, sha1), { recursive: true, force: true });
      const back = await h.cli(server, ["rollback", "--server", "--app", "shop", "--to", "1", "--json"], {
        token: deployer,
      });
      expect(back.code, back.stderr).toBe(0);
      expect(back.json).toMatchObject({ number: 4, kind: "rollback", rollbackOf: 1, status: "succeeded" });
      expect(await get(url)).toMatch(/^v1 /);
      expect(existsSync(join(checkouts, sha1, "app", "server.mjs"))).toBe(true);

      // 6. Bad input, refused before anything runs.
      const bad = repo.commit(
        { "slipway.yaml": slipwayYaml(port, "v9").replace("replicas: 1", "replicas: many") },
        "broken",
      );
      const r400 = await deployApi(server, deployer, "acme/shop", { ref: bad });
      expect(r400.status).toBe(400);
      expect(r400.error?.problems).toEqual([
        expect.objectContaining({ file: "slipway.yaml", line: 6, col: 17, message: expect.any(String) }),
      ]);
      const cliBad = await h.cli(server, ["deploy", "--server", "--repo", "acme/shop", "--ref", bad], {
        token: deployer,
      });
      expect(cliBad.code).toBe(2);
      expect(cliBad.stderr).toMatch(/^slipway\.yaml:6:17: /m);
      expect(cliBad.stderr).not.toMatch(/\n\s+at /);

      const noDeploy = repo.commit({ "slipway.yaml": "notify: {}\n" }, "no deploy section");
      const r400b = await deployApi(server, deployer, "acme/shop", { ref: noDeploy });
      expect(r400b.status).toBe(400);
      expect(r400b.error?.error).toMatch(/no deploy: section/);
      const unknownRef = await deployApi(server, deployer, "acme/shop", { ref: "no-such-branch" });
      expect(unknownRef.status).toBe(400);
      expect(unknownRef.error?.error).toMatch(/no branch, tag or commit 'no-such-branch' in acme\/shop/);
      const badBody = await deployApi(server, deployer, "acme/shop", { strategy: "yolo", replicas: 3 });
      expect(badBody.status).toBe(400);
      expect((await deployApi(server, deployer, "acme/nope", {})).status).toBe(404);
      const refused = await deployApi(server, viewer, "acme/shop", {});
      expect(refused.status).toBe(403);
      expect(refused.error?.error).toMatch(/deployer/);
      expect((await deployApi(server, null, "acme/shop", {})).status).toBe(401);
      const cliRefused = await h.cli(server, ["deploy", "--server", "--repo", "acme/shop"], {
        token: viewer,
      });
      expect(cliRefused.code).toBe(1);
      expect(cliRefused.stderr).toMatch(/deployer role/);

      // None of that made a release; the service still answers v1.
      const all = await api(server, "GET", "/api/v1/releases?app=shop&env=production", undefined, viewer);
      expect(all.body.releases.map((r: { number: number }) => r.number)).toEqual([4, 3, 2, 1]);
      expect(all.body.releases[0].spec.notify).toBeUndefined();
      expect(await get(url)).toMatch(/^v1 /);
      const one = await api(server, "GET", "/api/v1/releases/shop/production/9", undefined, viewer);
      expect(one.status).toBe(404);
      expect(
        (await api(server, "GET", "/api/v1/deploy/..%2Fx/production/status", undefined, viewer)).status,
      ).toBe(400);
    } finally {
      await shutdownAgent(server, "shop");
    }
    // With the agent gone, status says so and names the current release.
    const after = await api(server, "GET", "/api/v1/deploy/shop/production/status", undefined, viewer);
    expect(after.body, JSON.stringify(after.body)).toMatchObject({ agent: null, current: { number: 4 } });
  }, 180_000);

  test("on PostgreSQL the agent records into the server's database", async ({ h }) => {
    const server = await h.startServer({ database: await createDatabase() });
    const { port } = await addSampleApp(server, "pgshop");
    try {
      const r = await h.cli(server, ["deploy", "--server", "--repo", "pgshop", "--env", "staging"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^#1 succeeded/);
      expect(r.stdout).toContain(`api: http://127.0.0.1:${port}`);
      expect(await get(`http://127.0.0.1:${port}/`)).toMatch(/^v1 /);
      const listed = await h.cliOk(server, ["releases", "--server", "--app", "pgshop", "--env", "staging"]);
      expect(listed.stdout).toMatch(/^#1 succeeded/);
      // The agent got the URL in its environment, not in its argv.
      const pid = Number(readFileSync(agentPaths(server.dataDir, "pgshop", "staging").pidFile, "utf8"));
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain("postgres://");
    } finally {
      await shutdownAgent(server, "pgshop", "staging");
    }
  }, 120_000);
});
