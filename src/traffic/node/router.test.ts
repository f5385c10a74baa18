import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import { createNodeRouter, type Router } from "../index.js";
import { type Backend, eventually, request, servedBy, sleep, startBackend } from "../testing.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backend(id: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(id, handler);
  cleanups.push(() => b.close());
  return b;
}

async function router(options: Partial<Parameters<typeof createNodeRouter>[0]> = {}): Promise<Router> {
  const r = await createNodeRouter({ listen: { host: "127.0.0.1", port: 0 }, name: "svc", ...options });
  cleanups.push(() => r.close({ timeoutMs: 1000 }));
  return r;
}

function keepAlive(maxSockets = 8): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  cleanups.push(async () => agent.destroy());
  return agent;
}

/** Runs `total` requests, `concurrency` at a time, and returns every reply (errors as status 0). */
async function load(
  url: string,
  total: number,
  concurrency: number,
  agent: http.Agent,
  headers: http.OutgoingHttpHeaders = {},
) {
  const replies: { status: number; id: string; version: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      try {
        const r = await request(url, { agent, headers });
        replies.push({
          status: r.status,
          id: r.status === 200 ? servedBy(r) : "",
          version: String(r.headers["x-slipway-version"]),
        });
      } catch {
        replies.push({ status: 0, id: "", version: "" });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replies;
}

describe("router", () => {
  it("spreads requests by weight and names the version in X-Slipway-Version", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
    const r = await router();
    r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] });
    r.setRoutes({ weights: { v1: 80, v2: 20 } });
    const replies = await load(r.url, 1000, 10, keepAlive());
    expect(replies.every((x) => x.status === 200)).toBe(true);
    const v2 = replies.filter((x) => x.version === "v2");
    expect(v2.length).toBeGreaterThanOrEqual(180);
    expect(v2.length).toBeLessThanOrEqual(220);
    expect(v2.every((x) => x.id === "b")).toBe(true);
    expect(r.stats("v1")).toMatchObject({ requests: 1000 - v2.length, failed: 0, errors5xx: 0 });
    expect(r.stats("v2").window.latency.count).toBe(v2.length);
  });

  it("lets header and cookie rules win over the weights", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
    const r = await router();
    r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] });
    r.setRoutes({
      weights: { v1: 100, v2: 0 },
      rules: [
        { header: "X-Canary", value: "always", version: "v2" },
        { cookie: "canary", regex: "^(1|yes)$", version: "v2" },
      ],
    });
    const agent = keepAlive();
    const viaHeader = await load(r.url, 50, 5, agent, { "X-Canary": "always" });
    const viaCookie = await load(r.url, 50, 5, agent, { cookie: "session=abc; canary=yes" });
    const plain = await load(r.url, 50, 5, agent, { cookie: "canary=no", "X-Canary": "sometimes" });
    expect(new Set(viaHeader.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(new Set(viaCookie.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(new Set(plain.map((x) => x.id))).toEqual(new Set(["a"]));
  });

  it("forwards method, path, body and X-Forwarded-* headers, and strips hop-by-hop ones", async () => {
    const a = await backend("a");
    const r = await router();
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
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
    expect(seen.headers["x-secret"]).toBeUndefined();
  });

  it("counts the requests it answers itself (no route) as unrouted failures, not under any version", async () => {
    const a = await backend("a");
    const r = await router();
    for (let i = 0; i < 3; i++) expect((await request(r.url)).status).toBe(503);
    expect(r.unroutedStats()).toMatchObject({ requests: 3, failed: 3, window: { requests: 3, failed: 3 } });
    expect(r.versions()).toEqual([]);
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    expect((await request(r.url)).status).toBe(200);
    // All weights 0 (a recreate between stop and start): no route again.
    r.setRoutes({ weights: { v1: 0 } });
    expect((await request(r.url)).status).toBe(503);
    expect(r.unroutedStats().failed).toBe(4);
    expect(r.stats("v1")).toMatchObject({ requests: 1, failed: 0 });
  });

  it("answers 503 before any routes are set, and rejects routes or backends that do not fit", async () => {
    const a = await backend("a");
    const r = await router();
    expect((await request(r.url)).status).toBe(503);
    r.setBackends({ v1: [{ id: "a", url: a.url }] });
    expect(() => r.setRoutes({ weights: { v2: 100 } })).toThrow(UserError);
    r.setRoutes({ weights: { v1: 100 } });
    expect(() => r.setBackends({ v2: [{ id: "b", url: a.url }] })).toThrow(/current routes do not fit/);
    r.configure({ backends: { v2: [{ id: "b", url: a.url }] }, routes: { weights: { v2: 100 } } });
    expect((await request(r.url)).headers["x-slipway-version"]).toBe("v2");
  });

  it("loses no request of a keep-alive stream while it is reconfigured again and again", async () => {
    const [a, b, c] = [await backend("a"), await backend("b"), await backend("c")];
    const r = await router();
    const v1 = { id: "a", url: a.url };
    const v2 = [
      { id: "b", url: b.url },
      { id: "c", url: c.url },
    ];
    r.configure({ backends: { v1: [v1], v2 }, routes: { weights: { v1: 100 } } });
    const agent = keepAlive(10);
    let connections = 0;
    r.setBackends({ v1: [v1], v2 });
    const counting = (r as unknown as { server: http.Server }).server;
    counting.on("connection", () => connections++);
    let stop = false;
    const flipper = (async () => {
      for (let i = 0; !stop; i++) {
        const w = (i * 7) % 101;
        r.setRoutes({ weights: { v1: 100 - w, v2: w } });
        if (i % 5 === 0) r.setBackends({ v1: [v1], v2: i % 10 === 0 ? v2 : [v2[0]] });
        await sleep(2);
      }
    })();
    const replies = await load(r.url, 1500, 10, agent);
    stop = true;
    await flipper;
    expect(replies.filter((x) => x.status !== 200)).toEqual([]);
    expect(new Set(replies.map((x) => x.id))).toEqual(new Set(["a", "b", "c"]));
    // The client's connections were kept: no more than its 10 sockets were ever opened.
    expect(connections).toBeLessThanOrEqual(10);
  });

  it("drains an instance: new requests go elsewhere at once, drain waits for the slow one", async () => {
    let release: () => void = () => {};
    const slowStarted = new Promise<void>((started) => {
      void backend("a", (req, res) => {
        if (req.url === "/slow") {
          started();
          release = () => res.end("slow done");
          return;
        }
        res.end(JSON.stringify({ id: "a" }));
      }).then(async (a) => {
        const b = await backend("b");
        const r = await router();
        r.configure({
          backends: {
            v1: [
              { id: "a", url: a.url },
              { id: "b", url: b.url },
            ],
          },
          routes: { weights: { v1: 100 } },
        });
        ctx.r = r;
      });
    });
    const ctx: { r?: Router } = {};
    await eventually(() => ctx.r !== undefined);
    const r = ctx.r!;
    // least-connections: the first request lands on "a" (both idle), the next ones on "b".
    const slow = request(`${r.url}/slow`);
    await slowStarted;
    const draining = r.drain("a", { timeoutMs: 5000 });
    let drained = false;
    void draining.then(() => (drained = true));
    const during = await load(r.url, 40, 4, keepAlive());
    expect(new Set(during.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(drained).toBe(false);
    expect(r.instances().find((i) => i.id === "a")).toMatchObject({ draining: true, inflight: 1 });
    release();
    expect((await slow).body).toBe("slow done");
    const result = await draining;
    expect(result).toMatchObject({ instanceId: "a", graceful: true, forcedRequests: 0 });
    expect(r.stats("v1").failed).toBe(0);
  });

  it("closes what is left on a draining instance when the drain timeout expires", async () => {
    const a = await backend("a", (_req, res) => {
      res.writeHead(200);
      res.write("partial");
      // never ends
    });
    const r = await router();
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    const cut = new Promise<string>((resolve) => {
      http.get(r.url, (res) => {
        res.on("data", () => {});
        res.on("error", () => resolve("cut"));
        res.on("end", () => resolve("ended"));
      });
    });
    await eventually(() => a.hits === 1);
    const result = await r.drain("a", { timeoutMs: 200 });
    expect(result).toMatchObject({ graceful: false, forcedRequests: 1 });
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(await cut).toBe("cut");
    expect(r.stats("v1").failed).toBe(1);
  });

  it("retries on the other instance when one dies: zero failed requests", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
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
    const agent = keepAlive(10);
    const running = load(r.url, 1000, 10, agent);
    await eventually(() => a.hits > 100);
    await a.kill();
    const replies = await running;
    expect(replies.filter((x) => x.status !== 200)).toEqual([]);
    expect(replies.filter((x) => x.id === "b").length).toBeGreaterThan(500);
    const s = r.stats("v1");
    expect(s.failed).toBe(0);
    expect(s.retries).toBeGreaterThan(0);
    expect(r.instances().find((i) => i.id === "a")!.downUntil).toBeGreaterThan(0);
  });

  it("retries a POST whose instance refuses the connection, body intact; fails when none is left", async () => {
    const dead = await startBackend("dead");
    await dead.kill();
    const b = await backend("b");
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
    const body = "x".repeat(100_000);
    for (let i = 0; i < 4; i++) {
      const reply = await request(r.url, { method: "POST", body, headers: { "content-type": "text/plain" } });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).body).toBe(body);
    }
    await b.close();
    const reply = await request(r.url);
    expect(reply.status).toBe(502);
    expect(reply.headers["x-slipway-version"]).toBe("v1");
    expect(r.stats("v1")).toMatchObject({ failed: 1 });
  });

  it("replays a GET reset by its instance before any response, never a POST", async () => {
    const x = await backend("x", (req) => req.socket.destroy());
    const b = await backend("b");
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
    const get = await request(r.url);
    expect(get.status).toBe(200);
    expect(servedBy(get)).toBe("b");
    const post = await request(r.url, { method: "POST", body: "pay once" });
    expect(post.status).toBe(502);
    expect(x.hits).toBe(2);
    expect(b.hits).toBe(1);
    expect(r.stats("v1")).toMatchObject({ requests: 2, retries: 1, failed: 1 });
    // A reset is not a connect error: the instance is not taken out of rotation for it.
    expect(r.instances().find((i) => i.id === "x")!.downUntil).toBe(0);
  });

  it("answers 504 when an instance sends no response in time, without retrying it", async () => {
    const slow = await backend("slow", () => {});
    const b = await backend("b");
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
    const reply = await request(r.url);
    expect(reply.status).toBe(504);
    expect(b.hits).toBe(0);
    expect(r.stats("v1")).toMatchObject({ failed: 1, retries: 0 });
  });

  it("puts a drained instance back with undrain()", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
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
    expect(await r.drain("a", { timeoutMs: 1000 })).toMatchObject({ graceful: true });
    const during = await load(r.url, 10, 2, keepAlive());
    expect(new Set(during.map((x) => x.id))).toEqual(new Set(["b"]));
    r.undrain("a");
    const after = await load(r.url, 10, 2, keepAlive());
    expect(new Set(after.map((x) => x.id))).toEqual(new Set(["a", "b"]));
    await expect(r.drain("nope", { timeoutMs: 10 })).rejects.toThrow(UserError);
  });

  it("counts 5xx responses of the instances apart from router failures", async () => {
    const a = await backend("a", (req, res) => {
      res.statusCode = req.url === "/boom" ? 500 : 200;
      res.end("x");
    });
    const r = await router({ versionHeader: false });
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    const agent = keepAlive();
    for (let i = 0; i < 10; i++) await request(`${r.url}/${i % 5 === 0 ? "boom" : "ok"}`, { agent });
    const reply = await request(r.url, { agent });
    expect(reply.headers["x-slipway-version"]).toBeUndefined();
    expect(r.stats("v1")).toMatchObject({
      requests: 11,
      errors5xx: 2,
      failed: 0,
      window: { requests: 11, errors5xx: 2 },
    });
    expect(r.stats("v1").window.latency.p99).toBeGreaterThan(0);
    expect(r.stats("unknown")).toMatchObject({ requests: 0, window: { latency: { p50: null } } });
  });

  it("closes when its signal is aborted", async () => {
    const controller = new AbortController();
    const r = await router({ signal: controller.signal });
    controller.abort();
    await eventually(() => {
      const s = (r as unknown as { server: http.Server }).server;
      return !s.listening;
    });
  });
});
