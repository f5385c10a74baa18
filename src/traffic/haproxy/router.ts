// The Router interface on HAProxy: one haproxy process per router, configured once (config.ts,
// launch.ts) and then driven only through its runtime API (plan.ts → runtime.ts), so weights, rules,
// instances and drains never reload it and never drop a connection. Counts and latency come from its
// request log, gauges from `show stat` (figures.ts).
// Changes are applied asynchronously, in order, within about a millisecond of configure(): settled()
// resolves when everything asked so far is in place. docs/internals/router.md compares it with the Node router.
import { Registry } from "prom-client";
import { OperationError, UserError } from "../../lib/errors.js";
import { nextConfiguration } from "../routes.js";
import type {
  Backends,
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
import { files, names } from "./config.js";
import { type FiguresHost, HaproxyFigures } from "./figures.js";
import { type Launched, launchHaproxy, softStop, teardown } from "./launch.js";
import {
  emptyPlacement,
  type Placement,
  planBackends,
  planRoutes,
  replaceMap,
  serverPath,
  versionsMap,
} from "./plan.js";
import { prepareMap, runCommands, runtimeRequest, showStat } from "./runtime.js";

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
  await router.start();
  return router;
}

class HaproxyTrafficRouter implements HaproxyRouter, FiguresHost {
  readonly name: string;
  readonly registry: Registry;
  address = { host: "", port: 0 };
  dir = "";
  onEvent: ((e: RouterEvent) => void) | undefined;
  placement: Placement;
  private launched: Launched | undefined;
  private backends: Backends = {};
  private routes: Routes | null = null;
  private readonly figures: HaproxyFigures;
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private dead: string | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => void this.close();
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
    this.pollMs = options.pollMs ?? 500;
    this.placement = emptyPlacement(limits.versions, limits.instances);
    this.registry = options.registry ?? new Registry();
    this.figures = new HaproxyFigures(this, this.name, this.registry, options.statsWindowMs ?? 60_000);
    this.signal = options.signal;
  }

  get pid(): number {
    return this.launched?.proc.pid ?? 0;
  }

  get url(): string {
    const h = this.address.host.includes(":") ? `[${this.address.host}]` : this.address.host;
    return `http://${h}:${this.address.port}`;
  }

  private get socket(): string {
    return files.socket(this.dir);
  }

  async start(): Promise<void> {
    this.signal?.throwIfAborted();
    this.figures.publish();
    const s = this.options;
    try {
      this.launched = await launchHaproxy({
        name: this.name,
        listen: s.listen,
        stateDir: s.stateDir,
        bin: s.haproxyBin,
        layout: {
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
        },
        onLog: (text) => this.figures.onLog(text),
      });
    } catch (err) {
      this.figures.withdraw();
      if (this.signal?.aborted) throw this.signal.reason;
      throw err;
    }
    const { proc, log } = this.launched;
    this.dir = this.launched.dir;
    this.address = this.launched.address;
    void proc.exited.then((state) => {
      if (this.closing) return;
      this.dead = `haproxy exited unexpectedly (${state}): ${proc.stderrTail()}`;
      this.failure = new OperationError(`router ${this.name}: ${this.dead}`);
      log.stop();
    });
    this.pollTimer = setInterval(() => void this.poll().catch(() => {}), this.pollMs);
    this.pollTimer.unref();
    this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  private poll(): Promise<void> {
    this.polling ??= this.readGauges().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async readGauges(): Promise<void> {
    if (this.dead || this.closing) return;
    this.figures.onStat(await showStat(this.socket, ["-1 6 -1 no-maint"]));
    // Finds the requests HAProxy closed without an answer and without a log line (figures.ts).
    await this.figures.mark();
  }

  command(line: string): Promise<string> {
    return runtimeRequest(this.socket, line);
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
    const { backends, routes } = nextConfiguration(
      this.name,
      { backends: this.backends, routes: this.routes },
      update,
    );
    const plan =
      update.backends === undefined
        ? { placement: this.placement, before: [], after: [], versionsChanged: false }
        : planBackends(this.placement, backends, this.limits.instances);
    const placement = plan.placement;
    // Route maps name backends: rewrite them when the routes or any version's slot changed.
    const routeMaps =
      update.routes !== undefined || plan.versionsChanged ? planRoutes(routes, placement, this.dir) : null;
    for (const version of Object.keys(backends)) this.figures.counters(version);
    this.figures.placed(placement);
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

  stats(version: string, options?: StatsOptions): VersionStats {
    return this.figures.stats(version, options);
  }

  versions(): string[] {
    return this.figures.versions();
  }

  unroutedStats(options?: StatsOptions): VersionStats {
    return this.figures.unroutedStats(options);
  }

  statsCaughtUp(): Promise<void> {
    if (this.dead || this.closing) return Promise.resolve();
    return this.figures.caughtUp();
  }

  instances(): InstanceState[] {
    return this.figures.instances();
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
    clearInterval(this.pollTimer);
    if (this.launched) {
      if (!this.dead) await softStop(this.launched, timeoutMs);
      await teardown(this.launched);
    }
    this.figures.withdraw();
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
