// The Router interface on HAProxy: one haproxy process per router, configured once (config.ts) and then
// driven only through its runtime API (plan.ts → runtime.ts), so weights, rules, instances and drains
// never reload it and never drop a connection. Counts and latency come from one log line per request,
// which haproxy writes to a ring in memory and this process follows on the admin socket (log.ts), into
// the same VersionCounters and Prometheus metrics as the Node router; in-flight and websocket gauges
// come from `show stat`, polled.
// Changes are applied asynchronously, in order, within about a millisecond of configure(): settled()
// resolves when everything asked so far is in place. docs/router.md compares it with the Node router.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { OperationError, UserError } from "../lib/errors.js";
import { files, haproxyConfig, initialMaps, names, watchdogLua } from "./haproxy/config.js";
import { followLog, outcomeOf, parseLogLine } from "./haproxy/log.js";
import {
  emptyPlacement,
  type Placement,
  planBackends,
  planRoutes,
  replaceMap,
  serverPath,
  versionsMap,
} from "./haproxy/plan.js";
import { findHaproxy, type HaproxyProcess, startHaproxy } from "./haproxy/process.js";
import { openSession, prepareMap, runCommands, type StatRow, showStat } from "./haproxy/runtime.js";
import { type MetricsSource, type RouterMetrics, routerMetricsFor } from "./metrics.js";
import type { Router, RouterEvent } from "./router.js";
import { validateBackends, validateRoutes } from "./routes.js";
import { unroutedVersion, VersionCounters } from "./stats.js";
import type {
  Backends,
  DrainOptions,
  DrainResult,
  InstanceState,
  RouterOptions,
  Routes,
  VersionStats,
} from "./types.js";

export type HaproxyRouterOptions = RouterOptions & {
  /** The haproxy binary; default "haproxy" on PATH or in /usr/sbin (Debian's package, 2.6 or later). */
  haproxyBin?: string;
  /** Directory for its configuration, admin socket and maps; default a new temporary one (removed on close). */
  stateDir?: string;
  /** Versions routable at once (each is a pair of backends in the configuration). Default 8. */
  maxVersions?: number;
  /** Instances per version at once (pre-allocated server slots). Default 32. */
  maxInstancesPerVersion?: number;
  /** haproxy threads. Default 1. */
  threads?: number;
  /** How often in-flight and websocket gauges are read from haproxy. Default 500 ms. */
  pollMs?: number;
};

export interface HaproxyRouter extends Router {
  /** haproxy's process id. */
  readonly pid: number;
  /** Where its configuration, admin socket and maps are. */
  readonly dir: string;
  /** Resolves once every change asked so far is applied in haproxy; rejects if haproxy refused one. */
  settled(): Promise<void>;
  /** Reads the in-flight and websocket gauges (instances(), stats()) now instead of at the next poll. */
  refresh(): Promise<void>;
}

export async function createHaproxyRouter(options: HaproxyRouterOptions): Promise<HaproxyRouter> {
  if (typeof options.name !== "string" || options.name === "")
    throw new UserError("router: name is required");
  const positive = (v: number | undefined, what: string, fallback: number, max: number) => {
    const n = v ?? fallback;
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new UserError(`router ${options.name}: ${what} must be an integer from 1 to ${max}`);
    return n;
  };
  const limits = {
    versions: positive(options.maxVersions, "maxVersions", 8, 64),
    instances: positive(options.maxInstancesPerVersion, "maxInstancesPerVersion", 32, 1000),
    threads: positive(options.threads, "threads", 1, 64),
  };
  const router = new HaproxyTrafficRouter(options, limits);
  await router.start(options);
  return router;
}

type ServerSeen = { scur: number; down: boolean };

class HaproxyTrafficRouter implements HaproxyRouter {
  readonly name: string;
  readonly registry: Registry;
  address = { host: "", port: 0 };
  dir = "";
  onEvent: ((e: RouterEvent) => void) | undefined;
  private ownDir = false;
  private proc: HaproxyProcess | undefined;
  private log: { stop(): void } | undefined;
  private backends: Backends = {};
  private routes: Routes | null = null;
  private placement: Placement;
  private readonly counted = new Map<string, VersionCounters>();
  private readonly labels = new Map<VersionCounters, { service: string; version: string }>();
  private readonly metrics: RouterMetrics;
  private readonly source: MetricsSource;
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private dead: string | undefined;
  private servers = new Map<string, ServerSeen>();
  /** Per version slot: the version it was counted for and its websocket backend's session total then. */
  private readonly wsSeen = new Map<number, { version: string; stot: number }>();
  /** Per version slot: its websocket backend's session total at the last poll. */
  private readonly wsStot = new Map<number, number>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => void this.close();
  private readonly statsWindowMs: number;
  private readonly pollMs: number;

  private readonly options: HaproxyRouterOptions;
  private readonly limits: { versions: number; instances: number; threads: number };

  constructor(
    options: HaproxyRouterOptions,
    limits: { versions: number; instances: number; threads: number },
  ) {
    this.options = options;
    this.limits = limits;
    this.name = options.name;
    this.statsWindowMs = options.statsWindowMs ?? 60_000;
    this.pollMs = options.pollMs ?? 500;
    this.placement = emptyPlacement(limits.versions, limits.instances);
    this.registry = options.registry ?? new Registry();
    this.metrics = routerMetricsFor(this.registry);
    this.source = { service: this.name, versions: () => this.counted.values() };
    for (const s of this.metrics.sources) {
      if (s.service === this.name)
        throw new UserError(`router: a router named ${this.name} already uses this registry`);
    }
    this.signal = options.signal;
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  get url(): string {
    const h = this.address.host.includes(":") ? `[${this.address.host}]` : this.address.host;
    return `http://${h}:${this.address.port}`;
  }

  private get socket(): string {
    return files.socket(this.dir);
  }

  async start(options: HaproxyRouterOptions): Promise<void> {
    this.signal?.throwIfAborted();
    this.metrics.sources.add(this.source);
    try {
      if (options.stateDir) {
        mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
        this.dir = options.stateDir;
      } else {
        this.dir = mkdtempSync(join(tmpdir(), "slipway-haproxy-"));
        this.ownDir = true;
      }
      const s = this.options;
      writeFileSync(
        files.config(this.dir),
        haproxyConfig({
          dir: this.dir,
          bind: "fd@3",
          versionSlots: this.limits.versions,
          instanceSlots: this.limits.instances,
          threads: this.limits.threads,
          balance: s.balance ?? "least-connections",
          versionHeader: s.versionHeader === undefined ? "X-Slipway-Version" : s.versionHeader,
          trustForwarded: s.trustForwarded ?? false,
          connectTimeoutMs: s.connectTimeoutMs ?? 5000,
          responseTimeoutMs: s.responseTimeoutMs ?? 60_000,
          upstreamIdleMs: s.upstreamIdleMs ?? 4000,
          maxSocketsPerInstance: Number.isFinite(s.maxSocketsPerInstance)
            ? (s.maxSocketsPerInstance ?? 0)
            : 0,
        }),
      );
      for (const [file, text] of Object.entries(initialMaps(this.dir))) writeFileSync(file, text);
      writeFileSync(files.watchdog(this.dir), watchdogLua);
      this.proc = await this.spawnOnListener(options);
      this.log = await followLog(this.socket, names.ring, (text) => this.onLog(text));
    } catch (cause) {
      await this.cleanup();
      if (this.signal?.aborted) throw this.signal.reason;
      if (cause instanceof UserError) throw cause;
      if (/ENOENT|EACCES/.test((cause as Error).message))
        throw new UserError(
          `router ${this.name}: cannot run haproxy (${options.haproxyBin ?? "haproxy"}): install it (apt-get install haproxy) or pass haproxyBin`,
          [],
          { cause },
        );
      throw new Error(`router ${this.name}: cannot start haproxy: ${(cause as Error).message}`, { cause });
    }
    void this.proc.exited.then((state) => {
      if (this.closing) return;
      this.dead = `haproxy exited unexpectedly (${state}): ${this.proc?.stderrTail() ?? ""}`;
      this.failure = new OperationError(`router ${this.name}: ${this.dead}`);
      this.log?.stop();
    });
    this.pollTimer = setInterval(() => void this.poll().catch(() => {}), this.pollMs);
    this.pollTimer.unref();
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Binds the listening socket here (errors as the Node router's), hands it to haproxy as fd 3. */
  private async spawnOnListener(options: HaproxyRouterOptions): Promise<HaproxyProcess> {
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.listen.port, options.listen.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (cause) {
      throw new Error(`router ${this.name}: cannot listen on ${options.listen.host}:${options.listen.port}`, {
        cause,
      });
    }
    const a = server.address();
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (a === null || typeof a === "string" || typeof fd !== "number" || fd < 0) {
      server.close();
      throw new Error("router: no listening socket to hand to haproxy");
    }
    this.address = { host: a.address, port: a.port };
    // Spawned in the same tick as the listen callback, and closed here right after: this process never
    // accepts a connection on it; haproxy keeps its own copy of the socket.
    const started = startHaproxy({
      bin: options.haproxyBin ?? findHaproxy(),
      config: files.config(this.dir),
      socket: this.socket,
      listenFd: fd,
    });
    server.close();
    return started;
  }

  // Logs and polls -----------------------------------------------------------------------------------

  private counters(version: string): VersionCounters {
    let c = this.counted.get(version);
    if (c === undefined) {
      c = new VersionCounters(version, this.statsWindowMs);
      this.counted.set(version, c);
      this.labels.set(c, { service: this.name, version });
    }
    return c;
  }

  private lastLogAt = 0;

  private onLog(text: string): void {
    this.lastLogAt = Date.now();
    for (const line of text.split("\n")) {
      const e = parseLogLine(line);
      if (e === undefined) continue;
      // "-": no version was chosen (no route), HAProxy's `none` backend answered 503 itself.
      const unrouted = e.version === "-";
      const c = unrouted ? this.unrouted : this.counters(e.version);
      const o = outcomeOf(e);
      if (unrouted && !o.aborted) {
        o.failed = true;
        o.error5xx = false;
        o.latencyMs = -1;
      }
      c.requests++;
      if (o.aborted) c.aborted++;
      if (o.failed) c.failed++;
      if (o.error5xx) c.errors5xx++;
      c.retries += e.retries;
      c.window.record(Date.now(), o.latencyMs, o.error5xx, o.failed);
      if (o.latencyMs >= 0) this.metrics.duration.observe(this.labels.get(c)!, o.latencyMs / 1000);
      if (this.onEvent && (e.retries > 0 || o.failed)) {
        const instanceId = this.instanceAt(e.backend, e.server) ?? "";
        this.onEvent(
          o.failed
            ? {
                type: "upstream-error",
                instanceId,
                version: e.version,
                error: `status ${e.status}, termination ${e.termination}`,
              }
            : { type: "retry", instanceId, version: e.version, error: "connect error on the first instance" },
        );
      }
    }
  }

  private instanceAt(backend: string, server: string): string | undefined {
    for (const inst of this.placement.instances.values()) {
      const [http, ws] = serverPath(inst.slot, inst.server);
      if (http === `${backend}/${server}` || ws === `${backend}/${server}`) return inst.id;
    }
    return undefined;
  }

  private poll(): Promise<void> {
    this.polling ??= this.readGauges().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async readGauges(): Promise<void> {
    if (this.dead || this.closing) return;
    const rows = await showStat(this.socket, ["-1 6 -1 no-maint"]);
    const servers = new Map<string, ServerSeen>();
    const backends = new Map<string, StatRow>();
    for (const r of rows) {
      if (r.server === "BACKEND") backends.set(r.proxy, r);
      else servers.set(`${r.proxy}/${r.server}`, { scur: r.scur, down: r.status.startsWith("DOWN") });
    }
    for (const [key, seen] of servers) {
      if (seen.down && !this.servers.get(key)?.down && key.startsWith("ver")) {
        const [backend, server] = key.split("/");
        const inst = this.placement.instances.get(this.instanceAt(backend, server) ?? "");
        if (inst)
          this.onEvent?.({
            type: "instance-down",
            instanceId: inst.id,
            version: inst.version,
            error: "connection refused or health check failed",
          });
      }
    }
    this.servers = servers;
    for (const [version, c] of this.counted) {
      // A version that left: what may still finish on it is no longer seen.
      if (this.placement.versions.has(version)) continue;
      c.inflight = 0;
      c.websocketsOpen = 0;
    }
    for (const [version, slot] of this.placement.versions) {
      const c = this.counters(version);
      c.inflight = backends.get(names.httpBackend(slot))?.scur ?? 0;
      const ws = backends.get(names.wsBackend(slot));
      c.websocketsOpen = ws?.scur ?? 0;
      const before = this.wsSeen.get(slot);
      const stot = ws?.stot ?? 0;
      this.wsStot.set(slot, stot);
      if (before?.version !== version) continue;
      if (stot > before.stot) c.websocketsTotal += stot - before.stot;
      before.stot = stot;
    }
  }

  // Configuration ------------------------------------------------------------------------------------

  setBackends(backends: Backends): void {
    this.configure({ backends });
  }

  setRoutes(routes: Routes): void {
    this.configure({ routes });
  }

  configure(update: { backends?: Backends; routes?: Routes }): void {
    if (this.closing) throw new UserError(`router ${this.name} is closed`);
    if (this.dead) throw new OperationError(`router ${this.name}: ${this.dead}`);
    const backends = update.backends === undefined ? this.backends : validateBackends(update.backends);
    let routes = this.routes;
    if (update.routes !== undefined) routes = validateRoutes(update.routes, backends);
    else if (routes !== null && update.backends !== undefined) {
      try {
        validateRoutes(routes, backends);
      } catch (cause) {
        throw new UserError(
          `router ${this.name}: the current routes do not fit these backends (${(cause as Error).message}); change the routes first, or both together with configure()`,
          [],
          { cause },
        );
      }
    }
    const plan =
      update.backends === undefined
        ? { placement: this.placement, before: [], after: [], versionsChanged: false }
        : planBackends(this.placement, backends, this.limits.instances);
    const placement = plan.placement;
    // Route maps name backends: rewrite them when the routes or any version's slot changed.
    const routeMaps =
      update.routes !== undefined || plan.versionsChanged ? planRoutes(routes, placement, this.dir) : null;
    for (const version of Object.keys(backends)) this.counters(version);
    for (const [version, slot] of placement.versions) {
      // Websocket sessions of a slot count for its version from the moment it takes the slot.
      if (this.wsSeen.get(slot)?.version !== version)
        this.wsSeen.set(slot, { version, stot: this.wsStot.get(slot) ?? 0 });
    }
    this.placement = placement;
    this.backends = backends;
    this.routes = routes;
    const socket = this.socket;
    this.enqueue(async () => {
      await runCommands(socket, plan.before);
      const maps = [
        ...(plan.versionsChanged ? [replaceMap(files.versions(this.dir), versionsMap(placement))] : []),
        ...(routeMaps?.commands ?? []),
      ];
      for (const m of maps) await runCommands(socket, m.fill(await prepareMap(socket, m.prepare)));
      await runCommands(socket, [...(routeMaps?.after ?? []), ...plan.after]);
    });
  }

  /** Runs `work` after everything queued before it; a failure is kept for settled() and reported. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch((err: unknown) => {
      this.failure = err instanceof Error ? err : new Error(String(err));
    });
    return run;
  }

  async settled(): Promise<void> {
    await this.queue;
    const f = this.failure;
    if (f) {
      if (!this.dead) this.failure = undefined;
      throw f;
    }
  }

  refresh(): Promise<void> {
    return this.poll();
  }

  config(): { backends: Backends; routes: Routes | null } {
    return structuredClone({ backends: this.backends, routes: this.routes });
  }

  // Drain --------------------------------------------------------------------------------------------

  async drain(instanceId: string, options: DrainOptions): Promise<DrainResult> {
    const inst = this.placement.instances.get(instanceId);
    if (inst === undefined)
      throw new UserError(`router ${this.name}: no instance ${JSON.stringify(instanceId)}`);
    const started = Date.now();
    options.signal?.throwIfAborted();
    inst.draining = true;
    const [http, ws] = serverPath(inst.slot, inst.server);
    await this.enqueue(() =>
      runCommands(this.socket, [`set server ${http} state drain`, `set server ${ws} state drain`]),
    );
    const sessions = async () => {
      const rows = await showStat(this.socket, [
        `${names.httpBackend(inst.slot)} 4 -1`,
        `${names.wsBackend(inst.slot)} 4 -1`,
      ]);
      const at = (path: string) => rows.find((r) => `${r.proxy}/${r.server}` === path)?.scur ?? 0;
      return { requests: at(http), websockets: at(ws) };
    };
    const until = started + options.timeoutMs;
    let left = await sessions();
    while (left.requests + left.websockets > 0 && Date.now() < until) {
      await abortableSleep(Math.min(25, Math.max(1, until - Date.now())), options.signal);
      left = await sessions();
    }
    const graceful = left.requests + left.websockets === 0;
    const commands = graceful ? [] : [`shutdown sessions server ${http}`, `shutdown sessions server ${ws}`];
    // Out of rotation for good (no health checks either) until undrain().
    if (inst.draining) commands.push(`set server ${http} state maint`, `set server ${ws} state maint`);
    await this.enqueue(() => runCommands(this.socket, commands));
    return {
      instanceId,
      graceful,
      forcedRequests: graceful ? 0 : left.requests,
      forcedWebsockets: graceful ? 0 : left.websockets,
      durationMs: Date.now() - started,
    };
  }

  undrain(instanceId: string): void {
    const inst = this.placement.instances.get(instanceId);
    if (inst === undefined)
      throw new UserError(`router ${this.name}: no instance ${JSON.stringify(instanceId)}`);
    inst.draining = false;
    const paths = serverPath(inst.slot, inst.server);
    void this.enqueue(() =>
      runCommands(
        this.socket,
        paths.flatMap((p) => [`set server ${p} state ready`, `set server ${p} health up`]),
      ),
    ).catch(() => {});
  }

  // Reporting ----------------------------------------------------------------------------------------

  stats(version: string): VersionStats {
    const c = this.counted.get(version) ?? new VersionCounters(version, this.statsWindowMs);
    return c.snapshot(Date.now());
  }

  versions(): string[] {
    return [...this.counted.keys()];
  }

  unroutedStats(): VersionStats {
    return this.unrouted.snapshot(Date.now());
  }

  /**
   * HAProxy logs each request as it ends and the log ring reaches us a moment later: wait until the
   * log has been quiet for 100 ms (at most 1 s, since under steady load it never is).
   */
  async statsCaughtUp(): Promise<void> {
    const until = Date.now() + 1000;
    for (;;) {
      const quietFor = Date.now() - this.lastLogAt;
      if (quietFor >= 100 || Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, Math.min(100 - quietFor, until - Date.now())));
    }
  }

  private unroutedCounters: VersionCounters | undefined;
  private get unrouted(): VersionCounters {
    this.unroutedCounters ??= new VersionCounters(unroutedVersion, this.statsWindowMs);
    return this.unroutedCounters;
  }

  instances(): InstanceState[] {
    return [...this.placement.instances.values()].map((i) => {
      const [http, ws] = serverPath(i.slot, i.server);
      const seen = this.servers.get(http);
      return {
        id: i.id,
        url: i.url,
        version: i.version,
        inflight: seen?.scur ?? 0,
        websockets: this.servers.get(ws)?.scur ?? 0,
        draining: i.draining,
        // haproxy checks a down server every 500 ms and takes it back at the first success.
        downUntil: seen?.down ? Date.now() + 500 : 0,
      };
    });
  }

  // Close --------------------------------------------------------------------------------------------

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? 10_000);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.signal?.removeEventListener("abort", this.onAbort);
    await this.queue;
    await this.polling?.catch(() => {});
    await this.softStop(timeoutMs);
    await this.cleanup();
  }

  /**
   * SIGUSR1: haproxy stops listening and closes idle client connections; the log follower stays until
   * the frontend has no connection left (or timeoutMs), so the last requests are counted too; then
   * haproxy exits by itself (SIGTERM if it does not).
   */
  private async softStop(timeoutMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc || this.dead) return;
    const until = Date.now() + timeoutMs;
    const session = await openSession(this.socket).catch(() => undefined);
    proc.child.kill("SIGUSR1");
    if (session) {
      try {
        while (Date.now() < until) {
          const stat = await session.run("show stat -1 1 -1");
          const row = stat.split("\n").find((l) => l.startsWith("service,FRONTEND,"));
          if (row === undefined || Number(row.split(",")[4]) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } catch {
        // haproxy is gone or closed the session
      }
      session.close();
    }
    this.log?.stop();
    await proc.stop(Math.max(0, until - Date.now()) + 500);
  }

  private async cleanup(): Promise<void> {
    clearInterval(this.pollTimer);
    await this.proc?.stop(0);
    this.log?.stop();
    this.metrics.sources.delete(this.source);
    for (const labels of this.labels.values()) this.metrics.duration.remove(labels);
    if (this.ownDir && this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
