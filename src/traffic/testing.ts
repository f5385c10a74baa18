// Real servers and clients on 127.0.0.1 for the router's tests (not used by the router itself).
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `check` holds (polling every 5 ms), or rejects after `ms`. */
export async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await sleep(5);
  }
}
