// The HAProxy router's figures, into the same VersionCounters and Prometheus metrics as the Node
// router's: counts and latency from one log line per request (haproxy writes them to a ring in memory
// that the router follows on the admin socket, log.ts), in-flight and websocket gauges from `show
// stat`, polled. Which version and instance a backend or server slot means comes from the placement.
import type { Registry } from "prom-client";
import { UserError } from "../../lib/errors.js";
import { type MetricsSource, type RouterMetrics, routerMetricsFor } from "../metrics.js";
import { unroutedVersion, VersionCounters } from "../stats.js";
import type { InstanceState, RouterEvent, VersionStats } from "../types.js";
import { names } from "./config.js";
import { outcomeOf, parseLogLine } from "./log.js";
import { type Placement, serverPath } from "./plan.js";
import type { StatRow } from "./runtime.js";

/** What the figures need of their router: where each version and instance is, and who to tell. */
export interface FiguresHost {
  readonly placement: Placement;
  readonly onEvent: ((e: RouterEvent) => void) | undefined;
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
  private lastLogAt = 0;
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
  async caughtUp(): Promise<void> {
    const until = Date.now() + 1000;
    for (;;) {
      const quietFor = Date.now() - this.lastLogAt;
      if (quietFor >= 100 || Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, Math.min(100 - quietFor, until - Date.now())));
    }
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
