// What every Router does with long connections (websockets, streamed bodies) and its listening socket
// (conformance.test.ts: HTTP requests). Asked of each kind this machine runs, against real backends
// on 127.0.0.1.
// Figures are read with eventually(): the Node router counts as each request ends, HAProxy a moment
// later (its log); gauges too (HAProxy's are polled). Where the kinds answer differently by design,
// the expectation names the kind.
import { createHash } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { routerKinds } from "./index.js";
import { eventually, request, say, sleep, startBackend, TrafficBed } from "./testing.js";

const bed = new TrafficBed();
afterEach(() => bed.cleanup());

const MB = 1024 * 1024;

describe.each(routerKinds())("%s router", (kind) => {
  const router = (options?: Parameters<TrafficBed["router"]>[1]) => bed.router(kind, options);

  describe("websockets", () => {
    it("proxies an echo, follows the rules for the upgrade, names the version and counts the connection", async () => {
      const [a, b] = [await bed.wsBackend("a"), await bed.wsBackend("b")];
      const r = await router();
      r.configure({
        backends: { v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] },
        routes: { weights: { v1: 100 }, rules: [{ header: "X-Canary", value: "always", version: "v2" }] },
      });
      await r.settled();
      const first = await bed.webSocket(r.url);
      expect(first.version).toBe("v1");
      expect(await say(first.ws, "hello")).toBe("a:hello");
      const big = "x".repeat(200_000);
      expect(await say(first.ws, big)).toBe(`a:${big}`);
      const canary = await bed.webSocket(r.url, { "X-Canary": "always" });
      expect(canary.version).toBe("v2");
      expect(await say(canary.ws, "hi")).toBe("b:hi");
      await eventually(() => r.stats("v1").websockets.open === 1);
      expect(r.stats("v1").websockets).toEqual({ open: 1, total: 1 });
      await eventually(() => r.instances().find((i) => i.id === "a")?.websockets === 1);
      expect(r.instances().find((i) => i.id === "a")).toMatchObject({ websockets: 1, inflight: 0 });
      first.ws.close();
      await eventually(() => r.stats("v1").websockets.open === 0 && r.stats("v1").requests === 1);
      expect(r.stats("v1")).toMatchObject({ requests: 1, failed: 0, websockets: { open: 0, total: 1 } });
    });

    it("on drain: new websockets go elsewhere, open ones are closed at the timeout", async () => {
      const [a, b] = [await bed.wsBackend("a"), await bed.wsBackend("b")];
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
      const first = await bed.webSocket(r.url);
      expect(await say(first.ws, "1")).toBe("a:1");
      const closed = once(first.ws, "close");
      const started = Date.now();
      const draining = r.drain("a", { timeoutMs: 300 });
      await r.settled();
      const second = await bed.webSocket(r.url);
      expect(await say(second.ws, "2")).toBe("b:2");
      expect(await say(first.ws, "still")).toBe("a:still");
      const [code] = await closed;
      // The Node router sends a 1001 "going away" close frame; HAProxy cuts the connection.
      expect(code).toBe(kind === "node" ? 1001 : 1006);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(await draining).toMatchObject({
        instanceId: "a",
        graceful: false,
        forcedWebsockets: 1,
        forcedRequests: 0,
      });
      await eventually(() => r.instances().find((i) => i.id === "a")?.websockets === 0);
      expect(r.instances().find((i) => i.id === "a")).toMatchObject({ websockets: 0, draining: true });
      expect(await say(second.ws, "3")).toBe("b:3");
    });

    it("fails the upgrade when no instance takes it, and counts it failed", async () => {
      const dead = await startBackend("dead");
      await dead.kill();
      const r = await router();
      r.configure({ backends: { v1: [{ id: "dead", url: dead.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const ws = new WebSocket(r.url.replace("http:", "ws:"));
      ws.on("error", () => {});
      const [, res] = (await once(ws, "unexpected-response")) as [unknown, http.IncomingMessage];
      // The Node router tried both attempts (502); HAProxy finds no server up (503).
      expect(res.statusCode).toBe(kind === "node" ? 502 : 503);
      ws.terminate();
      await eventually(() => r.stats("v1").failed === 1);
    });
  });

  describe("streaming", () => {
    const single = async (handler: Parameters<TrafficBed["backend"]>[1]) => {
      const a = await bed.backend("a", handler);
      const r = await router();
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      return r;
    };

    it("passes a 50 MB response without buffering it: the backend waits for a slow reader", async () => {
      const block = Buffer.alloc(64 * 1024, 7);
      let written = 0;
      const r = await single((_req, res) => {
        res.writeHead(200, { "content-length": 50 * MB });
        const pump = () => {
          while (written < 50 * MB) {
            written += block.length;
            if (!res.write(block)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
      });
      const rssBefore = process.memoryUsage().rss;
      let received = 0;
      let writtenWhenPaused = 0;
      await new Promise<void>((resolve, reject) => {
        http
          .get(r.url, (res) => {
            let paused = false;
            res.on("data", (chunk: Buffer) => {
              received += chunk.length;
              if (!paused && received >= 5 * MB) {
                paused = true;
                res.pause();
                // While the client reads nothing, the backend must soon stall on backpressure.
                void sleep(300).then(() => {
                  writtenWhenPaused = written;
                  res.resume();
                });
              }
            });
            res.on("end", resolve);
            res.on("error", reject);
          })
          .on("error", reject);
      });
      const growth = process.memoryUsage().rss - rssBefore;
      expect(received).toBe(50 * MB);
      // Socket buffers and stream high-water marks on three hops: a few MB ahead, not 45.
      expect(writtenWhenPaused - 5 * MB).toBeLessThan(20 * MB);
      // Loose: 100 MB of socket reads churn through the allocator on the way (the client, and the Node
      // router, share this process), so RSS grows some tens of MB even without buffering; holding the
      // body would add its 50 MB.
      expect(growth).toBeLessThan(80 * MB);
    });

    it("streams a chunked 20 MB upload to the instance intact", async () => {
      const r = await single((req, res) => {
        const hash = createHash("sha256");
        let size = 0;
        req.on("data", (c: Buffer) => {
          size += c.length;
          hash.update(c);
        });
        req.on("end", () => res.end(JSON.stringify({ size, sha: hash.digest("hex") })));
      });
      const expected = createHash("sha256");
      const reply = await new Promise<string>((resolve, reject) => {
        const req = http.request(r.url, { method: "PUT" }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        let sent = 0;
        const pump = () => {
          while (sent < 20 * MB) {
            const chunk = Buffer.alloc(256 * 1024, sent % 251);
            sent += chunk.length;
            expected.update(chunk);
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      });
      expect(JSON.parse(reply)).toEqual({ size: 20 * MB, sha: expected.digest("hex") });
    });

    it("delivers a slowly chunked response chunk by chunk", async () => {
      const r = await single((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        let n = 0;
        const tick = setInterval(() => {
          res.write(`chunk ${n}\n`);
          if (++n === 5) {
            clearInterval(tick);
            res.end();
          }
        }, 80);
      });
      const arrivals: number[] = [];
      const start = Date.now();
      const body = await new Promise<string>((resolve, reject) => {
        http.get(r.url, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            arrivals.push(Date.now() - start);
            text += chunk;
          });
          res.on("end", () => resolve(text));
          res.on("error", reject);
        });
      });
      expect(body).toBe("chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
      expect(arrivals.length).toBeGreaterThanOrEqual(4);
      // The first chunk arrived long before the last was written: nothing holds small chunks back
      // (server-sent events and the like).
      expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThan(200);
    });
  });

  describe("listening and closing", () => {
    it("refuses a port in use with the same error", async () => {
      const r = await router();
      await expect(bed.router(kind, { listen: r.address, name: "other" })).rejects.toThrow(
        /cannot listen on 127.0.0.1/,
      );
    });

    it("closes gracefully: stops listening, lets an in-flight request finish, refuses changes after", async () => {
      let release: () => void = () => {};
      const a = await bed.backend("a", (_req, res) => {
        release = () => res.end("finished");
      });
      const r = await router();
      r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
      await r.settled();
      const inflight = request(r.url);
      await eventually(() => a.hits === 1);
      const closed = r.close({ timeoutMs: 5000 });
      await sleep(200);
      await expect(request(r.url)).rejects.toThrow();
      release();
      expect((await inflight).body).toBe("finished");
      await closed;
      expect(() => r.setRoutes({ weights: { v1: 100 } })).toThrow(/closed/);
    });

    it("closes when its signal is aborted", async () => {
      const controller = new AbortController();
      const r = await router({ signal: controller.signal });
      expect((await request(r.url)).status).toBe(503);
      controller.abort();
      // Closing from the moment of the abort; close() then returns that same closing.
      expect(() => r.setRoutes({ weights: {} })).toThrow(/closed/);
      await r.close();
      await expect(request(r.url)).rejects.toThrow();
    });
  });
});
