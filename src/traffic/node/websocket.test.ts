import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { createNodeRouter, type Router } from "../index.js";
import { type Backend, eventually, startBackend } from "../testing.js";
import { FrameBoundary } from "./websocket.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A backend whose websockets echo each message prefixed with its id. */
async function wsBackend(id: string): Promise<Backend> {
  const backend = await startBackend(id, (_req, res) => res.end(id));
  const wss = new WebSocketServer({ server: backend.server });
  wss.on("connection", (socket) =>
    socket.on("message", (data, binary) => socket.send(binary ? data : `${id}:${data}`)),
  );
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await backend.close();
  });
  return backend;
}

async function open(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url.replace("http:", "ws:"), { headers });
  const upgrade = once(ws, "upgrade");
  await once(ws, "open");
  const [res] = (await upgrade) as [import("node:http").IncomingMessage];
  cleanups.push(async () => ws.terminate());
  return { ws, version: res.headers["x-slipway-version"] };
}

async function say(ws: WebSocket, text: string): Promise<string> {
  const reply = once(ws, "message");
  ws.send(text);
  const [data] = await reply;
  return String(data);
}

async function router(): Promise<Router> {
  const r = await createNodeRouter({
    listen: { host: "127.0.0.1", port: 0 },
    name: "svc",
    balance: "round-robin",
  });
  cleanups.push(() => r.close({ timeoutMs: 1000 }));
  return r;
}

describe("FrameBoundary", () => {
  const frame = (len: number, masked: boolean) => {
    const header =
      len < 126
        ? Buffer.from([0x82, (masked ? 0x80 : 0) | len])
        : len < 65536
          ? Buffer.from([0x82, (masked ? 0x80 : 0) | 126, len >> 8, len & 255])
          : Buffer.concat([
              Buffer.from([0x82, (masked ? 0x80 : 0) | 127]),
              Buffer.from([0, 0, 0, 0, 0, len >> 16, (len >> 8) & 255, len & 255]),
            ]);
    return Buffer.concat([
      header,
      masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0),
      Buffer.alloc(len, 9),
    ]);
  };

  it("follows frames of every length class split across chunks at any point", () => {
    const stream = Buffer.concat([frame(5, false), frame(300, true), frame(70_000, false), frame(0, true)]);
    for (const size of [1, 3, 7, 1000, stream.length]) {
      const fb = new FrameBoundary();
      const boundaries: number[] = [];
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, at + size);
        let offset = 0;
        while (offset < chunk.length) {
          offset += fb.advance(chunk.subarray(offset), true);
          if (fb.atBoundary) boundaries.push(at + offset);
          if (offset < chunk.length && fb.atBoundary)
            offset += fb.advance(chunk.subarray(offset, offset + 1));
        }
      }
      expect(fb.atBoundary).toBe(true);
      expect(boundaries).toContain(7);
      expect(boundaries).toContain(7 + 4 + 4 + 300);
    }
  });
});

describe("websockets through the router", () => {
  it("proxies an echo, names the version and counts the connection", async () => {
    const a = await wsBackend("a");
    const r = await router();
    r.configure({ backends: { v1: [{ id: "a", url: a.url }] }, routes: { weights: { v1: 100 } } });
    const { ws, version } = await open(r.url);
    expect(version).toBe("v1");
    expect(await say(ws, "hello")).toBe("a:hello");
    const big = "x".repeat(200_000);
    expect(await say(ws, big)).toBe(`a:${big}`);
    expect(r.stats("v1").websockets).toEqual({ open: 1, total: 1 });
    ws.close();
    await eventually(() => r.stats("v1").websockets.open === 0);
    expect(r.stats("v1")).toMatchObject({ requests: 1, failed: 0 });
  });

  it("follows header rules for the upgrade too", async () => {
    const [a, b] = [await wsBackend("a"), await wsBackend("b")];
    const r = await router();
    r.configure({
      backends: { v1: [{ id: "a", url: a.url }], v2: [{ id: "b", url: b.url }] },
      routes: { weights: { v1: 100 }, rules: [{ header: "X-Canary", value: "always", version: "v2" }] },
    });
    const { ws } = await open(r.url, { "X-Canary": "always" });
    expect(await say(ws, "hi")).toBe("b:hi");
  });

  it("on drain: new websockets go elsewhere, open ones get 1001 going away at the timeout", async () => {
    const [a, b] = [await wsBackend("a"), await wsBackend("b")];
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
    const first = await open(r.url);
    expect(await say(first.ws, "1")).toBe("a:1");
    const closed = once(first.ws, "close");
    const started = Date.now();
    const draining = r.drain("a", { timeoutMs: 300 });
    const second = await open(r.url);
    expect(await say(second.ws, "2")).toBe("b:2");
    expect(await say(first.ws, "still")).toBe("a:still");
    const [code] = await closed;
    expect(code).toBe(1001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await draining).toMatchObject({
      instanceId: "a",
      graceful: false,
      forcedWebsockets: 1,
      forcedRequests: 0,
    });
    expect(r.instances().find((i) => i.id === "a")).toMatchObject({ websockets: 0, draining: true });
    expect(await say(second.ws, "3")).toBe("b:3");
  });

  it("answers 502 when no instance takes the upgrade", async () => {
    const dead = await startBackend("dead");
    await dead.kill();
    const r = await router();
    r.configure({ backends: { v1: [{ id: "dead", url: dead.url }] }, routes: { weights: { v1: 100 } } });
    const ws = new WebSocket(r.url.replace("http:", "ws:"));
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, import("node:http").IncomingMessage];
    expect(res.statusCode).toBe(502);
    ws.on("error", () => {});
    ws.terminate();
    expect(r.stats("v1")).toMatchObject({ failed: 1 });
  });
});
