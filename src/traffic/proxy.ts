// The request path: pick a version and an instance, forward, stream the answer back, count it.
// Written on node:http directly (see docs/router.md for why not http-proxy-3): the retry rule needs
// to hold the request body back until the upstream connection exists, and the hot path avoids
// per-request URL parsing and header objects (headers travel as flat raw arrays).
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Instance, VersionPool } from "./instance.js";
import { pickVersion, type RouteTable } from "./routes.js";
import type { VersionCounters } from "./stats.js";
import { WebSocketTunnel } from "./websocket.js";

/** What a request reads once, at its start: a reconfiguration swaps the whole object. */
export type Snapshot = {
  readonly table: RouteTable | null;
  readonly pools: ReadonlyMap<string, VersionPool>;
};

export type RouterEvent =
  | { type: "retry"; instanceId: string; version: string; error: string }
  | { type: "instance-down"; instanceId: string; version: string; error: string }
  | { type: "upstream-error"; instanceId: string; version: string; error: string };

export type ProxySettings = {
  versionHeader: string | false;
  trustForwarded: boolean;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
};

export interface ProxyHost {
  readonly snapshot: Snapshot;
  readonly settings: ProxySettings;
  counters(version: string): VersionCounters;
  /** Requests no version could take (no route): answered 503 by the router itself, counted as failed. */
  readonly unrouted: VersionCounters;
  observe(counters: VersionCounters, seconds: number): void;
  event(e: RouterEvent): void;
}

/** Errors that mean no connection was made, so nothing of the request was sent. */
const connectCodes = new Set([
  "ECONNREFUSED",
  "ECONNECTTIMEOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Methods a request may be replayed for once it was sent (RFC 9110 §9.2.2), when it had no body. */
const idempotent = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

type Exchange = {
  req: IncomingMessage;
  res: ServerResponse;
  pool: VersionPool;
  counters: VersionCounters;
  start: number;
  hasBody: boolean;
  headers: string[] | null;
  instance: Instance | null;
  preq: http.ClientRequest | null;
  bodyStarted: boolean;
  responded: boolean;
  retried: boolean;
  failed: boolean;
  done: boolean;
  status: number;
  timer: NodeJS.Timeout | undefined;
};

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "";
}

function describe(err: unknown): string {
  const code = codeOf(err);
  const message = (err as Error)?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Request headers for the instance: hop-by-hop ones dropped, X-Forwarded-* added. */
export function forwardHeaders(
  req: IncomingMessage,
  authority: string,
  trust: boolean,
  upgrade: boolean,
): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  let proto: string | undefined;
  let fwdHost: string | undefined;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const n = name.length;
    // Lowercase only names that could be one of those below (all have these lengths).
    if (
      n === 2 ||
      n === 4 ||
      n === 6 ||
      n === 7 ||
      n === 10 ||
      n === 15 ||
      n === 16 ||
      n === 17 ||
      n === 19
    ) {
      const lower = name.toLowerCase();
      switch (lower) {
        case "connection":
          connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        case "keep-alive":
        case "proxy-connection":
        case "proxy-authorization":
        case "te":
        case "trailer":
        case "upgrade":
        case "expect": // the router's own server answered any 100-continue
          continue;
        case "x-forwarded-for":
          xff = xff === undefined ? value : `${xff}, ${value}`;
          continue;
        case "x-forwarded-proto":
          if (trust) proto ??= value;
          continue;
        case "x-forwarded-host":
          if (trust) fwdHost ??= value;
          continue;
        case "host":
          host = value;
          break;
      }
    }
    out.push(name, value);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  if (host === undefined) {
    host = authority;
    out.push("Host", authority);
  }
  const client = req.socket.remoteAddress ?? "";
  out.push("X-Forwarded-For", xff === undefined ? client : `${xff}, ${client}`);
  out.push("X-Forwarded-Proto", proto ?? "http");
  out.push("X-Forwarded-Host", fwdHost ?? host);
  if (upgrade) out.push("Connection", "Upgrade", "Upgrade", req.headers.upgrade ?? "websocket");
  return out;
}

/** Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function dropConnectionListed(headers: string[], connection: string): void {
  if (connection.length <= 10 && /^\s*(keep-alive|close|upgrade)\s*$/i.test(connection)) return;
  const listed = new Set(
    connection
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== "" && t !== "close" && t !== "keep-alive" && t !== "upgrade"),
  );
  if (listed.size === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (listed.has(headers[i].toLowerCase())) headers.splice(i, 2);
  }
}

/** Response headers for the client: the connection management ones are the router's own. */
function responseHeaders(raw: string[], versionHeader: string | false, version: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const n = name.length;
    if (n === 7 || n === 10 || n === 16) {
      const lower = name.toLowerCase();
      if (
        lower === "connection" ||
        lower === "keep-alive" ||
        lower === "proxy-connection" ||
        lower === "trailer" ||
        lower === "upgrade"
      )
        continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (versionHeader) out.push(versionHeader, version);
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h["transfer-encoding"] !== undefined) return true;
  const len = h["content-length"];
  return len !== undefined && len !== "0";
}

export function handleRequest(host: ProxyHost, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const snapshot = host.snapshot;
  const version = snapshot.table === null ? undefined : pickVersion(snapshot.table, req.headers);
  const pool = version === undefined ? undefined : snapshot.pools.get(version);
  if (pool === undefined) {
    plainResponse(res, 503, "no route: the router has no routes configured", false, "");
    countUnrouted(host);
    return;
  }
  const counters = host.counters(pool.version);
  counters.inflight++;
  const ex: Exchange = {
    req,
    res,
    pool,
    counters,
    start,
    hasBody: hasBody(req),
    headers: null,
    instance: null,
    preq: null,
    bodyStarted: false,
    responded: false,
    retried: false,
    failed: false,
    done: false,
    status: 0,
    timer: undefined,
  };
  res.once("close", () => complete(host, ex));
  attempt(host, ex, undefined);
}

/** A request the router answered itself because no version could take it: a failure clients saw. */
function countUnrouted(host: ProxyHost): void {
  const c = host.unrouted;
  c.requests++;
  c.failed++;
  c.window.record(Date.now(), -1, false, true);
}

function attempt(host: ProxyHost, ex: Exchange, exclude: Instance | undefined): void {
  const inst = ex.pool.pick(exclude);
  if (inst === undefined) {
    fail(host, ex, exclude ? 502 : 503, `no available instance of version ${ex.pool.version}`);
    return;
  }
  const settings = host.settings;
  ex.instance = inst;
  inst.inflight++;
  ex.headers ??= forwardHeaders(ex.req, inst.authority, settings.trustForwarded, false);
  const preq = (inst.secure ? https : http).request({
    host: inst.host,
    port: inst.port,
    method: ex.req.method,
    path: ex.req.url,
    headers: ex.headers,
    agent: inst.agent,
  });
  ex.preq = preq;
  preq.on("response", (pres) => onResponse(host, ex, preq, pres));
  preq.on("error", (err) => onUpstreamError(host, ex, preq, err));
  // The response timeout runs from the end of the request (a long upload is not cut).
  preq.once("finish", () => {
    if (ex.preq !== preq || ex.done || ex.responded) return;
    ex.timer = setTimeout(
      () =>
        preq.destroy(
          errorWithCode(`no response within ${settings.responseTimeoutMs} ms`, "ERESPONSETIMEOUT"),
        ),
      settings.responseTimeoutMs,
    );
  });
  if (!ex.hasBody) {
    preq.end();
    return;
  }
  // The body is read from the client only once the upstream connection exists, so a connect error
  // loses none of it and the request can go to another instance.
  preq.once("socket", (socket: Socket) => {
    if (socket.connecting) socket.once("connect", () => sendBody(ex, preq));
    else sendBody(ex, preq);
  });
}

function sendBody(ex: Exchange, preq: http.ClientRequest): void {
  if (ex.preq !== preq || ex.done || ex.bodyStarted) return;
  ex.bodyStarted = true;
  ex.req.pipe(preq);
}

function onResponse(host: ProxyHost, ex: Exchange, preq: http.ClientRequest, pres: IncomingMessage): void {
  if (ex.preq !== preq || ex.done) {
    pres.resume();
    return;
  }
  clearTimeout(ex.timer);
  ex.responded = true;
  const inst = ex.instance!;
  if (inst.downUntil !== 0) inst.markUp();
  const status = pres.statusCode ?? 502;
  ex.status = status;
  const res = ex.res;
  res.writeHead(
    status,
    pres.statusMessage,
    responseHeaders(pres.rawHeaders, host.settings.versionHeader, inst.version),
  );
  // pipe() without its bookkeeping: forward chunks, pause on backpressure, end with the upstream.
  pres.on("data", (chunk: Buffer) => {
    if (!res.write(chunk)) {
      pres.pause();
      res.once("drain", () => pres.resume());
    }
  });
  pres.on("end", () => res.end());
  const cut = () => {
    if (!pres.complete && !ex.done) {
      ex.failed = true;
      res.destroy();
    }
  };
  pres.on("error", cut);
  pres.on("close", cut);
}

function onUpstreamError(host: ProxyHost, ex: Exchange, preq: http.ClientRequest, err: Error): void {
  if (ex.preq !== preq || ex.done) return;
  clearTimeout(ex.timer);
  const inst = ex.instance!;
  if (ex.responded) {
    // The response had begun: nothing to retry, the client gets a cut response.
    ex.failed = true;
    host.event({ type: "upstream-error", instanceId: inst.id, version: inst.version, error: describe(err) });
    ex.res.destroy();
    return;
  }
  const code = codeOf(err);
  const nothingSent = connectCodes.has(code);
  if (nothingSent) {
    inst.markDown(Date.now());
    host.event({ type: "instance-down", instanceId: inst.id, version: inst.version, error: describe(err) });
  }
  release(ex);
  ex.preq = null;
  const retryable =
    !ex.retried &&
    !ex.res.headersSent &&
    !ex.bodyStarted &&
    code !== "ERESPONSETIMEOUT" &&
    (nothingSent || (!ex.hasBody && idempotent.has(ex.req.method ?? "")));
  if (retryable) {
    ex.retried = true;
    ex.counters.retries++;
    host.event({ type: "retry", instanceId: inst.id, version: inst.version, error: describe(err) });
    attempt(host, ex, inst);
    return;
  }
  if (code === "ERESPONSETIMEOUT") fail(host, ex, 504, `instance ${inst.id}: ${describe(err)}`);
  else fail(host, ex, 502, `instance ${inst.id}: ${describe(err)}`);
}

function release(ex: Exchange): void {
  const inst = ex.instance;
  if (inst === null) return;
  ex.instance = null;
  inst.inflight--;
  if (inst.inflight === 0) inst.released();
}

function fail(host: ProxyHost, ex: Exchange, status: number, message: string): void {
  ex.failed = true;
  if (ex.res.headersSent) ex.res.destroy();
  else plainResponse(ex.res, status, message, host.settings.versionHeader, ex.pool.version);
}

function plainResponse(
  res: ServerResponse,
  status: number,
  message: string,
  versionHeader: string | false,
  version: string,
): void {
  const body = `${message}\n`;
  const headers: string[] = [
    "Content-Type",
    "text/plain; charset=utf-8",
    "Content-Length",
    String(Buffer.byteLength(body)),
  ];
  if (versionHeader && version) headers.push(versionHeader, version);
  res.writeHead(status, headers);
  res.end(body);
}

/** The client response is over (sent, or its connection gone): settle the counts. */
function complete(host: ProxyHost, ex: Exchange): void {
  if (ex.done) return;
  ex.done = true;
  clearTimeout(ex.timer);
  const finished = ex.res.writableFinished;
  if (!finished && ex.preq !== null) ex.preq.destroy();
  release(ex);
  const c = ex.counters;
  c.inflight--;
  if (!finished && !ex.failed) {
    c.aborted++;
    return;
  }
  c.requests++;
  const error5xx = !ex.failed && ex.status >= 500;
  if (error5xx) c.errors5xx++;
  if (ex.failed) {
    c.failed++;
    c.window.record(Date.now(), -1, false, true);
    return;
  }
  const ms = performance.now() - ex.start;
  c.window.record(Date.now(), ms, error5xx, false);
  host.observe(c, ms / 1000);
}

// WebSocket upgrades -------------------------------------------------------------------------------

type Upgrade = {
  req: IncomingMessage;
  socket: Socket;
  head: Buffer;
  pool: VersionPool;
  counters: VersionCounters;
  headers: string[] | null;
  instance: Instance | null;
  preq: http.ClientRequest | null;
  connected: boolean;
  retried: boolean;
  done: boolean;
};

function rawResponse(socket: Socket, status: number, reason: string, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function headBlock(firstLine: string, raw: string[], extra: string[]): string {
  let s = `${firstLine}\r\n`;
  for (let i = 0; i < raw.length; i += 2) s += `${raw[i]}: ${raw[i + 1]}\r\n`;
  for (let i = 0; i < extra.length; i += 2) s += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return `${s}\r\n`;
}

export function handleUpgrade(host: ProxyHost, req: IncomingMessage, socket: Socket, head: Buffer): void {
  socket.on("error", () => socket.destroy());
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
    rawResponse(socket, 400, "Bad Request", "only websocket upgrades are proxied");
    return;
  }
  const snapshot = host.snapshot;
  const version = snapshot.table === null ? undefined : pickVersion(snapshot.table, req.headers);
  const pool = version === undefined ? undefined : snapshot.pools.get(version);
  if (pool === undefined) {
    rawResponse(socket, 503, "Service Unavailable", "no route: the router has no routes configured");
    countUnrouted(host);
    return;
  }
  const up: Upgrade = {
    req,
    socket,
    head,
    pool,
    counters: host.counters(pool.version),
    headers: null,
    instance: null,
    preq: null,
    connected: false,
    retried: false,
    done: false,
  };
  up.counters.inflight++;
  socket.once("close", () => {
    if (up.done) return;
    up.preq?.destroy();
    finishUpgrade(up, "aborted");
  });
  attemptUpgrade(host, up, undefined);
}

function finishUpgrade(up: Upgrade, outcome: "ok" | "failed" | "aborted" | "5xx"): void {
  if (up.done) return;
  up.done = true;
  const inst = up.instance;
  if (inst !== null) {
    up.instance = null;
    inst.inflight--;
    if (inst.inflight === 0) inst.released();
  }
  const c = up.counters;
  c.inflight--;
  if (outcome === "aborted") {
    c.aborted++;
    return;
  }
  c.requests++;
  if (outcome === "failed") c.failed++;
  if (outcome === "5xx") c.errors5xx++;
  c.window.record(Date.now(), -1, outcome === "5xx", outcome === "failed");
}

function attemptUpgrade(host: ProxyHost, up: Upgrade, exclude: Instance | undefined): void {
  const inst = up.pool.pick(exclude);
  if (inst === undefined) {
    rawResponse(
      up.socket,
      exclude ? 502 : 503,
      exclude ? "Bad Gateway" : "Service Unavailable",
      `no available instance of version ${up.pool.version}`,
    );
    finishUpgrade(up, "failed");
    return;
  }
  const settings = host.settings;
  up.instance = inst;
  inst.inflight++;
  up.connected = false;
  up.headers ??= forwardHeaders(up.req, inst.authority, settings.trustForwarded, true);
  const preq = (inst.secure ? https : http).request({
    host: inst.host,
    port: inst.port,
    method: "GET",
    path: up.req.url,
    headers: up.headers,
    // A websocket keeps its connection: a fresh one, not one from the keep-alive pool.
    agent: false,
  });
  up.preq = preq;
  const timer = setTimeout(
    () =>
      preq.destroy(errorWithCode(`no response within ${settings.connectTimeoutMs} ms`, "ECONNECTTIMEOUT")),
    settings.connectTimeoutMs,
  );
  preq.once("socket", (s: Socket) => {
    if (!s.connecting) up.connected = true;
    else s.once("connect", () => (up.connected = true));
  });
  preq.on("upgrade", (pres, psocket: Socket, phead: Buffer) => {
    clearTimeout(timer);
    if (up.done) {
      psocket.destroy();
      return;
    }
    if (inst.downUntil !== 0) inst.markUp();
    const extra = settings.versionHeader ? [settings.versionHeader, inst.version] : [];
    up.socket.write(headBlock("HTTP/1.1 101 Switching Protocols", pres.rawHeaders, extra));
    const c = up.counters;
    const tunnel: WebSocketTunnel = new WebSocketTunnel(up.socket, psocket, up.head, phead, () => {
      inst.websockets.delete(tunnel);
      c.websocketsOpen--;
      inst.released();
    });
    inst.websockets.add(tunnel);
    c.websocketsOpen++;
    c.websocketsTotal++;
    finishUpgrade(up, "ok");
  });
  preq.on("response", (pres) => {
    // The instance answered without upgrading: relay its answer and close.
    clearTimeout(timer);
    if (up.done) {
      pres.resume();
      return;
    }
    const status = pres.statusCode ?? 502;
    // The body is relayed decoded and delimited by the connection's close.
    const headers = responseHeaders(pres.rawHeaders, settings.versionHeader, inst.version).filter(
      (_, i, all) => all[i - (i % 2)].toLowerCase() !== "transfer-encoding",
    );
    up.socket.write(headBlock(`HTTP/1.1 ${status} ${pres.statusMessage}`, headers, ["Connection", "close"]));
    pres.pipe(up.socket);
    finishUpgrade(up, status >= 500 ? "5xx" : "ok");
  });
  preq.on("error", (err) => {
    clearTimeout(timer);
    if (up.done || up.preq !== preq) return;
    const nothingSent = !up.connected;
    if (nothingSent) {
      inst.markDown(Date.now());
      host.event({ type: "instance-down", instanceId: inst.id, version: inst.version, error: describe(err) });
    }
    inst.inflight--;
    if (inst.inflight === 0) inst.released();
    up.instance = null;
    up.preq = null;
    if (!up.retried) {
      up.retried = true;
      up.counters.retries++;
      host.event({ type: "retry", instanceId: inst.id, version: inst.version, error: describe(err) });
      attemptUpgrade(host, up, inst);
      return;
    }
    rawResponse(up.socket, 502, "Bad Gateway", `instance ${inst.id}: ${describe(err)}`);
    finishUpgrade(up, "failed");
  });
  preq.end();
}
