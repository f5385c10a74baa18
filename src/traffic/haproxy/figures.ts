// The HAProxy router's figures, into the same VersionCounters and Prometheus metrics as the Node
// router's: counts and latency from one log line per request (haproxy writes them to a ring in memory
// that the router follows on the admin socket, log.ts), in-flight and websocket gauges from `show
// stat`, polled. Which version and instance a backend or server slot means comes from the placement.
// HAProxy does not log every request: one that is not the first on its client's keep-alive connection,
// whose instance closes or resets the connection before answering, gets its client connection closed
// without an answer and no log line (hard-wired in HAProxy, so that clients retry as after a keep-alive
// race). Log markers (config.ts: per backend, the requests finished so far, written into the same
// ring) find those: a finished request with no log line once the marker is read was never logged, and
// counts as failed.
import type { Registry } from "prom-client";
import { UserError } from "../../lib/errors.js";
import { type MetricsSource, type RouterMetrics, routerMetricsFor } from "../metrics.js";
import { unroutedVersion, VersionCounters } from "../stats.js";
import type { InstanceState, RouterEvent, StatsOptions, VersionStats } from "../types.js";
import { names } from "./config.js";
import { outcomeOf, parseLogLine } from "./log.js";
import { type Placement, serverPath } from "./plan.js";
import type { StatRow } from "./runtime.js";

/** What the figures need of their router: where each version and instance is, and who to tell. */
export interface FiguresHost {
  readonly placement: Placement;
  readonly onEvent: ((e: RouterEvent) => void) | undefined;
  /** Runs one admin socket command (the log marker). */
  command(line: string): Promise<string>;
}

type ServerSeen = { scur: number; down: boolean };

export class HaproxyFigures {
  private readonly counted = new Map<string, VersionCounters>();
  private readonly labels = new Map<VersionCounters, { service: string; version: string }>();
  private readonly metrics: RouterMetrics;
  private readonly source: MetricsSource;
  private unroutedCounters: VersionCounters | undefined;
  private servers = new Map<string, ServerSeen>();
  /** Per version slot: the version it was counted for and its websocket backend's session total then. */
  private readonly wsSeen = new Map<number, { version: string; stot: number }>();
  /** Per version slot: its websocket backend's session total at the last poll. */
  private readonly wsStot = new Map<number, number>();
  /** Per backend: log lines read, and requests found finished without one (counted failed). */
  private readonly logged = new Map<string, number>();
  private readonly unlogged = new Map<string, number>();
  /** Per backend: finished requests without a log line at the last marker, not yet counted. */
  private readonly gaps = new Map<string, number>();
  /** Markers asked and not yet read back: id → the finished requests per backend read so far, and who waits. */
  private readonly marks = new Map<number, { finished: Map<string, number>; done: () => void }>();
  private nextMark = 1;
  private readonly host: FiguresHost;
  private readonly service: string;
  private readonly statsWindowMs: number;

  constructor(host: FiguresHost, service: string, registry: Registry, statsWindowMs: number) {
    this.host = host;
    this.service = service;
    this.statsWindowMs = statsWindowMs;
    this.metrics = routerMetricsFor(registry);
    this.source = { service, versions: () => this.counted.values() };
    for (const s of this.metrics.sources) {
      if (s.service === service)
        throw new UserError(`router: a router named ${service} already uses this registry`);
    }
  }

  /** Its series appear in the registry from now on. */
  publish(): void {
    this.metrics.sources.add(this.source);
  }

  /** Its series leave the registry. */
  withdraw(): void {
    this.metrics.sources.delete(this.source);
    for (const labels of this.labels.values()) this.metrics.duration.remove(labels);
  }

  counters(version: string): VersionCounters {
    let c = this.counted.get(version);
    if (c === undefined) {
      c = new VersionCounters(version, this.statsWindowMs);
      this.counted.set(version, c);
      this.labels.set(c, { service: this.service, version });
    }
    return c;
  }

  private get unrouted(): VersionCounters {
    this.unroutedCounters ??= new VersionCounters(unroutedVersion, this.statsWindowMs);
    return this.unroutedCounters;
  }

  /** Websocket sessions of a slot count for its version from the moment it takes the slot. */
  placed(placement: Placement): void {
    for (const [version, slot] of placement.versions) {
      if (this.wsSeen.get(slot)?.version !== version)
        this.wsSeen.set(slot, { version, stot: this.wsStot.get(slot) ?? 0 });
    }
  }

  /** Lines of the request log, as they arrive. */
  onLog(text: string): void {
    for (const line of text.split("\n")) {
      if (line.startsWith("slw-mark")) {
        this.onMark(line);
        continue;
      }
      const e = parseLogLine(line);
      if (e === undefined) continue;
      this.logged.set(e.backend, (this.logged.get(e.backend) ?? 0) + 1);
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
      const onEvent = this.host.onEvent;
      if (onEvent && (e.retries > 0 || o.failed)) {
        const instanceId = this.instanceAt(e.backend, e.server) ?? "";
        onEvent(
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

  /** `slw-mark <id> <backend> <finished>` lines, then `slw-mark-end <id>`. */
  private onMark(line: string): void {
    const f = line.trimEnd().split(" ");
    const mark = this.marks.get(Number(f[1]));
    if (mark === undefined) return;
    if (f[0] === "slw-mark" && f.length === 4) {
      mark.finished.set(f[2], Number(f[3]) || 0);
      return;
    }
    if (f[0] !== "slw-mark-end") return;
    this.marks.delete(Number(f[1]));
    for (const [backend, finished] of mark.finished) {
      const gap = finished - (this.logged.get(backend) ?? 0) - (this.unlogged.get(backend) ?? 0);
      // Counted only once two markers in a row show it: with several threads one reading can catch a
      // request entering its backend half-way (sessions total counted, current not yet).
      const missing = Math.min(gap, this.gaps.get(backend) ?? 0);
      this.gaps.set(backend, gap - Math.max(0, missing));
      if (missing > 0) this.countUnlogged(backend, missing);
    }
    mark.done();
  }

  private countUnlogged(backend: string, n: number): void {
    this.unlogged.set(backend, (this.unlogged.get(backend) ?? 0) + n);
    const slot = /^(?:ws)?ver(\d+)$/.exec(backend);
    let version: string | undefined;
    for (const [v, s] of this.host.placement.versions) if (slot && s === Number(slot[1])) version = v;
    const c = version === undefined ? this.unrouted : this.counters(version);
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      c.requests++;
      c.failed++;
      c.window.record(now, -1, false, true);
    }
    this.host.onEvent?.({
      type: "upstream-error",
      instanceId: "",
      version: version ?? unroutedVersion,
      error: `${n} request(s) closed without an answer: the instance closed or reset the connection before responding`,
    });
  }

  /** Writes a marker into the log ring; resolves once it is read back (or at the deadline). */
  async mark(deadlineMs = 3000): Promise<void> {
    const id = this.nextMark++;
    let timer: NodeJS.Timeout | undefined;
    const read = new Promise<void>((resolve) => {
      this.marks.set(id, { finished: new Map(), done: resolve });
      timer = setTimeout(() => {
        this.marks.delete(id);
        resolve();
      }, deadlineMs);
      timer.unref();
    });
    try {
      await this.host.command(`slipway mark ${id}`);
      await read;
    } catch {
      this.marks.delete(id);
    } finally {
      clearTimeout(timer);
    }
  }

  private instanceAt(backend: string, server: string): string | undefined {
    for (const inst of this.host.placement.instances.values()) {
      const [http, ws] = serverPath(inst.slot, inst.server);
      if (http === `${backend}/${server}` || ws === `${backend}/${server}`) return inst.id;
    }
    return undefined;
  }

  /** The rows of `show stat` for every backend and server: gauges, and instances newly found down. */
  onStat(rows: StatRow[]): void {
    const placement = this.host.placement;
    const servers = new Map<string, ServerSeen>();
    const backends = new Map<string, StatRow>();
    for (const r of rows) {
      if (r.server === "BACKEND") backends.set(r.proxy, r);
      else servers.set(`${r.proxy}/${r.server}`, { scur: r.scur, down: r.status.startsWith("DOWN") });
    }
    for (const [key, seen] of servers) {
      if (seen.down && !this.servers.get(key)?.down && key.startsWith("ver")) {
        const [backend, server] = key.split("/");
        const inst = placement.instances.get(this.instanceAt(backend, server) ?? "");
        if (inst)
          this.host.onEvent?.({
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
      if (placement.versions.has(version)) continue;
      c.inflight = 0;
      c.websocketsOpen = 0;
    }
    for (const [version, slot] of placement.versions) {
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

  stats(version: string, options?: StatsOptions): VersionStats {
    const c = this.counted.get(version) ?? new VersionCounters(version, this.statsWindowMs);
    return c.snapshot(Date.now(), options?.windowMs);
  }

  versions(): string[] {
    return [...this.counted.keys()];
  }

  unroutedStats(options?: StatsOptions): VersionStats {
    return this.unrouted.snapshot(Date.now(), options?.windowMs);
  }

  /**
   * HAProxy logs each request as it ends and the log ring reaches us a moment later: two markers read
   * back in turn mean every request finished before the call is counted, logged or not (onMark).
   */
  async caughtUp(): Promise<void> {
    await this.mark();
    await this.mark();
  }

  instances(): InstanceState[] {
    return [...this.host.placement.instances.values()].map((i) => {
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
}
