// Real servers and clients on 127.0.0.1 for the routers' tests (not used by the routers themselves):
// backends (HTTP and websocket echo), clients (one request, a load of them, a websocket), and a
// TrafficBed that starts either kind of router and closes everything it started after each test.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { sleep } from "../lib/async.js";
import { createRouter } from "./choose.js";
import type { HaproxyRouterOptions } from "./haproxy/router.js";
import type { Router, RouterKind } from "./types.js";

export type Backend = {
  id: string;
  url: string;
  /** Requests this backend received. */
  hits: number;
  /** Connections currently open to it. */
  readonly sockets: Set<Socket>;
  /** Crash: every connection reset, the port closed. */
  kill(): Promise<void>;
  close(): Promise<void>;
  server: http.Server;
};

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, backend: Backend) => void;

/** Answers `{"id": …, "method", "url", "headers", "body"}` unless given its own handler. */
export const echo: Handler = (req, res, backend) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.stringify({
      id: backend.id,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
};

export async function startBackend(id: string, handler: Handler = echo): Promise<Backend> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    backend.hits++;
    handler(req, res, backend);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const backend: Backend = {
    id,
    url: `http://127.0.0.1:${port}`,
    hits: 0,
    sockets,
    server,
    async kill() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  return backend;
}

export type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };

export function request(
  url: string,
  options: {
    method?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: string | Buffer;
    agent?: http.Agent;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: options.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** The id of the backend that answered an `echo` request. */
export function servedBy(reply: Reply): string {
  return (JSON.parse(reply.body) as { id: string }).id;
}

export { sleep };

/**
 * Resolves once `check` holds (polling every 5 ms), or rejects after `ms`. Not test/support's waitFor:
 * src/ does not import test/, and figures change within milliseconds, not the 100 ms waitFor polls at.
 */
export async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await sleep(5);
  }
}

export type LoadReply = { status: number; id: string; version: string };

/** Runs `total` requests, `concurrency` at a time, and returns every reply (errors as status 0). */
export async function load(
  url: string,
  total: number,
  concurrency: number,
  agent: http.Agent,
  options: { headers?: http.OutgoingHttpHeaders; method?: string; body?: string } = {},
): Promise<LoadReply[]> {
  const replies: LoadReply[] = [];
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

/** Sends a websocket message and resolves with the next message received. */
export async function say(ws: WebSocket, text: string): Promise<string> {
  const reply = once(ws, "message");
  ws.send(text);
  const [data] = await reply;
  return String(data);
}

/**
 * What a test starts, closed after it (in reverse order) by cleanup(): call it from afterEach.
 * Routers are on 127.0.0.1 port 0; HAProxy ones with few slots and a 100 ms poll, so tests start
 * them fast and see gauges soon.
 */
export class TrafficBed {
  private readonly cleanups: (() => Promise<void>)[] = [];

  defer(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    while (this.cleanups.length > 0) await this.cleanups.pop()!();
  }

  /** Options only HAProxy knows are ignored by the Node router. */
  async router(kind: RouterKind, options: Partial<HaproxyRouterOptions> = {}): Promise<Router> {
    const base = { listen: { host: "127.0.0.1", port: 0 }, name: "svc", ...options };
    const r =
      kind === "haproxy"
        ? await createRouter("haproxy", { maxVersions: 4, maxInstancesPerVersion: 4, pollMs: 100, ...base })
        : await createRouter("node", base);
    this.defer(() => r.close({ timeoutMs: 1000 }));
    return r;
  }

  async backend(id: string, handler?: Handler): Promise<Backend> {
    const b = await startBackend(id, handler);
    this.defer(() => b.close());
    return b;
  }

  /** A backend whose websockets echo each text message prefixed with its id (binary ones as they are). */
  async wsBackend(id: string): Promise<Backend> {
    const b = await startBackend(id, (_req, res) => res.end(id));
    const wss = new WebSocketServer({ server: b.server });
    wss.on("connection", (s) => s.on("message", (data, binary) => s.send(binary ? data : `${id}:${data}`)));
    this.defer(async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await b.close();
    });
    return b;
  }

  /** A keep-alive agent that counts the connections it opened. */
  keepAlive(maxSockets = 8): http.Agent & { opened: number } {
    const agent = Object.assign(new http.Agent({ keepAlive: true, maxSockets }), { opened: 0 });
    const create = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof create>) => {
      agent.opened++;
      return create(...args);
    }) as typeof agent.createConnection;
    this.defer(async () => agent.destroy());
    return agent;
  }

  /** An open websocket through `url`, and the version the upgrade's response named. */
  async webSocket(url: string, headers: Record<string, string> = {}) {
    const ws = new WebSocket(url.replace("http:", "ws:"), { headers });
    const upgrade = once(ws, "upgrade");
    await once(ws, "open");
    const [res] = (await upgrade) as [http.IncomingMessage];
    this.defer(async () => ws.terminate());
    return { ws, version: res.headers["x-slipway-version"] };
  }
}
