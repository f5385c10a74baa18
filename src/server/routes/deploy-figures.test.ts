// GET /api/v1/deploy/:app/:env/figures on a real store (SQLite and PostgreSQL) with a real deploy agent
// on its Unix socket, a real process instance behind the agent's router and real requests through it:
// the viewer reads per-version series of what the router counted; no token, no figures; an app never
// deployed is 404 and starts no agent; with no agent running the answer says so and starts none.
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../../test/support/store.js";
import { freePort } from "../../../test/support/ports.js";
import { CiService } from "../../ci/index.js";
import { parseConfig } from "../../config/index.js";
import { type Agent, agentPaths, resolveDeploySpec, startAgent } from "../../deploy/index.js";
import { createApp } from "../app.js";
import { createMetrics } from "../metrics.js";

const appJs = join(import.meta.dirname, "../../../test/e2e/deploy/app/server.mjs");

const yaml = (port: number) => `deploy:
  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 1
      publish: ${port}
      health:
        http: /healthz
        interval: 100ms
        deadline: 10s
      drain_timeout: 1s
`;

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

type Figures = {
  app: string;
  agent: boolean;
  intervalMs: number;
  services: { service: string; t: number[]; versions: Record<string, { rps: (number | null)[] }> }[];
};

describe.each(await testBackends())("deploy figures route (%s)", (backend) => {
  const db = useStore(backend);
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.close({ stopInstances: true });
  });

  const appOf = () => {
    const ci = new CiService({ store: db.store, dataDir: db.database.dataDir });
    return createApp({ ci, metrics: createMetrics(ci), isReady: () => true, log: () => {} });
  };
  const call = async (app: ReturnType<typeof appOf>, path: string, token: string | null) => {
    const res = await app.request(path, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: res.status, body: (await res.json()) as Figures & { error?: string } };
  };

  it("serves the router's per-version figures to a viewer, and nothing without a token", async () => {
    const app = appOf();
    const viewer = (await db.store.tokens.create("watcher", "viewer")).token;
    const dataDir = db.database.dataDir;
    const paths = agentPaths(dataDir, "shop", "production");

    // Never deployed: not found, and no agent is started for it.
    const unknown = await call(app, "/api/v1/deploy/shop/production/figures", viewer);
    expect(unknown.status).toBe(404);
    expect(existsSync(paths.socketPath)).toBe(false);
    // Bad names are refused before anything.
    expect(
      (await call(app, `/api/v1/deploy/${encodeURIComponent("<img>")}/production/figures`, viewer)).status,
    ).toBe(400);

    const dir = join(dataDir, "checkout");
    mkdirSync(join(dir, "app"), { recursive: true });
    copyFileSync(appJs, join(dir, "app", "server.mjs"));
    const port = await freePort();
    const section = parseConfig(yaml(port), "slipway.yaml").config.deploy!;
    const spec = resolveDeploySpec(section, { env: "production", configDir: dir, defaultApp: "shop" });
    agent = await startAgent({
      app: "shop",
      env: "production",
      paths,
      store: db.store,
      figuresIntervalMs: 200,
    });
    const release = await agent.deployer.deploy({
      spec,
      version: "v1.0.0",
      trigger: "test",
      actor: "tester",
    });
    expect(release.status).toBe("succeeded");

    for (let i = 0; i < 20; i++) expect(await get(`http://127.0.0.1:${port}/`)).toBe(200);
    // Two samples later the requests are in the window.
    await new Promise((r) => setTimeout(r, 600));

    expect((await call(app, "/api/v1/deploy/shop/production/figures", null)).status).toBe(401);
    expect((await call(app, "/api/v1/deploy/shop/production/figures", "not-a-token")).status).toBe(401);
    const seen = await call(app, "/api/v1/deploy/shop/production/figures", viewer);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ app: "shop", env: "production", agent: true, intervalMs: 200 });
    const api = seen.body.services.find((s) => s.service === "api");
    expect(api, JSON.stringify(seen.body)).toBeDefined();
    const r1 = api!.versions.r1;
    expect(r1, "the release's revision has a series").toBeDefined();
    expect(r1.rps).toHaveLength(api!.t.length);
    // Every request is counted once, in some sample: the rates times the intervals add up to 20.
    let counted = 0;
    for (let i = 0; i < api!.t.length; i++) {
      const dt = i === 0 ? 200 : api!.t[i] - api!.t[i - 1];
      counted += ((r1.rps[i] ?? 0) * dt) / 1000;
    }
    expect(Math.round(counted)).toBeGreaterThanOrEqual(19);
    expect(Math.round(counted)).toBeLessThanOrEqual(21);

    // The agent stopped: the answer says no agent runs, and asking starts none.
    await agent.close({ stopInstances: true });
    agent = undefined;
    const none = await call(app, "/api/v1/deploy/shop/production/figures", viewer);
    expect(none).toEqual({
      status: 200,
      body: { app: "shop", env: "production", agent: false, services: [] },
    });
    expect(existsSync(paths.socketPath)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not keep an idle agent alive by being polled", async () => {
    const app = appOf();
    const viewer = (await db.store.tokens.create("poller", "viewer")).token;
    await db.store.deployApps.claim({ app: "idle", env: "staging", repo: "acme/idle", actor: "t" });
    const paths = agentPaths(db.database.dataDir, "idle", "staging");
    const idle = await startAgent({
      app: "idle",
      env: "staging",
      paths,
      store: db.store,
      idleTimeoutMs: 400,
    });
    let exited = false;
    void idle.closed.then(() => {
      exited = true;
    });
    const started = Date.now();
    let answered = 0;
    while (!exited && Date.now() - started < 5000) {
      const r = await call(app, "/api/v1/deploy/idle/staging/figures", viewer);
      expect(r.status).toBe(200);
      if (r.body.agent) answered++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(answered, "the agent answered while it ran").toBeGreaterThan(0);
    expect(exited, "the agent stopped after its idle timeout although polled").toBe(true);
    await idle.close();
  });
});
