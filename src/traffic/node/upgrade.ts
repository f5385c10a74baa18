// WebSocket upgrades: the version is picked as for a request, the upgrade goes to a fresh upstream
// connection (retried once elsewhere when the connection fails), then both sockets are joined by a
// WebSocketTunnel that the instance's drain can close with 1001 "going away".
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { pickVersion } from "../routes.js";
import type { VersionCounters } from "../stats.js";
import { forwardHeaders, responseHeaders } from "./headers.js";
import type { Instance, VersionPool } from "./instance.js";
import { countUnrouted, describe, errorWithCode, type ProxyHost } from "./proxy.js";
import { WebSocketTunnel } from "./websocket.js";

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
