// Probes and readiness against real instances of the process runtime (the test app of
// runtimes/testing.ts): servers that become ready late, never, flap, or exit.
import { createServer } from "node:net";
import { rm } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { defaultHealth, describeWait, type EffectiveHealth, probeInstance, waitReady } from "./health.js";
import { createProcessRuntime } from "./runtimes/process.js";
import { tempDir, testLabels, testService, writeTestApp } from "./runtimes/testing.js";
import type { InstanceInfo, ProbeResult } from "./types.js";

const work = tempDir("slipway-health-");
const app = writeTestApp(work);
const runtime = createProcessRuntime({ stateDir: work });
let n = 0;

afterAll(async () => {
  for (const i of await runtime.list({ app: "hc", env: "test" }))
    await runtime.stop(i.id, { timeoutMs: 200 });
  await rm(work, { recursive: true, force: true });
});

function http(over: Partial<EffectiveHealth> = {}): EffectiveHealth {
  return {
    type: "http",
    path: "/healthz",
    intervalMs: 50,
    timeoutMs: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    startPeriodMs: 0,
    deadlineMs: 5000,
    ...over,
  };
}

async function startApp(env: Record<string, string>, port = true): Promise<InstanceInfo> {
  const id = `hc-${++n}`;
  return runtime.start({
    id,
    service: testService({ command: app, cwd: work, ...(port ? { port: 3000 } : {}) }),
    labels: testLabels("hc", id),
    env,
    files: [],
  });
}

describe("probeInstance", () => {
  it("probes http, tcp, exec and running", async () => {
    const up = await startApp({});
    const ok = await waitReady(http(), up, runtime);
    expect(ok.ok).toBe(true);
    expect(await probeInstance(http(), up, runtime)).toEqual({
      ok: true,
      detail: `GET http://127.0.0.1:${up.address!.port}/healthz: HTTP 200`,
    });
    const sick = await startApp({ UNHEALTHY: "1" });
    await waitReady(http({ path: "/" }), sick, runtime);
    expect(await probeInstance(http(), sick, runtime)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/HTTP 503$/),
    });
    expect(await probeInstance({ ...http(), type: "tcp" }, sick, runtime)).toMatchObject({ ok: true });
    // Nothing listens on a port just freed.
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const nowhere = { ...up, address: { host: "127.0.0.1", port: closed } };
    expect(await probeInstance(http(), nowhere, runtime)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(await probeInstance({ ...http(), type: "tcp" }, nowhere, runtime)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    // Without a health check: tcp when there is an address, else "running".
    expect(await probeInstance(undefined, up, runtime)).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^tcp .*connected$/),
    });
    expect(await probeInstance(undefined, nowhere, runtime)).toMatchObject({ ok: false });
    expect(await probeInstance(undefined, { ...up, address: undefined }, runtime)).toEqual({
      ok: true,
      detail: "running",
    });

    const exec = (command: string[]): EffectiveHealth => ({ ...http(), type: "exec", command });
    expect(
      await probeInstance(exec(["sh", "-c", 'test -n "$PORT" && echo port $PORT']), up, runtime),
    ).toEqual({
      ok: true,
      detail: `exit code 0: port ${up.address!.port}`,
    });
    expect(await probeInstance(exec(["sh", "-c", "echo nope; exit 1"]), up, runtime)).toEqual({
      ok: false,
      detail: "exit code 1: nope",
    });
    expect(await probeInstance({ ...exec(["sleep", "5"]), timeoutMs: 200 }, up, runtime)).toMatchObject({
      ok: false,
      detail: "timed out after 200 ms",
    });
    expect(await probeInstance(exec(["true"]), { ...up, id: "gone" }, runtime)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/does not exist/),
    });
  });

  it("has defaults for services without a health check", () => {
    expect(defaultHealth(testService({ port: 80 }))).toMatchObject({
      type: "tcp",
      healthyThreshold: 1,
      deadlineMs: 60_000,
    });
    expect(defaultHealth(testService({ publish: { host: "127.0.0.1", port: 8080 } })).type).toBe("tcp");
    expect(defaultHealth(testService())).toMatchObject({
      type: "running",
      healthyThreshold: 3,
      deadlineMs: 60_000,
    });
  });
});

describe("waitReady", () => {
  it("waits for a server that becomes ready after a while", async () => {
    const info = await startApp({ READY_AFTER_MS: "800" });
    const seen: ProbeResult[] = [];
    const r = await waitReady(http({ intervalMs: 100 }), info, runtime, { onProbe: (p) => seen.push(p) });
    expect(r.ok).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(600);
    expect(r.probes).toBe(seen.length);
    expect(r.probes).toBeGreaterThan(3);
    expect(seen.at(-1)?.ok).toBe(true);
    expect(seen[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("says while it waits what it waits for, how long so far and of how long, and the last answer", async () => {
    const info = await startApp({ UNHEALTHY: "1" });
    const said: string[] = [];
    const r = await waitReady(http({ intervalMs: 100, deadlineMs: 1000 }), info, runtime, {
      progressEveryMs: 0,
      onWaiting: (p) => said.push(describeWait("api: api-r2-1f2e3d", p)),
    });
    expect(r.ok).toBe(false);
    expect(said.length).toBeGreaterThan(0);
    for (const line of said)
      expect(line).toMatch(
        /^api: api-r2-1f2e3d: waiting for health, 0 s of 1 s \(GET http:\/\/\S+\/healthz: [^\n]+\)$/,
      );
  });

  it("describes a wait in whole seconds, with the first line of the last failure", () => {
    const last = { ok: false, detail: "GET http://127.0.0.1:8080/health: HTTP 503\n--- last output ---" };
    expect(describeWait("api-r2", { elapsedMs: 12_400, deadlineMs: 60_000, last })).toBe(
      "api-r2: waiting for health, 12 s of 60 s (GET http://127.0.0.1:8080/health: HTTP 503)",
    );
    expect(
      describeWait("web", { elapsedMs: 5000, deadlineMs: 30_000, last: { ok: true, detail: "up" } }),
    ).toBe("web: waiting for health, 5 s of 30 s");
  });

  it("gives up at the deadline with the last failure", async () => {
    const info = await startApp({ UNHEALTHY: "1" });
    const r = await waitReady(http({ intervalMs: 100, deadlineMs: 1000 }), info, runtime);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/^not ready after 1000 ms: GET .*\/healthz: HTTP 503$/);
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(r.durationMs).toBeLessThan(2500);
  });

  it("fails fast when the instance exits, with its exit code and output", async () => {
    const info = await startApp({ READY_AFTER_MS: "60000", EXIT_AFTER_MS: "300", EXIT_CODE: "3" });
    const r = await waitReady(http({ intervalMs: 100, deadlineMs: 30_000 }), info, runtime);
    expect(r.ok).toBe(false);
    expect(r.durationMs).toBeLessThan(3000);
    expect(r.detail).toMatch(new RegExp(`^instance ${info.id} exited with code 3 before it was ready`));
    expect(r.detail).toContain("--- last output ---");
    expect(r.detail).toMatch(/started \d+\nboom$/);

    // Without a port and a health check: "running", which an exit fails too.
    const quiet = await startApp({ EXIT_AFTER_MS: "200", EXIT_CODE: "0" }, false);
    const q = await waitReady(undefined, quiet, runtime);
    expect(q.ok).toBe(false);
    expect(q.detail).toMatch(/exited with code 0/);
  });

  it("needs healthyThreshold successes in a row; failures in the start period do not break them", async () => {
    // FLAKY answers 200 and 503 in turn.
    const info = await startApp({ FLAKY: "1" });
    await waitReady(http({ path: "/" }), info, runtime);
    const once = await waitReady(http({ intervalMs: 20 }), info, runtime);
    expect(once.ok).toBe(true);
    const twice = await waitReady(
      http({ intervalMs: 20, healthyThreshold: 2, deadlineMs: 600 }),
      info,
      runtime,
    );
    expect(twice).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/2 successes in a row needed.*HTTP 503/),
    });
    expect(twice.probes).toBeGreaterThan(5);
    const lenient = await waitReady(
      http({ intervalMs: 20, healthyThreshold: 3, startPeriodMs: 5000, deadlineMs: 5000 }),
      info,
      runtime,
    );
    expect(lenient.ok).toBe(true);
    expect(lenient.probes).toBeGreaterThanOrEqual(5);

    const steady = await startApp({});
    await waitReady(http(), steady, runtime);
    const three = await waitReady(http({ intervalMs: 50, healthyThreshold: 3 }), steady, runtime);
    expect(three).toMatchObject({ ok: true, probes: 3 });
    expect(three.durationMs).toBeGreaterThanOrEqual(100);
  });

  it("honours abort", async () => {
    const info = await startApp({ UNHEALTHY: "1" });
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("deploy cancelled")), 300);
    const t0 = Date.now();
    await expect(
      waitReady(http({ intervalMs: 100, deadlineMs: 30_000 }), info, runtime, { signal: abort.signal }),
    ).rejects.toThrow("deploy cancelled");
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
