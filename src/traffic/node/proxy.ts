// The request path: pick a version and an instance, forward, stream the answer back, count it.
// Written on node:http directly (see docs/internals/router.md for why not http-proxy-3): the retry rule needs
// to hold the request body back until the upstream connection exists, and the hot path avoids
// per-request URL parsing and header objects (headers travel as flat raw arrays).
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { pickVersion, type RouteTable } from "../routes.js";
import type { VersionCounters } from "../stats.js";
import type { RouterEvent } from "../types.js";
import { forwardHeaders, responseHeaders } from "./headers.js";
import type { Instance, VersionPool } from "./instance.js";

/** What a request reads once, at its start: a reconfiguration swaps the whole object. */
export type Snapshot = {
  readonly table: RouteTable | null;
  readonly pools: ReadonlyMap<string, VersionPool>;
};

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

export function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "";
}

export function describe(err: unknown): string {
  const code = codeOf(err);
  const message = (err as Error)?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

export function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
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
export function countUnrouted(host: ProxyHost): void {
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
