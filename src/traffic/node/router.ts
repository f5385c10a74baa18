// One router per service: its listening server, its configuration (swapped whole, never edited in
// place), drain and close. The request path is in proxy.ts, websocket upgrades in upgrade.ts.
import http from "node:http";
import type { Socket } from "node:net";
import { Registry } from "prom-client";
import { UserError } from "../../lib/errors.js";
import { type MetricsSource, type RouterMetrics, routerMetricsFor } from "../metrics.js";
import { compileRoutes, nextConfiguration } from "../routes.js";
import { unroutedVersion, VersionCounters } from "../stats.js";
import type {
  Backends,
  Balance,
  DrainOptions,
  DrainResult,
  InstanceState,
  Router,
  RouterEvent,
  RouterOptions,
  Routes,
  StatsOptions,
  VersionStats,
} from "../types.js";
import { Instance, VersionPool } from "./instance.js";
import { handleRequest, type ProxyHost, type ProxySettings, type Snapshot } from "./proxy.js";
import { handleUpgrade } from "./upgrade.js";

export async function createNodeRouter(options: RouterOptions): Promise<Router> {
  if (typeof options.name !== "string" || options.name === "")
    throw new UserError("router: name is required");
  const router = new TrafficRouter(options);
  await router.listen(options.listen);
  return router;
}

type Settings = ProxySettings & {
  balance: Balance;
  upstreamIdleMs: number;
  maxSockets: number;
  statsWindowMs: number;
};

class TrafficRouter implements Router, ProxyHost {
  readonly name: string;
  readonly registry: Registry;
  readonly settings: Settings;
  snapshot: Snapshot = { table: null, pools: new Map() };
  onEvent: ((e: RouterEvent) => void) | undefined;
  address = { host: "", port: 0 };
  private backends: Backends = {};
  private routes: Routes | null = null;
  private readonly byId = new Map<string, Instance>();
  private readonly retired = new Set<Instance>();
  private readonly counted = new Map<string, VersionCounters>();
  private readonly server: http.Server;
  private readonly metrics: RouterMetrics;
  private readonly source: MetricsSource;
  private readonly labels = new Map<VersionCounters, { service: string; version: string }>();
  private readonly upgraded = new Set<Socket>();
  private closing: Promise<void> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => void this.close();

  constructor(options: RouterOptions) {
    this.name = options.name;
    this.settings = {
      versionHeader: options.versionHeader === undefined ? "X-Slipway-Version" : options.versionHeader,
      trustForwarded: options.trustForwarded ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
      balance: options.balance ?? "least-connections",
      upstreamIdleMs: options.upstreamIdleMs ?? 4000,
      maxSockets: options.maxSocketsPerInstance ?? Number.POSITIVE_INFINITY,
      statsWindowMs: options.statsWindowMs ?? 60_000,
    };
    this.registry = options.registry ?? new Registry();
    this.metrics = routerMetricsFor(this.registry);
    this.source = { service: this.name, versions: () => this.counted.values() };
    for (const s of this.metrics.sources) {
      if (s.service === this.name)
        throw new UserError(`router: a router named ${this.name} already uses this registry`);
    }
    this.metrics.sources.add(this.source);
    // requestTimeout 0: a long upload or download through the router is not cut at 5 minutes.
    this.server = http.createServer({ requestTimeout: 0, noDelay: true }, (req, res) =>
      handleRequest(this, req, res),
    );
    this.server.on("upgrade", (req, socket: Socket, head: Buffer) => {
      this.upgraded.add(socket);
      socket.once("close", () => this.upgraded.delete(socket));
      handleUpgrade(this, req, socket, head);
    });
    this.signal = options.signal;
  }

  async listen(at: { host: string; port: number }): Promise<void> {
    try {
      this.signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        this.server.once("error", reject);
        this.server.listen(at.port, at.host, () => {
          this.server.off("error", reject);
          resolve();
        });
      });
    } catch (cause) {
      this.metrics.sources.delete(this.source);
      if (this.signal?.aborted) throw this.signal.reason;
      throw new Error(`router ${this.name}: cannot listen on ${at.host}:${at.port}`, { cause });
    }
    const a = this.server.address();
    if (a === null || typeof a === "string") throw new Error("router: no TCP address after listen");
    this.address = { host: a.address, port: a.port };
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  get url(): string {
    const h = this.address.host.includes(":") ? `[${this.address.host}]` : this.address.host;
    return `http://${h}:${this.address.port}`;
  }

  // ProxyHost ----------------------------------------------------------------------------------------

  get unrouted(): VersionCounters {
    this.unroutedCounters ??= new VersionCounters(unroutedVersion, this.settings.statsWindowMs);
    return this.unroutedCounters;
  }
  private unroutedCounters: VersionCounters | undefined;

  counters(version: string): VersionCounters {
    let c = this.counted.get(version);
    if (c === undefined) {
      c = new VersionCounters(version, this.settings.statsWindowMs);
      this.counted.set(version, c);
      this.labels.set(c, { service: this.name, version });
    }
    return c;
  }

  observe(c: VersionCounters, seconds: number): void {
    this.metrics.duration.observe(this.labels.get(c)!, seconds);
  }

  event(e: RouterEvent): void {
    this.onEvent?.(e);
  }

  // Configuration ----------------------------------------------------------------------------------

  setBackends(backends: Backends): void {
    this.configure({ backends });
  }

  setRoutes(routes: Routes): void {
    this.configure({ routes });
  }

  configure(update: { backends?: Backends; routes?: Routes }): void {
    if (this.closing) throw new UserError(`router ${this.name} is closed`);
    const { backends, routes } = nextConfiguration(
      this.name,
      { backends: this.backends, routes: this.routes },
      update,
    );
    const pools = update.backends === undefined ? this.snapshot.pools : this.buildPools(backends);
    const table = update.routes === undefined ? this.snapshot.table : compileRoutes(routes!);
    // The one assignment requests see: a request reads `snapshot` once and keeps its pool and instance.
    this.snapshot = { table, pools };
    this.backends = backends;
    this.routes = routes;
  }

  /** Instances are kept across reconfigurations (same id, url and version): their agents and counts survive. */
  private buildPools(backends: Backends): Map<string, VersionPool> {
    const keep = new Map<string, Instance>();
    const pools = new Map<string, VersionPool>();
    for (const [version, specs] of Object.entries(backends)) {
      const list = specs.map((spec) => {
        const old = this.byId.get(spec.id);
        const inst =
          old && old.url === spec.url && old.version === version
            ? old
            : new Instance(spec.id, spec.url, version, {
                idleMs: this.settings.upstreamIdleMs,
                maxSockets: this.settings.maxSockets,
                connectTimeoutMs: this.settings.connectTimeoutMs,
              });
        keep.set(spec.id, inst);
        return inst;
      });
      pools.set(version, new VersionPool(version, list, this.settings.balance));
      this.counters(version);
    }
    for (const [id, inst] of this.byId) {
      if (keep.get(id) === inst) continue;
      // Out of rotation; what is in flight on it finishes, then its connections close.
      inst.retired = true;
      if (inst.idle) inst.agent.destroy();
      else {
        this.retired.add(inst);
        void inst.whenIdle().then(() => this.retired.delete(inst));
      }
    }
    this.byId.clear();
    for (const [id, inst] of keep) this.byId.set(id, inst);
    return pools;
  }

  config(): { backends: Backends; routes: Routes | null } {
    return structuredClone({ backends: this.backends, routes: this.routes });
  }

  /** Each change is in place when configure() returns: nothing to wait for. */
  async settled(): Promise<void> {}

  private instance(id: string): Instance {
    const inst = this.byId.get(id);
    if (inst === undefined) throw new UserError(`router ${this.name}: no instance ${JSON.stringify(id)}`);
    return inst;
  }

  // Drain ------------------------------------------------------------------------------------------

  async drain(instanceId: string, options: DrainOptions): Promise<DrainResult> {
    const inst = this.instance(instanceId);
    const started = Date.now();
    options.signal?.throwIfAborted();
    inst.draining = true;
    if (inst.inflight === 0) inst.agent.destroy();
    else destroyFreeSockets(inst);
    const outcome = await waitUntil(inst.whenIdle(), options.timeoutMs, options.signal);
    if (outcome === "done") {
      return {
        instanceId,
        graceful: true,
        forcedRequests: 0,
        forcedWebsockets: 0,
        durationMs: Date.now() - started,
      };
    }
    const forcedRequests = inst.inflight;
    const forcedWebsockets = inst.websockets.size;
    for (const ws of inst.websockets) ws.goAway();
    // Requests still waiting for their response are failed (or retried elsewhere, by the retry rule).
    inst.agent.destroy();
    await waitUntil(inst.whenIdle(), 5000, undefined);
    return {
      instanceId,
      graceful: false,
      forcedRequests,
      forcedWebsockets,
      durationMs: Date.now() - started,
    };
  }

  undrain(instanceId: string): void {
    this.instance(instanceId).draining = false;
  }

  // Reporting --------------------------------------------------------------------------------------

  stats(version: string, options?: StatsOptions): VersionStats {
    const c = this.counted.get(version) ?? new VersionCounters(version, this.settings.statsWindowMs);
    return c.snapshot(Date.now(), options?.windowMs);
  }

  versions(): string[] {
    return [...this.counted.keys()];
  }

  unroutedStats(options?: StatsOptions): VersionStats {
    return this.unrouted.snapshot(Date.now(), options?.windowMs);
  }

  /** Counted as each request ends: nothing to wait for. */
  async statsCaughtUp(): Promise<void> {}

  instances(): InstanceState[] {
    return [...this.byId.values()].map((i) => i.state());
  }

  // Close ------------------------------------------------------------------------------------------

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs ?? 10_000);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.signal?.removeEventListener("abort", this.onAbort);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const all = [...this.byId.values(), ...this.retired];
    const outcome = await waitUntil(Promise.all(all.map((i) => i.whenIdle())), timeoutMs, undefined);
    if (outcome === "timeout") {
      for (const inst of all) for (const ws of inst.websockets) ws.goAway();
      for (const inst of all) inst.agent.destroy();
      await waitUntil(Promise.all(all.map((i) => i.whenIdle())), 2500, undefined);
    }
    this.server.closeAllConnections();
    for (const s of this.upgraded) s.destroy();
    for (const inst of all) {
      inst.retired = true;
      inst.agent.destroy();
    }
    await stopped;
    this.metrics.sources.delete(this.source);
    for (const labels of this.labels.values()) this.metrics.duration.remove(labels);
  }
}

function destroyFreeSockets(inst: Instance): void {
  for (const list of Object.values(inst.agent.freeSockets)) for (const s of list ?? []) s.destroy();
}

/** "done" when `p` settles first, "timeout" after ms; rejects with the signal's reason if aborted. */
function waitUntil(
  p: Promise<unknown>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<"done" | "timeout"> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve("timeout");
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve("done");
    });
  });
}
