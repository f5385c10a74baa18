// What every Router does with HTTP requests: routing, configuration, draining, failing instances
// (conformance-streams.test.ts: websockets, streamed bodies, listening and closing). Asked of each
// kind this machine runs (both in CI: choose.test.ts fails where haproxy is missing), against real
// backends on 127.0.0.1.
// Figures are read with eventually(): the Node router counts as each request ends, HAProxy a moment
// later (its log); gauges too (HAProxy's are polled). Where the kinds answer differently by design,
// the expectation names the kind.
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { routerKinds } from "./index.js";
import { eventually, load, request, servedBy, sleep, startBackend, TrafficBed } from "./testing.js";

const bed = new TrafficBed();
afterEach(() => bed.cleanup());

describe.each(routerKinds())("%s router", (kind) => {
  const router = (options?: Parameters<TrafficBed["router"]>[1]) => bed.router(kind, options);

  describe("routing", () => {
    it("spreads requests by weight, names the version in X-Slipway-Version, and counts them with latency", async () => {
      const [a, b] = [await bed.backend("a"), await bed.backend("b")];
      const r = await router();
      r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] });
      r.setRoutes({ weights: { v1: 80, v2: 20 } });
      await r.settled();
      const replies = await load(r.url, 1000, 10, bed.keepAlive());
      expect(replies.every((x) => x.status === 200)).toBe(true);
      const v2 = replies.filter((x) => x.version === "v2");
      expect(v2.length).toBeGreaterThanOrEqual(180);
      expect(v2.length).toBeLessThanOrEqual(220);
      expect(v2.every((x) => x.id === "b")).toBe(true);
      expect(replies.filter((x) => x.version === "v1").every((x) => x.id === "a")).toBe(true);
      await eventually(() => r.stats("v1").requests + r.stats("v2").requests === 1000);
      expect(r.stats("v1")).toMatchObject({ requests: 1000 - v2.length, failed: 0, errors5xx: 0 });
      expect(r.stats("v2").window.latency.count).toBe(v2.length);
      expect(r.stats("v2").window.latency.p99).toBeGreaterThan(0);
      expect(r.versions()).toEqual(["v1", "v2"]);
      const metrics = await r.registry.metrics();
      expect(metrics).toContain('slipway_router_requests_total{service="svc",version="v2"}');
      expect(metrics).toContain("slipway_router_request_duration_seconds_bucket");
    });

    it("lets header and cookie rules win over the weights; without rules the weights alone decide", async () => {
      const [a, b] = [await bed.backend("a"), await bed.backend("b")];
      const r = await router();
      r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] });
      r.setRoutes({
        weights: { v1: 100, v2: 0 },
        rules: [
          { header: "X-Canary", value: "always", version: "v2" },
          { cookie: "canary", regex: "^(1|yes)$", version: "v2" },
        ],
      });
      await r.settled();
      const agent = bed.keepAlive();
      const viaHeader = await load(r.url, 50, 5, agent, { headers: { "X-Canary": "always" } });
      const viaCookie = await load(r.url, 50, 5, agent, { headers: { cookie: "session=abc; canary=yes" } });
      const plain = await load(r.url, 50, 5, agent, {
        headers: { cookie: "canary=no", "X-Canary": "sometimes" },
      });
      expect(new Set(viaHeader.map((x) => x.id))).toEqual(new Set(["b"]));
      expect(new Set(viaCookie.map((x) => x.id))).toEqual(new Set(["b"]));
      expect(new Set(plain.map((x) => x.id))).toEqual(new Set(["a"]));
      r.setRoutes({ weights: { v1: 100, v2: 0 } });
      await r.settled();
      expect(servedBy(await request(r.url, { headers: { "X-Canary": "always" } }))).toBe("a");
    });

    it("forwards method, path, body and X-Forwarded-* headers", async () => {
      const a = await bed.backend("a");
      const r = await router();
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const reply = await request(`${r.url}/some/path?q=1`, {
        method: "POST",
        headers: {
          host: "app.example",
          "x-forwarded-for": "203.0.113.9",
          "x-forwarded-proto": "https",
          connection: "keep-alive, x-secret",
          "x-secret": "hop",
          "content-type": "text/plain",
        },
        body: "hello",
      });
      const seen = JSON.parse(reply.body);
      expect(seen).toMatchObject({ method: "POST", url: "/some/path?q=1", body: "hello" });
      expect(seen.headers).toMatchObject({
        host: "app.example",
        "x-forwarded-for": "203.0.113.9, 127.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "app.example",
      });
    });

    it("loses no request of a keep-alive stream while it is reconfigured again and again", async () => {
      const [a, b, c] = [await bed.backend("a"), await bed.backend("b"), await bed.backend("c")];
      const r = await router();
      const v1 = { id: "a", url: a.url };
      const v2 = [
        { id: "b", url: b.url },
        { id: "c", url: c.url },
      ];
      r.configure({ backends: { v1: [v1], v2 }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const agent = bed.keepAlive(10);
      let stop = false;
      let changes = 0;
      const flipper = (async () => {
        for (let i = 0; !stop; i++) {
          const w = (i * 7) % 101;
          r.setRoutes({ weights: { v1: 100 - w, v2: w } });
          if (i % 5 === 0) r.setBackends({ v1: [v1], v2: i % 10 === 0 ? v2 : [v2[0]] });
          await r.settled();
          changes++;
          await sleep(2);
        }
      })();
      const replies = await load(r.url, 1500, 10, agent);
      stop = true;
      await flipper;
      expect(changes).toBeGreaterThan(10);
      expect(replies.filter((x) => x.status !== 200)).toEqual([]);
      expect(new Set(replies.map((x) => x.id))).toEqual(new Set(["a", "b", "c"]));
      // The client's connections were kept: no more than its 10 sockets were ever opened.
      expect(agent.opened).toBeLessThanOrEqual(10);
    });
  });

  describe("configuration and unrouted requests", () => {
    it("answers 503 before any routes are set, and rejects routes or backends that do not fit", async () => {
      const a = await bed.backend("a");
      const r = await router();
      expect((await request(r.url)).status).toBe(503);
      r.setBackends({ v1: [{ id: "a", url: a.url }] });
      expect(() => r.setRoutes({ weights: { v2: 100 } })).toThrow(UserError);
      expect(() => r.setRoutes({ weights: { v1: 50 } })).toThrow(/add up to 100/);
      r.setRoutes({ weights: { v1: 100 } });
      expect(() => r.setBackends({ v2: [{ id: "b", url: a.url }] })).toThrow(/current routes do not fit/);
      r.configure({ backends: { v2: [{ id: "b", url: a.url }] }, routes: { weights: { v2: 100 } } });
      await r.settled();
      expect((await request(r.url)).headers["x-slipway-version"]).toBe("v2");
      expect(r.config().routes).toEqual({ weights: { v2: 100 }, rules: [] });
    });

    it("counts the requests it answers itself (no route) as unrouted failures, not under any version", async () => {
      const a = await bed.backend("a");
      const r = await router();
      for (let i = 0; i < 3; i++) expect((await request(r.url)).status).toBe(503);
      await eventually(() => r.unroutedStats().requests === 3);
      expect(r.unroutedStats()).toMatchObject({ requests: 3, failed: 3, window: { requests: 3, failed: 3 } });
      expect(r.versions()).toEqual([]);
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      expect((await request(r.url)).status).toBe(200);
      // All weights 0 (a recreate between stop and start): no route again.
      r.setRoutes({ weights: { v1: 0 } });
      await r.settled();
      expect((await request(r.url)).status).toBe(503);
      await eventually(() => r.unroutedStats().failed === 4 && r.stats("v1").requests === 1);
      expect(r.stats("v1")).toMatchObject({ requests: 1, failed: 0 });
    });
  });

  describe("draining", () => {
    it("drains an instance: new requests go elsewhere at once, drain waits for the slow one", async () => {
      let release: () => void = () => {};
      let slowStarted: () => void = () => {};
      const started = new Promise<void>((resolve) => (slowStarted = resolve));
      const a = await bed.backend("a", (req, res) => {
        if (req.url === "/slow") {
          slowStarted();
          release = () => res.end("slow done");
          return;
        }
        res.end(JSON.stringify({ id: "a" }));
      });
      const b = await bed.backend("b");
      const r = await router({ balance: "round-robin" });
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const slow = request(`${r.url}/slow`);
      await started;
      r.setBackends({
        v1: [
          { id: "a", url: a.url },
          { id: "b", url: b.url },
        ],
      });
      const draining = r.drain("a", { timeoutMs: 5000 });
      let drained = false;
      void draining.then(() => (drained = true));
      await r.settled();
      const during = await load(r.url, 40, 4, bed.keepAlive());
      expect(new Set(during.map((x) => x.id))).toEqual(new Set(["b"]));
      expect(drained).toBe(false);
      await eventually(() => r.instances().find((i) => i.id === "a")?.inflight === 1);
      expect(r.instances().find((i) => i.id === "a")).toMatchObject({ draining: true, inflight: 1 });
      release();
      expect((await slow).body).toBe("slow done");
      const result = await draining;
      expect(result).toMatchObject({ instanceId: "a", graceful: true, forcedRequests: 0 });
      await eventually(() => r.stats("v1").requests === 41);
      expect(r.stats("v1").failed).toBe(0);
    });

    it("closes what is left on a draining instance when the drain timeout expires; undrain puts it back", async () => {
      const a = await bed.backend("a", (req, res) => {
        if (req.url !== "/hang") return void res.end(JSON.stringify({ id: "a" }));
        res.writeHead(200);
        res.write("partial");
        // never ends
      });
      const r = await router();
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const cut = new Promise<string>((resolve) => {
        http.get(`${r.url}/hang`, (res) => {
          res.on("data", () => {});
          res.on("error", () => resolve("cut"));
          res.on("end", () => resolve("ended"));
        });
      });
      await eventually(() => a.hits === 1);
      const result = await r.drain("a", { timeoutMs: 300 });
      expect(result).toMatchObject({ graceful: false, forcedRequests: 1, forcedWebsockets: 0 });
      expect(result.durationMs).toBeGreaterThanOrEqual(290);
      expect(await cut).toBe("cut");
      await eventually(() => r.stats("v1").failed === 1);
      // The only instance is drained: no instance takes the request.
      expect((await request(r.url)).status).toBe(503);
      r.undrain("a");
      await r.settled();
      expect(servedBy(await request(r.url))).toBe("a");
    });

    it("puts a drained instance back into rotation with undrain(); an unknown instance is refused", async () => {
      const [a, b] = [await bed.backend("a"), await bed.backend("b")];
      const r = await router({ balance: "round-robin" });
      r.configure({
        backends: {
          v1: [
            { id: "a", url: a.url },
            { id: "b", url: b.url },
          ],
        },
        routes: { weights: { v1: 100 } },
      });
      await r.settled();
      expect(await r.drain("a", { timeoutMs: 1000 })).toMatchObject({ graceful: true });
      const during = await load(r.url, 10, 2, bed.keepAlive());
      expect(new Set(during.map((x) => x.id))).toEqual(new Set(["b"]));
      r.undrain("a");
      await r.settled();
      const after = await load(r.url, 10, 2, bed.keepAlive());
      expect(new Set(after.map((x) => x.id))).toEqual(new Set(["a", "b"]));
      await expect(r.drain("nope", { timeoutMs: 10 })).rejects.toThrow(UserError);
      expect(() => r.undrain("nope")).toThrow(UserError);
    });
  });

  describe("failing instances", () => {
    it("retries on the other instance when one dies under load: zero failed requests", async () => {
      const [a, b] = [await bed.backend("a"), await bed.backend("b")];
      const r = await router({ balance: "round-robin" });
      const events: string[] = [];
      r.onEvent = (e) => events.push(e.type);
      r.configure({
        backends: {
          v1: [
            { id: "a", url: a.url },
            { id: "b", url: b.url },
          ],
        },
        routes: { weights: { v1: 100 } },
      });
      await r.settled();
      const running = load(r.url, 1000, 10, bed.keepAlive(10));
      await eventually(() => a.hits > 100);
      await a.kill();
      const replies = await running;
      expect(replies.filter((x) => x.status !== 200)).toEqual([]);
      expect(replies.filter((x) => x.id === "b").length).toBeGreaterThan(500);
      await eventually(() => r.stats("v1").requests === 1000);
      expect(r.stats("v1").failed).toBe(0);
      expect(r.stats("v1").retries).toBeGreaterThan(0);
      await eventually(() => r.instances().find((i) => i.id === "a")!.downUntil > 0);
      expect(events).toContain("instance-down");
    });

    it("retries a POST whose instance refuses the connection, body intact; fails when none is left", async () => {
      const dead = await startBackend("dead");
      await dead.kill();
      const b = await bed.backend("b");
      const r = await router({ balance: "round-robin" });
      r.configure({
        backends: {
          v1: [
            { id: "dead", url: dead.url },
            { id: "b", url: b.url },
          ],
        },
        routes: { weights: { v1: 100 } },
      });
      await r.settled();
      const body = "x".repeat(100_000);
      for (let i = 0; i < 4; i++) {
        const reply = await request(r.url, {
          method: "POST",
          body,
          headers: { "content-type": "text/plain" },
        });
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body).body).toBe(body);
      }
      await eventually(() => r.stats("v1").requests === 4);
      expect(r.stats("v1")).toMatchObject({ failed: 0 });
      expect(r.stats("v1").retries).toBeGreaterThan(0);
      await b.close();
      const reply = await request(r.url);
      // Both instances refused: the Node router says so (502), HAProxy finds no server up (503).
      expect(reply.status).toBe(kind === "node" ? 502 : 503);
      expect(reply.headers["x-slipway-version"]).toBe("v1");
      await eventually(() => r.stats("v1").failed === 1);
    });

    it("replays a GET reset by its instance before any response, never a POST", async () => {
      const x = await bed.backend("x", (req) => req.socket.destroy());
      const b = await bed.backend("b");
      const r = await router({ balance: "round-robin" });
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
      const get = await request(r.url);
      expect(get.status).toBe(200);
      expect(servedBy(get)).toBe("b");
      // Not replayed. The Node router answers 502. HAProxy closes the client's connection without an
      // answer (and writes no log line) when a request that is not the first on its keep-alive
      // connection loses its instance before any response: hard-wired (http_ana.c, abort_keep_alive),
      // so that clients retry as after a keep-alive race. Either way it counts, as failed.
      const post = await request(r.url, { method: "POST", body: "pay once" }).then(
        (reply) => reply.status,
        (err: Error) => err.message,
      );
      expect(post).toBe(kind === "node" ? 502 : "socket hang up");
      expect(x.hits).toBe(2);
      expect(b.hits).toBe(1);
      await r.statsCaughtUp();
      expect(r.stats("v1")).toMatchObject({ requests: 2, retries: 1, failed: 1, errors5xx: 0 });
      // A reset is not a connect error: the instance is not taken out of rotation for it.
      expect(r.instances().find((i) => i.id === "x")!.downUntil).toBe(0);
    });

    it("answers 502 to a POST reset before any response on a new connection, and counts it failed", async () => {
      const x = await bed.backend("x", (req) => req.socket.destroy());
      const r = await router();
      r.configure({ backends: { v1: [{ id: "x", url: x.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      // The first request on its client connection: HAProxy answers too (see above for the others).
      const fresh = new http.Agent({ keepAlive: false });
      const post = await request(r.url, { method: "POST", body: "pay once", agent: fresh });
      expect(post.status).toBe(502);
      expect(post.headers["x-slipway-version"]).toBe("v1");
      expect(x.hits).toBe(1);
      await r.statsCaughtUp();
      expect(r.stats("v1")).toMatchObject({ requests: 1, failed: 1, errors5xx: 0, retries: 0 });
    });

    it("answers 504 when an instance sends no response in time, without retrying it", async () => {
      const slow = await bed.backend("slow", () => {});
      const b = await bed.backend("b");
      const r = await router({ balance: "round-robin", responseTimeoutMs: 200 });
      r.configure({
        backends: {
          v1: [
            { id: "slow", url: slow.url },
            { id: "b", url: b.url },
          ],
        },
        routes: { weights: { v1: 100 } },
      });
      await r.settled();
      const reply = await request(r.url);
      expect(reply.status).toBe(504);
      expect(b.hits).toBe(0);
      await eventually(() => r.stats("v1").failed === 1);
      expect(r.stats("v1")).toMatchObject({ failed: 1, retries: 0 });
    });

    it("counts 5xx responses of the instances apart from router failures", async () => {
      const a = await bed.backend("a", (req, res) => {
        res.statusCode = req.url === "/boom" ? 500 : 200;
        res.end("x");
      });
      const r = await router({ versionHeader: false });
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const agent = bed.keepAlive();
      for (let i = 0; i < 10; i++) await request(`${r.url}/${i % 5 === 0 ? "boom" : "ok"}`, { agent });
      const reply = await request(r.url, { agent });
      expect(reply.headers["x-slipway-version"]).toBeUndefined();
      await eventually(() => r.stats("v1").requests === 11);
      expect(r.stats("v1")).toMatchObject({
        requests: 11,
        errors5xx: 2,
        failed: 0,
        window: { requests: 11, errors5xx: 2 },
      });
      expect(r.stats("v1").window.latency.p99).toBeGreaterThan(0);
      expect(r.stats("unknown")).toMatchObject({ requests: 0, window: { latency: { p50: null } } });
    });
  });
});
