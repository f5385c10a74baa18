// The router's public shapes: the Router interface both implementations (node/, haproxy/) provide,
// what deploy strategies hand it (backends, routes) and what it reports (stats).
import type { Registry } from "prom-client";

/** The implementations: slipway's own proxy in this process, or a haproxy process driven through its runtime API. */
export type RouterKind = "haproxy" | "node";

export interface Router {
  readonly name: string;
  /** Where it listens, e.g. http://127.0.0.1:41234 (the actual port when listen.port was 0). */
  readonly url: string;
  readonly address: { host: string; port: number };
  /** The prom-client registry holding this router's metrics. */
  readonly registry: Registry;
  /** Replaces the instances of every version at once. Rejected (UserError) if the routes would send traffic to a version left without instances. */
  setBackends(backends: Backends): void;
  /** Replaces weights and rules at once. Rejected (UserError) unless weights add up to 100 and name versions with instances. */
  setRoutes(routes: Routes): void;
  /** Both at once, validated together: one swap. */
  configure(update: { backends?: Backends; routes?: Routes }): void;
  config(): { backends: Backends; routes: Routes | null };
  /**
   * Resolves once every change asked so far (configure, undrain) serves requests; rejects if one was
   * refused. The Node router applies each change as it is asked (resolves at once); HAProxy's runtime
   * API applies them asynchronously, in order, within about a millisecond.
   */
  settled(): Promise<void>;
  /**
   * Takes the instance out of rotation at once and resolves when nothing is left on it (no request in
   * flight, no websocket, no idle upstream connection). After timeoutMs what remains is closed by force.
   */
  drain(instanceId: string, options: DrainOptions): Promise<DrainResult>;
  /** Puts a drained instance back into rotation (a rollback). */
  undrain(instanceId: string): void;
  /** Counts and latency of a version (zeros for a version never seen). */
  stats(version: string, options?: StatsOptions): VersionStats;
  /** Versions the router has counted (every version it was ever given). */
  versions(): string[];
  /**
   * Requests no version could take (no route: e.g. a recreate between stop and start), answered 503
   * by the router itself; all of them are `failed`. Not part of versions().
   */
  unroutedStats(options?: StatsOptions): VersionStats;
  /**
   * Resolves once the figures include the requests that had ended when it was called (HAProxy's log
   * arrives a little after each request ends); a release's impact is read after it.
   */
  statsCaughtUp(): Promise<void>;
  instances(): InstanceState[];
  /** Stops accepting connections, waits up to timeoutMs (default 10 s) for in-flight work, then closes the rest. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Called on retries, instances found down and upstream errors (for logs); replaceable. */
  onEvent: ((e: RouterEvent) => void) | undefined;
}

export type RouterEvent =
  | { type: "retry"; instanceId: string; version: string; error: string }
  | { type: "instance-down"; instanceId: string; version: string; error: string }
  | { type: "upstream-error"; instanceId: string; version: string; error: string };

/** One running instance of a version: where to reach it and the id drain() refers to it by. */
export type InstanceSpec = { id: string; url: string };

/** version → its instances. Instance ids are unique across all versions of a router. */
export type Backends = Record<string, InstanceSpec[]>;

/** A rule sends a request to `version` when a header or a cookie matches; the first matching rule wins. */
export type RouteRule = ({ header: string; cookie?: undefined } | { cookie: string; header?: undefined }) &
  ({ value: string; regex?: undefined } | { regex: string; value?: undefined }) & { version: string };

/** weights: version → percent (summing to 100); requests no rule matches are spread by these weights. */
export type Routes = { weights: Record<string, number>; rules?: RouteRule[] };

export type Balance = "round-robin" | "least-connections";

export type RouterOptions = {
  /** The address clients connect to; port 0 picks a free port (see `router.address`). */
  listen: { host: string; port: number };
  /** The service name: the `service` label of the metrics. */
  name: string;
  /** Aborting it closes the router (as close() with its default timeout). */
  signal?: AbortSignal;
  /** How a version's instances share its requests; default least-connections (round-robin among equals). */
  balance?: Balance;
  /** Response header naming the version that served the request; false leaves responses untouched. */
  versionHeader?: string | false;
  /** Keep X-Forwarded-Proto/Host sent by the client (set when a trusted proxy sits in front). Default false. */
  trustForwarded?: boolean;
  /** An upstream connection not established within this is a connect error (retried). Default 5000. */
  connectTimeoutMs?: number;
  /** No response headers from the instance within this after the request was sent → 504. Default 60000. */
  responseTimeoutMs?: number;
  /** Idle upstream keep-alive connections are closed after this; keep it below the backends' own keep-alive timeout. Default 4000. */
  upstreamIdleMs?: number;
  /** Cap on upstream connections per instance (requests queue beyond it). Default unlimited. */
  maxSocketsPerInstance?: number;
  /** The window stats() computes p50/p99 and windowed counts over. Default 60000. */
  statsWindowMs?: number;
  /** A `prom-client` Registry to register the metrics in; default a new one (router.registry). */
  registry?: Registry;
};

export type DrainOptions = {
  /** After this, remaining requests and websockets are closed (websockets with a 1001 close frame). */
  timeoutMs: number;
  signal?: AbortSignal;
};

export type DrainResult = {
  instanceId: string;
  /** false when the timeout expired and connections were closed by force. */
  graceful: boolean;
  /** Requests still in flight when the timeout expired (their clients got an error or a cut response). */
  forcedRequests: number;
  /** WebSockets still open when the timeout expired (closed with 1001 "going away"). */
  forcedWebsockets: number;
  durationMs: number;
};

/**
 * `windowMs` (at most the router's statsWindowMs) narrows `window` to the last moments, in whole 1/60th
 * slices of it: the current one and those covering the span. A live chart samples the last 2 s, not a
 * minute's average.
 */
export type StatsOptions = { windowMs?: number };

/** Counts and latency of one version. Totals since the router started; `window` over the last statsWindowMs. */
export type VersionStats = {
  version: string;
  /** Requests answered (any status, router failures included), websocket upgrades included. */
  requests: number;
  /** Responses with status ≥ 500 sent by an instance. */
  errors5xx: number;
  /** Requests the router could not complete: connect refused/reset after the retry, no instance, timeout, cut response. */
  failed: number;
  /** Attempts retried on another instance after a connect error (the request itself then usually succeeded). */
  retries: number;
  /** Clients that went away before their response was complete (not counted as failures). */
  aborted: number;
  inflight: number;
  websockets: { open: number; total: number };
  window: {
    ms: number;
    requests: number;
    errors5xx: number;
    failed: number;
    /** Latency from request received to response end, in milliseconds; null when the window is empty. */
    latency: { count: number; p50: number | null; p90: number | null; p99: number | null };
  };
};

export type InstanceState = {
  id: string;
  url: string;
  version: string;
  inflight: number;
  websockets: number;
  draining: boolean;
  /** Until when (epoch ms) the instance is skipped after a connect error; 0 when healthy. */
  downUntil: number;
};
