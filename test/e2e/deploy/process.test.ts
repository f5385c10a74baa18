// slipway deploy with the process runtime, end to end: the real CLI, its agent, real processes behind
// slipway's router, under load; every strategy, the failure and rollback paths, re-adoption after the
// agent dies, the lock, hooks, secrets, volumes and depends_on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir, sleep, startLoad } from "./helpers.js";

type Svc = Record<string, unknown>;

function spec(port: number, api: Svc = {}, extra: Record<string, Svc> = {}) {
  return {
    app: "shop",
    services: {
      api: {
        command: "node server.mjs",
        cwd: "./app",
        replicas: 2,
        publish: port,
        env: { APP_VERSION: "v1" },
        health: { http: "/healthz", interval: "100ms", deadline: "10s" },
        drain_timeout: "5s",
        ...api,
      },
      ...extra,
    },
  };
}

function json(stdout: string) {
  return JSON.parse(stdout) as Record<string, any>;
}

describe("slipway deploy (process runtime)", () => {
  let app: AppDir;
  let port: number;
  let url: string;

  beforeAll(async () => {
    app = makeAppDir("proc");
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("deploys v1: two instances behind the router, recorded as release #1", async () => {
    app.writeSpec(spec(port));
    const r = await app.cli(["deploy", "--json", "--version", "v1.0.0"]);
    expect(r.code, r.stderr).toBe(0);
    const release = json(r.stdout);
    expect(release).toMatchObject({
      number: 1,
      status: "succeeded",
      version: "v1.0.0",
      revisions: { api: "r1" },
    });
    const res = await get(url);
    expect(res.body).toMatch(/^v1 api-r1-/);
    const status = json((await app.cli(["status", "--json"])).stdout);
    const api = status.services.find((s: { name: string }) => s.name === "api");
    expect(api.instances.filter((i: { state: string }) => i.state === "ready")).toHaveLength(2);
    expect(api.router.weights).toEqual({ r1: 100 });
  });

  it("rolls v2 out under load with no failed request", async () => {
    app.writeSpec(
      spec(port, {
        env: { APP_VERSION: "v2" },
        strategy: { type: "rolling", max_surge: 1, max_unavailable: 0 },
      }),
    );
    const load = startLoad(url, { concurrency: 6 });
    await sleep(300);
    const r = await app.cli(["deploy", "--json"]);
    await sleep(300);
    const result = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect(result.versions.v1).toBeGreaterThan(0);
    expect(result.versions.v2).toBeGreaterThan(0);
    expect((await get(url)).body).toMatch(/^v2 /);
    const release = json(r.stdout);
    expect(release.impact.services.api.r1.failed + (release.impact.services.api.r2?.failed ?? 0)).toBe(0);
  });

  it("an unchanged spec changes nothing", async () => {
    const r = await app.cli(["deploy", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout)).toMatchObject({ status: "succeeded", changed: [], revisions: { api: "r2" } });
  });

  it("blue-green switches at once and keeps the old set for a rollback", async () => {
    app.writeSpec(
      spec(port, { env: { APP_VERSION: "v3" }, strategy: { type: "blue-green", keep_old: "1m" } }),
    );
    const load = startLoad(url, { concurrency: 6 });
    const r = await app.cli(["deploy", "--json"]);
    const result = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(result.failed, result.errors.join("\n")).toBe(0);
    const status = json((await app.cli(["status", "--json"])).stdout);
    const api = status.services[0];
    expect(api.router.weights).toMatchObject({ r4: 100 });
    expect(api.instances.filter((i: { state: string }) => i.state === "kept")).toHaveLength(2);
    // The rollback is one swap back to the kept instances.
    const back = await app.cli(["rollback", "--json"]);
    expect(back.code, back.stderr).toBe(0);
    // The newest earlier release with another spec is #3 (#2's spec, deployed again unchanged).
    expect(json(back.stdout)).toMatchObject({
      kind: "rollback",
      rollbackOf: 3,
      status: "succeeded",
      revisions: { api: "r2" },
    });
    expect(back.stderr).toMatch(/switched back to the kept instances of r2/);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("a version that never gets healthy is rolled back; the old one keeps serving", async () => {
    app.writeSpec(
      spec(port, {
        env: { APP_VERSION: "v4", FAIL_HEALTH: "1" },
        health: { http: "/healthz", interval: "100ms", deadline: "2s" },
      }),
    );
    const load = startLoad(url, { concurrency: 4 });
    const r = await app.cli(["deploy", "--json"]);
    const result = await load.stop();
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release.status).toBe("failed");
    expect(release.phase).toBe("rolled back");
    expect(release.error).toMatch(/did not become ready/);
    expect(release.error).toMatch(/503/);
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect(result.versions.v4 ?? 0).toBe(0);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("canary: header rule, pause until promote, then everything", async () => {
    app.writeSpec(
      spec(port, {
        env: { APP_VERSION: "v5" },
        strategy: {
          type: "canary",
          steps: [{ set_weight: 25 }, { pause: {} }, { set_weight: 50 }, { pause: "200ms" }],
          match: { header: "X-Canary", value: "always" },
          analysis: { interval: "100ms", max_error_rate: 0.05, min_requests: 5 },
        },
      }),
    );
    const child = app.spawnCli(["deploy"]);
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    const done = new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
    for (let i = 0; i < 200 && !stderr.includes("paused until"); i++) await sleep(50);
    expect(stderr).toMatch(/paused until/);
    expect((await get(url, { "X-Canary": "always" })).body).toMatch(/^v5 /);
    const load = startLoad(url, { concurrency: 4 });
    await sleep(500);
    const seen = { ...load.result.versions };
    expect(seen.v5).toBeGreaterThan(0);
    expect(seen.v2).toBeGreaterThan(seen.v5);
    const p = await app.cli(["promote"]);
    expect(p.code, p.stderr).toBe(0);
    expect(await done, stderr).toBe(0);
    const result = await load.stop();
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect((await get(url)).body).toMatch(/^v5 /);
  });

  it("a second deploy while one runs is refused and names the holder", async () => {
    app.writeSpec(spec(port, { env: { APP_VERSION: "v6", READY_AFTER_MS: "1500" } }));
    const first = app.cli(["deploy"]);
    await sleep(700);
    const second = await app.cli(["deploy"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/in progress \(release #\d+/);
    expect((await first).code).toBe(0);
  });

  it("recreate says it stops first", async () => {
    app.writeSpec(spec(port, { env: { APP_VERSION: "v7" }, strategy: "recreate" }));
    const r = await app.cli(["deploy"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/recreate stops all 2 instance\(s\) of r\d+ first/);
    expect((await get(url)).body).toMatch(/^v7 /);
  });

  it("a crashed instance is replaced", async () => {
    const before = json((await app.cli(["status", "--json"])).stdout).services[0].instances.map(
      (i: { id: string }) => i.id,
    );
    await get(`${url}crash`).catch(() => {});
    let after: string[] = before;
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      const s = json((await app.cli(["status", "--json"])).stdout).services[0];
      after = s.instances
        .filter((x: { state: string }) => x.state === "ready")
        .map((x: { id: string }) => x.id);
      if (after.length === 2 && after.some((id) => !before.includes(id))) break;
    }
    expect(after).toHaveLength(2);
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1);
  });

  it("the agent killed with -9: instances keep running, `slipway up` re-adopts them", async () => {
    const status = json((await app.cli(["status", "--json"])).stdout);
    const ids = status.services[0].instances.map((i: { id: string }) => i.id).sort();
    process.kill(status.agent.pid, "SIGKILL");
    await sleep(200);
    const up = await app.cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const again = json(up.stdout);
    expect(again.agent.converged.adopted).toBe(2);
    expect(again.services[0].instances.map((i: { id: string }) => i.id).sort()).toEqual(ids);
    expect((await get(url)).body).toMatch(/^v7 /);
  });

  it("a deploy interrupted by killing the agent is rolled back on restart and says so", async () => {
    app.writeSpec(
      spec(port, {
        env: { APP_VERSION: "v8", READY_AFTER_MS: "60000" },
        health: { http: "/healthz", interval: "100ms", deadline: "2m" },
      }),
    );
    const child = app.spawnCli(["deploy"]);
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    for (let i = 0; i < 100 && !stderr.includes("started on"); i++) await sleep(50);
    const pid = json((await app.cli(["status", "--json"])).stdout).agent.pid;
    process.kill(pid, "SIGKILL");
    await new Promise((r) => child.on("close", r));
    const up = await app.cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(json(up.stdout).agent.converged.interrupted).toHaveLength(1);
    expect((await get(url)).body).toMatch(/^v7 /);
    const releases = json((await app.cli(["releases", "--json"])).stdout);
    expect(releases[0]).toMatchObject({ status: "failed", phase: "rolled back on restart" });
    expect(releases[0].error).toMatch(/interrupted/);
    // Only v7's two instances run: the half-started v8 instance was stopped.
    const s = json((await app.cli(["status", "--json"])).stdout).services[0];
    expect(s.instances).toHaveLength(2);
  });

  it("releases lists the history; releases show has the events", async () => {
    const list = json((await app.cli(["releases", "--json"])).stdout) as unknown as {
      number: number;
      status: string;
    }[];
    expect(list.length).toBeGreaterThanOrEqual(8);
    const shown = await app.cli(["releases", "show", "2", "--json"]);
    const r2 = json(shown.stdout);
    expect(r2.events.map((e: { type: string }) => e.type)).toContain("deploy.succeeded");
  });
});
