// The HAProxy router against real haproxy processes and real backends on 127.0.0.1: the same
// behaviour the Node router's tests ask for (router.test.ts, websocket.test.ts), where HAProxy can.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { UserError } from "../../lib/errors.js";
import { createHaproxyRouter, type HaproxyRouter, type HaproxyRouterOptions } from "./router.js";
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

async function router(options: Partial<HaproxyRouterOptions> = {}): Promise<HaproxyRouter> {
  const r = await createHaproxyRouter({
    listen: { host: "127.0.0.1", port: 0 },
    name: "svc",
    maxVersions: 4,
    maxInstancesPerVersion: 4,
    pollMs: 100,
    ...options,
  });
  cleanups.push(() => r.close({ timeoutMs: 1000 }));
  return r;
}

/** A keep-alive agent that counts the connections it opened. */
function keepAlive(maxSockets = 8): http.Agent & { opened: number } {
  const agent = Object.assign(new http.Agent({ keepAlive: true, maxSockets }), { opened: 0 });
  const create = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof create>) => {
    agent.opened++;
    return create(...args);
  }) as typeof agent.createConnection;
  cleanups.push(async () => agent.destroy());
  return agent;
}

/** Runs `total` requests, `concurrency` at a time, and returns every reply (errors as status 0). */
async function load(
  url: string,
  total: number,
  concurrency: number,
  agent: http.Agent,
  options: { headers?: http.OutgoingHttpHeaders; method?: string; body?: string } = {},
) {
  const replies: { status: number; id: string; version: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      try {
        const r = await request(url, { agent, ...options });
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
  it("spreads requests by weight, names the version, and counts them with latency", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
    const r = await router();
    r.setBackends({ v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] });
    r.setRoutes({ weights: { v1: 80, v2: 20 } });
    await r.settled();
    const replies = await load(r.url, 1000, 10, keepAlive());
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
    await r.settled();
    const agent = keepAlive();
    const viaHeader = await load(r.url, 50, 5, agent, { headers: { "X-Canary": "always" } });
    const viaCookie = await load(r.url, 50, 5, agent, { headers: { cookie: "session=abc; canary=yes" } });
    const plain = await load(r.url, 50, 5, agent, {
      headers: { cookie: "canary=no", "X-Canary": "sometimes" },
    });
    expect(new Set(viaHeader.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(new Set(viaCookie.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(new Set(plain.map((x) => x.id))).toEqual(new Set(["a"]));
    // Rules removed: the weights alone decide again.
    r.setRoutes({ weights: { v1: 100, v2: 0 } });
    await r.settled();
    expect(servedBy(await request(r.url, { headers: { "X-Canary": "always" } }))).toBe("a");
  });

  it("answers 503 before any routes are set, and rejects what does not fit as the Node router does", async () => {
    const a = await backend("a");
    const r = await router({ maxVersions: 2 });
    expect((await request(r.url)).status).toBe(503);
    r.setBackends({ v1: [{ id: "a", url: a.url }] });
    expect(() => r.setRoutes({ weights: { v2: 100 } })).toThrow(UserError);
    expect(() => r.setRoutes({ weights: { v1: 50 } })).toThrow(/add up to 100/);
    r.setRoutes({ weights: { v1: 100 } });
    expect(() => r.setBackends({ v2: [{ id: "b", url: a.url }] })).toThrow(/current routes do not fit/);
    expect(() =>
      r.setBackends({
        v1: [{ id: "a", url: a.url }],
        v2: [{ id: "b", url: a.url }],
        v3: [{ id: "c", url: a.url }],
      }),
    ).toThrow(/at most 2 versions/);
    r.configure({ backends: { v2: [{ id: "b", url: a.url }] }, routes: { weights: { v2: 100 } } });
    await r.settled();
    const reply = await request(r.url);
    expect(reply.headers["x-slipway-version"]).toBe("v2");
    expect(JSON.parse(reply.body).headers).toMatchObject({ "x-forwarded-proto": "http" });
    expect(r.config().routes).toEqual({ weights: { v2: 100 }, rules: [] });
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
    await r.settled();
    const agent = keepAlive(10);
    let stop = false;
    let changes = 0;
    const flipper = (async () => {
      for (let i = 0; !stop; i++) {
        const w = (i * 7) % 101;
        r.setRoutes({ weights: { v1: 100 - w, v2: w } });
        if (i % 5 === 0) r.setBackends({ v1: [v1], v2: i % 10 === 0 ? v2 : [v2[0]] });
        await r.settled();
        changes++;
        await sleep(5);
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

  it("drains an instance: new requests go elsewhere at once, drain waits for the slow one", async () => {
    let release: () => void = () => {};
    let slowStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    const a = await backend("a", (req, res) => {
      if (req.url === "/slow") {
        slowStarted();
        release = () => res.end("slow done");
        return;
      }
      res.end(JSON.stringify({ id: "a" }));
    });
    const b = await backend("b");
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
    const during = await load(r.url, 40, 4, keepAlive());
    expect(new Set(during.map((x) => x.id))).toEqual(new Set(["b"]));
    expect(drained).toBe(false);
    await r.refresh();
    expect(r.instances().find((i) => i.id === "a")).toMatchObject({ draining: true, inflight: 1 });
    release();
    expect((await slow).body).toBe("slow done");
    const result = await draining;
    expect(result).toMatchObject({ instanceId: "a", graceful: true, forcedRequests: 0 });
    await eventually(() => r.stats("v1").requests === 41);
    expect(r.stats("v1").failed).toBe(0);
  });

  it("closes what is left on a draining instance when the drain timeout expires; undrain puts it back", async () => {
    const a = await backend("a", (req, res) => {
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
    expect((await request(r.url)).status).toBe(503);
    r.undrain("a");
    await r.settled();
    expect(servedBy(await request(r.url))).toBe("a");
    await expect(r.drain("nope", { timeoutMs: 10 })).rejects.toThrow(UserError);
  });

  it("retries on the other instance when one dies under load: zero failed requests", async () => {
    const [a, b] = [await backend("a"), await backend("b")];
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
    const running = load(r.url, 1000, 10, keepAlive(10));
    await eventually(() => a.hits > 100);
    await a.kill();
    const replies = await running;
    expect(replies.filter((x) => x.status !== 200)).toEqual([]);
    expect(replies.filter((x) => x.id === "b").length).toBeGreaterThan(500);
    await eventually(() => r.stats("v1").requests === 1000);
    expect(r.stats("v1").failed).toBe(0);
    await r.refresh();
    expect(r.instances().find((i) => i.id === "a")!.downUntil).toBeGreaterThan(0);
    expect(events).toContain("instance-down");
  });

  it("retries a POST whose instance refuses the connection, body intact; 502 when none is left", async () => {
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
    await r.settled();
    const body = "x".repeat(100_000);
    for (let i = 0; i < 4; i++) {
      const reply = await request(r.url, { method: "POST", body, headers: { "content-type": "text/plain" } });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).body).toBe(body);
    }
    await eventually(() => r.stats("v1").requests === 4);
    expect(r.stats("v1")).toMatchObject({ failed: 0 });
    expect(r.stats("v1").retries).toBeGreaterThan(0);
    await b.close();
    const reply = await request(r.url);
    expect(reply.status).toBeGreaterThanOrEqual(502);
    expect(reply.headers["x-slipway-version"]).toBe("v1");
    await eventually(() => r.stats("v1").failed === 1);
  });

  it("answers 504 when an instance sends no response in time", async () => {
    const slow = await backend("slow", () => {});
    const r = await router({ responseTimeoutMs: 200 });
    r.configure({ backends: { v1: [{ id: "slow", url: slow.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const reply = await request(r.url);
    expect(reply.status).toBe(504);
    await eventually(() => r.stats("v1").failed === 1);
  });

  it("counts 5xx responses of the instances apart from router failures", async () => {
    const a = await backend("a", (req, res) => {
      res.statusCode = req.url === "/boom" ? 500 : 200;
      res.end("x");
    });
    const r = await router({ versionHeader: false });
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    await r.settled();
    const agent = keepAlive();
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

  it("passes websocket upgrades through, following the rules, and counts them", async () => {
    const ws = async (id: string) => {
      const b = await startBackend(id, (_req, res) => res.end(id));
      const wss = new WebSocketServer({ server: b.server });
      wss.on("connection", (s) => s.on("message", (data) => s.send(`${id}:${data}`)));
      cleanups.push(async () => {
        for (const c of wss.clients) c.terminate();
        await new Promise((resolve) => wss.close(resolve));
        await b.close();
      });
      return b;
    };
    const [a, b] = [await ws("a"), await ws("b")];
    const r = await router();
    r.configure({
      backends: { v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] },
      routes: { weights: { v1: 100 }, rules: [{ header: "X-Canary", value: "always", version: "v2" }] },
    });
    await r.settled();
    const open = async (headers: Record<string, string> = {}) => {
      const socket = new WebSocket(r.url.replace("http:", "ws:"), { headers });
      const upgrade = once(socket, "upgrade");
      await once(socket, "open");
      const [res] = (await upgrade) as [http.IncomingMessage];
      cleanups.push(async () => socket.terminate());
      return { socket, version: res.headers["x-slipway-version"] };
    };
    const say = async (socket: WebSocket, text: string) => {
      const reply = once(socket, "message");
      socket.send(text);
      return String((await reply)[0]);
    };
    const first = await open();
    expect(first.version).toBe("v1");
    expect(await say(first.socket, "hello")).toBe("a:hello");
    const big = "x".repeat(200_000);
    expect(await say(first.socket, big)).toBe(`a:${big}`);
    const canary = await open({ "X-Canary": "always" });
    expect(await say(canary.socket, "hi")).toBe("b:hi");
    await r.refresh();
    expect(r.stats("v1").websockets).toEqual({ open: 1, total: 1 });
    expect(r.instances().find((i) => i.id === "a")).toMatchObject({ websockets: 1, inflight: 0 });
    first.socket.close();
    await eventually(() => r.stats("v1").requests === 1);
    await r.refresh();
    expect(r.stats("v1").websockets).toEqual({ open: 0, total: 1 });
    expect(r.stats("v1").failed).toBe(0);
  });

  it("closes gracefully: stops listening, lets an in-flight request finish, and its haproxy exits", async () => {
    let release: () => void = () => {};
    const a = await backend("a", (_req, res) => {
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
    expect(() => r.setRoutes({ weights: { v1: 100 } })).toThrow(/closed/);
  });

  it("closes when its signal is aborted", async () => {
    const controller = new AbortController();
    const r = await router({ signal: controller.signal });
    const pid = r.pid;
    controller.abort();
    await eventually(() => !processAlive(pid));
  });

  it("refuses a port in use as the Node router does, and a missing haproxy binary clearly", async () => {
    const r = await router();
    await expect(
      createHaproxyRouter({ listen: { host: "127.0.0.1", port: r.address.port }, name: "other" }),
    ).rejects.toThrow(/cannot listen on 127.0.0.1/);
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
    cleanups.push(async () => rmSync(stateDir, { recursive: true, force: true }));
    const script = `
      const { createHaproxyRouter } = await import(${JSON.stringify(fileURLToPath(new URL("./router.ts", import.meta.url)))});
      const r = await createHaproxyRouter({ listen: { host: "127.0.0.1", port: 0 }, name: "orphan", stateDir: ${JSON.stringify(stateDir)} });
      console.log("pid " + r.pid);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    cleanups.push(async () => void child.kill("SIGKILL"));
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
