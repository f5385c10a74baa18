// What only the HAProxy router has: its limits, refresh(), and its haproxy process (started, stopped,
// never left behind). conformance.test.ts holds what both routers do.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import { eventually, request, sleep, TrafficBed } from "../testing.js";
import { createHaproxyRouter, type HaproxyRouter, type HaproxyRouterOptions } from "./router.js";

const bed = new TrafficBed();
afterEach(() => bed.cleanup());

async function router(options: Partial<HaproxyRouterOptions> = {}): Promise<HaproxyRouter> {
  const r = await createHaproxyRouter({
    listen: { host: "127.0.0.1", port: 0 },
    name: "svc",
    maxVersions: 4,
    maxInstancesPerVersion: 4,
    pollMs: 100,
    ...options,
  });
  bed.defer(() => r.close({ timeoutMs: 1000 }));
  return r;
}

/** Running (a zombie left for an init that does not reap counts as gone). */
const processAlive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("HAProxy router", () => {
  it("counts, at its next polls, a request HAProxy closed without an answer or a log line", async () => {
    const x = await bed.backend("x", (req) => req.socket.destroy());
    const b = await bed.backend("b");
    const r = await router({ balance: "round-robin" });
    const events: string[] = [];
    r.onEvent = (e) => events.push(`${e.type} ${e.version}`);
    r.configure({
      backends: {
        v1: [
          { id: "x", url: x.url },
          { id: "b", url: b.url },
        ],
      },
      routes: { weights: { v1: 100 } },
    });
    await r.settled();
    const agent = bed.keepAlive(1);
    expect((await request(r.url, { agent })).status).toBe(200);
    // Second on its connection: HAProxy closes it silently (conformance.test.ts).
    await expect(request(r.url, { agent, method: "POST", body: "pay once" })).rejects.toThrow();
    await eventually(() => r.stats("v1").failed === 1);
    expect(r.stats("v1")).toMatchObject({ requests: 2, failed: 1, errors5xx: 0 });
    expect(events).toContain("upstream-error v1");
    // Counted once: later markers find nothing more.
    await sleep(300);
    expect(r.stats("v1").requests).toBe(2);
  });

  it("statsCaughtUp() counts every request already answered, even after a quiet log", async () => {
    const a = await bed.backend("a");
    const r = await router({ pollMs: 60_000 });
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const agent = bed.keepAlive();
    for (let i = 1; i <= 25; i++) {
      // The log has been quiet for a while when the request ends: its line is the only one to wait for.
      await sleep(120);
      expect((await request(r.url, { agent })).status).toBe(200);
      await r.statsCaughtUp();
      expect(r.stats("v1").requests).toBe(i);
    }
  });

  it("routes at most maxVersions versions at once", async () => {
    const a = await bed.backend("a");
    const r = await router({ maxVersions: 2 });
    r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: a.url }] });
    expect(() =>
      r.setBackends({
        v1: [{ id: "a", url: a.url }],
        v2: [{ id: "b", url: a.url }],
        v3: [{ id: "c", url: a.url }],
      }),
    ).toThrow(/at most 2 versions/);
  });

  it("reads the in-flight gauges at once with refresh(), between its polls", async () => {
    let release: () => void = () => {};
    const a = await bed.backend("a", (_req, res) => {
      release = () => res.end("done");
    });
    const r = await router({ pollMs: 60_000 });
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const slow = request(r.url);
    await eventually(() => a.hits === 1);
    expect(r.instances()[0].inflight).toBe(0);
    await r.refresh();
    expect(r.instances()[0]).toMatchObject({ id: "a", inflight: 1 });
    expect(r.stats("v1").inflight).toBe(1);
    release();
    await slow;
    await r.refresh();
    expect(r.instances()[0].inflight).toBe(0);
  });

  it("keeps its haproxy until close has let the last request finish, then haproxy exits", async () => {
    let release: () => void = () => {};
    const a = await bed.backend("a", (_req, res) => {
      release = () => res.end("finished");
    });
    const r = await router();
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const pid = r.pid;
    const inflight = request(r.url);
    await eventually(() => a.hits === 1);
    const closed = r.close({ timeoutMs: 5000 });
    await sleep(200);
    await expect(request(r.url)).rejects.toThrow();
    expect(processAlive(pid)).toBe(true);
    release();
    expect((await inflight).body).toBe("finished");
    await closed;
    expect(processAlive(pid)).toBe(false);
  });

  it("stops its haproxy when its signal is aborted", async () => {
    const controller = new AbortController();
    const r = await router({ signal: controller.signal });
    const pid = r.pid;
    controller.abort();
    await eventually(() => !processAlive(pid));
  });

  it("says clearly when the haproxy binary is missing", async () => {
    await expect(
      createHaproxyRouter({
        listen: { host: "127.0.0.1", port: 0 },
        name: "nobin",
        haproxyBin: "/nonexistent/haproxy",
      }),
    ).rejects.toThrow(UserError);
  });

  it("never outlives its owner: haproxy exits when the process that started it is killed", async () => {
    // The killed owner cannot remove its directory: give it one this test removes.
    const stateDir = mkdtempSync(join(tmpdir(), "slipway-haproxy-orphan-"));
    bed.defer(async () => rmSync(stateDir, { recursive: true, force: true }));
    const script = `
      const { createHaproxyRouter } = await import(${JSON.stringify(fileURLToPath(new URL("./router.ts", import.meta.url)))});
      const r = await createHaproxyRouter({ listen: { host: "127.0.0.1", port: 0 }, name: "orphan", stateDir: ${JSON.stringify(stateDir)} });
      console.log("pid " + r.pid);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    bed.defer(async () => void child.kill("SIGKILL"));
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => (out += t));
    await eventually(() => /pid \d+/.test(out), 20_000);
    const pid = Number(/pid (\d+)/.exec(out)![1]);
    expect(processAlive(pid)).toBe(true);
    child.kill("SIGKILL");
    await eventually(() => !processAlive(pid), 5000);
  });
});
