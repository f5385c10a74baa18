// Live figures sampled from real routers (each kind this machine runs) with real backends: per version
// req/s, error rate and latency quantiles of the last interval, a rolling window that forgets, and a
// counter that starts again read as a new start, not as a negative rate.
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { LiveFigures, type Router, routerKinds, unroutedVersion } from "./index.js";
import { load, sleep, TrafficBed } from "./testing.js";

const bed = new TrafficBed();
afterEach(() => bed.cleanup());

describe.each(routerKinds())("live figures on the %s router", (kind) => {
  it("samples req/s, error rate and p50/p99 per version, column by column", async () => {
    const a = await bed.backend("a");
    // v2 answers 500 to every other request, slowly: its error rate and latency differ from v1's.
    let n = 0;
    const b = await bed.backend("b", (_req, res) => {
      const fail = ++n % 2 === 1;
      setTimeout(() => {
        res.writeHead(fail ? 500 : 200);
        res.end(JSON.stringify({ id: "b" }));
      }, 30);
    });
    const r = await bed.router(kind);
    r.configure({
      backends: { v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] },
      routes: { weights: { v1: 50, v2: 50 } },
    });
    await r.settled();
    const figures = new LiveFigures(() => [r], { intervalMs: 1000, windowMs: 10_000 });
    const t0 = Date.now();
    figures.sample(t0);
    expect(figures.figures(t0).services, "the first reading is only a baseline").toEqual([]);

    const agent = new http.Agent({ keepAlive: true });
    const replies = await load(r.url, 40, 4, agent);
    agent.destroy();
    const count = (f: (x: (typeof replies)[number]) => boolean) => replies.filter(f).length;
    const v1 = count((x) => x.version === "v1");
    const v2 = count((x) => x.version === "v2");
    const v2Errors = count((x) => x.version === "v2" && x.status === 500);
    expect(v1 + v2).toBe(40);
    expect(v2Errors).toBe(v2 / 2);
    await r.statsCaughtUp();
    const t1 = t0 + 2000;
    figures.sample(t1);
    const doc = figures.figures(t1);
    expect(doc).toMatchObject({ intervalMs: 1000, windowMs: 10_000, now: t1 });
    expect(doc.services).toHaveLength(1);
    const [svc] = doc.services;
    expect(svc.service).toBe("svc");
    expect(svc.t).toEqual([t1]);
    // The requests each version served, over the 2 s between the samples.
    expect(svc.versions.v1).toMatchObject({ rps: [v1 / 2], errorRate: [0] });
    expect(svc.versions.v2).toMatchObject({
      rps: [v2 / 2],
      errorRate: [Math.round((10_000 * v2Errors) / v2) / 10_000],
    });
    expect(svc.versions.v2.p50[0]).toBeGreaterThanOrEqual(30);
    expect(svc.versions.v2.p99[0]).toBeGreaterThanOrEqual(svc.versions.v2.p50[0]!);
    expect(svc.versions.v1.p50[0]).toBeLessThan(svc.versions.v2.p50[0]!);
    expect(svc.versions[unroutedVersion], "nothing went unrouted").toBeUndefined();

    // An idle version that still takes traffic is at 0 req/s (no latency); then v2 leaves the routes and,
    // serving nothing, has no point: a gap in its series, not a zero.
    const t2 = t1 + 2000;
    figures.sample(t2);
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const t3 = t2 + 2000;
    figures.sample(t3);
    const later = figures.figures(t3).services[0];
    expect(later.t).toEqual([t1, t2, t3]);
    expect(later.versions.v1).toEqual({
      rps: [v1 / 2, 0, 0],
      errorRate: [0, null, null],
      p50: [expect.any(Number), null, null],
      p99: [expect.any(Number), null, null],
    });
    expect(later.versions.v2.rps).toEqual([v2 / 2, 0, null]);

    // The window forgets: 10 s after t1, only the later samples are left; after all of them, nothing.
    expect(figures.figures(t1 + 10_000).services[0].t).toEqual([t2, t3]);
    expect(figures.figures(t3 + 10_000).services).toEqual([]);
  });

  it("counts unrouted requests as failures under their own key", async () => {
    const r = await bed.router(kind);
    const figures = new LiveFigures(() => [r], { intervalMs: 1000, windowMs: 60_000 });
    const t0 = Date.now();
    figures.sample(t0);
    const agent = new http.Agent({ keepAlive: false });
    const replies = await load(r.url, 4, 1, agent);
    expect(replies.map((x) => x.status)).toEqual([503, 503, 503, 503]);
    await r.statsCaughtUp();
    figures.sample(t0 + 1000);
    const [svc] = figures.figures(t0 + 1000).services;
    expect(svc.versions[unroutedVersion]).toMatchObject({ rps: [4], errorRate: [1] });
  });
});

describe("live figures", () => {
  it("reads a counter that went down (a router started again) as a new start", async () => {
    let requests = 100;
    const router = {
      name: "api",
      config: () => ({ backends: {}, routes: { weights: { r1: 100 } } }),
      versions: () => ["r1"],
      stats: (version: string) => ({
        version,
        requests,
        errors5xx: 0,
        failed: 0,
        window: { latency: { p50: 1, p99: 2 } },
      }),
      unroutedStats: () => ({ requests: 0, errors5xx: 0, failed: 0, window: { latency: {} } }),
    } as unknown as Router;
    const figures = new LiveFigures(() => [router], { intervalMs: 1000 });
    figures.sample(0);
    requests = 3;
    figures.sample(1000);
    expect(figures.figures(1000).services[0].versions.r1).toEqual({
      rps: [3],
      errorRate: [0],
      p50: [1],
      p99: [2],
    });
  });

  it("refuses an interval it cannot keep", () => {
    expect(() => new LiveFigures(() => [], { intervalMs: 0 })).toThrow(RangeError);
    expect(() => new LiveFigures(() => [], { intervalMs: 5000, windowMs: 1000 })).toThrow(/intervalMs/);
  });

  it("samples on its own timer until stopped", async () => {
    let reads = 0;
    const figures = new LiveFigures(
      () => {
        reads++;
        return [];
      },
      { intervalMs: 20, windowMs: 1000 },
    );
    figures.start();
    await sleep(110);
    figures.stop();
    const seen = reads;
    expect(seen).toBeGreaterThanOrEqual(3);
    await sleep(60);
    expect(reads).toBe(seen);
  });
});

describe("live figures with a router that fails", () => {
  it("skips that router's sample and keeps the others'", async () => {
    const ok = {
      name: "web",
      config: () => ({ backends: {}, routes: { weights: { r1: 100 } } }),
      versions: () => ["r1"],
      stats: (version: string) => ({
        version,
        requests: 0,
        errors5xx: 0,
        failed: 0,
        window: { latency: { p50: null, p99: null } },
      }),
      unroutedStats: () => ({ requests: 0, errors5xx: 0, failed: 0, window: { latency: {} } }),
    } as unknown as Router;
    const broken = {
      ...ok,
      name: "api",
      versions: () => {
        throw new Error("the router is closing");
      },
    } as unknown as Router;
    const figures = new LiveFigures(() => [broken, ok], { intervalMs: 1000 });
    figures.sample(0);
    figures.sample(1000);
    expect(figures.figures(1000).services.map((s) => s.service)).toEqual(["web"]);
    expect(figures.figures(1000).services[0].versions.r1.rps).toEqual([0]);
  });
});
