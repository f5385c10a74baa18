// Canary analysis from the router's own figures, and `slipway abort`, end to end (process runtime).
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir, sleep, startLoad } from "./helpers.js";

const json = (s: string) => JSON.parse(s) as Record<string, any>;

describe("slipway deploy: canary analysis and abort", () => {
  let app: AppDir;
  let port: number;
  let url: string;
  const spec = (env: Record<string, string>, strategy?: unknown) => ({
    app: "canary",
    services: {
      api: {
        command: "node server.mjs",
        cwd: "./app",
        replicas: 2,
        publish: port,
        env,
        health: { http: "/healthz", interval: "100ms", deadline: "10s" },
        ...(strategy ? { strategy } : {}),
      },
    },
  });

  beforeAll(async () => {
    app = makeAppDir("canary");
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    app.writeSpec(spec({ APP_VERSION: "v1" }));
    const r = await app.cli(["deploy"]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("a canary whose error rate exceeds the threshold is aborted by the analysis and rolled back", async () => {
    app.writeSpec(
      spec(
        { APP_VERSION: "v2", ERROR_RATE: "0.5" },
        {
          type: "canary",
          steps: [{ set_weight: 50 }, { pause: "20s" }],
          analysis: { interval: "200ms", max_error_rate: 0.1, min_requests: 20 },
        },
      ),
    );
    const load = startLoad(url, { concurrency: 4 });
    const started = Date.now();
    const r = await app.cli(["deploy", "--json"]);
    const took = Date.now() - started;
    await sleep(300);
    const seenBefore = { ...load.result.versions };
    const after = await load.stop();
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release).toMatchObject({ status: "failed", phase: "rolled back" });
    expect(release.error).toMatch(/error rate \d+\.\d+% over \d+ requests exceeds 10\.00%/);
    // The analysis stopped it well before the 20 s pause ended.
    expect(took).toBeLessThan(15_000);
    expect(seenBefore.v2).toBeGreaterThan(0);
    // The router's figures for the canary are in the record.
    expect(release.impact.services.api.r2.errors5xx).toBeGreaterThan(0);
    expect((await get(url)).body).toMatch(/^v1 /);
    expect(after.ok).toBeGreaterThan(0);
  });

  it("slipway abort stops a paused canary; the release is recorded as aborted", async () => {
    app.writeSpec(
      spec({ APP_VERSION: "v3" }, { type: "canary", steps: [{ set_weight: 20 }, { pause: {} }] }),
    );
    const child = app.spawnCli(["deploy"]);
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    const done = new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
    for (let i = 0; i < 200 && !stderr.includes("paused until"); i++) await sleep(50);
    const load = startLoad(url, { concurrency: 4 });
    await sleep(300);
    const a = await app.cli(["abort"]);
    expect(a.code, a.stderr).toBe(0);
    expect(await done).toBe(1);
    const result = await load.stop();
    expect(result.failed, result.errors.join("\n")).toBe(0);
    const releases = json((await app.cli(["releases", "--json"])).stdout) as unknown as { status: string }[];
    expect(releases[0].status).toBe("aborted");
    expect((await get(url)).body).toMatch(/^v1 /);
    const promote = await app.cli(["promote"]);
    expect(promote.code).toBe(2);
    expect(promote.stderr).toMatch(/no deploy of canary\/production is in progress/);
  });

  it("Ctrl-C during a deploy aborts it: rolled back, recorded, traffic never pointed at nothing", async () => {
    app.writeSpec(
      spec(
        { APP_VERSION: "v4", READY_AFTER_MS: "4000" },
        { type: "rolling", max_surge: 1, max_unavailable: 0 },
      ),
    );
    const load = startLoad(url, { concurrency: 4 });
    const child = app.spawnCli(["deploy"]);
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    const done = new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
    for (let i = 0; i < 200 && !stderr.includes("started on"); i++) await sleep(50);
    child.kill("SIGINT");
    expect(await done).toBe(1);
    expect(stderr).toMatch(/interrupted: aborting the deploy/);
    const result = await load.stop();
    expect(result.failed, result.errors.join("\n")).toBe(0);
    const releases = json((await app.cli(["releases", "--json"])).stdout) as unknown as {
      status: string;
      phase: string;
    }[];
    expect(releases[0]).toMatchObject({ status: "aborted", phase: "rolled back" });
    const status = json((await app.cli(["status", "--json"])).stdout);
    expect(status.services[0].instances.map((i: { revision: string }) => i.revision)).toEqual(["r1", "r1"]);
  });

  it("a rollback runs the files the earlier release ran, not today's checkout", async () => {
    app.writeSpec(spec({ APP_VERSION: "v5" }));
    writeFileSync(`${app.dir}/app/flavor.txt`, "vanilla");
    let r = await app.cli(["deploy", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await get(`${url}flavor`)).body, r.stdout + r.stderr).toBe("vanilla");
    writeFileSync(`${app.dir}/app/flavor.txt`, "chocolate");
    r = await app.cli(["deploy", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).changed).toEqual(["api"]);
    expect((await get(`${url}flavor`)).body).toBe("chocolate");
    r = await app.cli(["rollback", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await get(`${url}flavor`)).body).toBe("vanilla");
  });
});
