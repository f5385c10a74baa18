// Live figures: the routers' counters sampled every few seconds into a short rolling window (5 minutes
// by default), per service and version — requests per second, error rate, p50 and p99 — so that a page
// opened now has a chart at once, and one polling it adds a point per sample. A sample reads the
// routers' totals (differences between two samples: no counter of its own on the request path) and
// their latency over the last interval only (stats(v, { windowMs })).
import { unroutedVersion } from "./stats.js";
import type { Router } from "./types.js";

export type LiveFiguresOptions = {
  /** How often the routers are sampled; default 2000 ms. */
  intervalMs?: number;
  /** How long samples are kept; default 300000 ms (5 minutes). */
  windowMs?: number;
};

/** One service's samples, column by column (as a chart takes them); null where a version had no figure. */
export type ServiceFigures = {
  service: string;
  /** Sample times, epoch ms. */
  t: number[];
  versions: Record<string, VersionSeries>;
};

export type VersionSeries = {
  /** Requests per second over the interval before each sample. */
  rps: (number | null)[];
  /** (5xx responses + router failures) / requests, 0..1; null with no request. */
  errorRate: (number | null)[];
  /** Latency quantiles over the interval, ms; null with no request. */
  p50: (number | null)[];
  p99: (number | null)[];
};

export type LiveFiguresDocument = {
  intervalMs: number;
  windowMs: number;
  /** When the document was made (epoch ms): the chart's right edge. */
  now: number;
  services: ServiceFigures[];
};

type Totals = { requests: number; bad: number };
type Point = { rps: number; errorRate: number | null; p50: number | null; p99: number | null };
type Sample = { t: number; points: Map<string, Point> };

export class LiveFigures {
  readonly intervalMs: number;
  readonly windowMs: number;
  private readonly routers: () => Router[];
  /** Per router (not per name: a router replaced under the same name starts from its own zero). */
  private readonly last = new WeakMap<Router, { t: number; totals: Map<string, Totals> }>();
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(routers: () => Router[], options: LiveFiguresOptions = {}) {
    this.routers = routers;
    this.intervalMs = options.intervalMs ?? 2000;
    this.windowMs = options.windowMs ?? 300_000;
    if (!(this.intervalMs > 0) || !(this.windowMs >= this.intervalMs))
      throw new RangeError(
        `live figures need 0 < intervalMs ≤ windowMs, got ${this.intervalMs} and ${this.windowMs}`,
      );
  }

  /** Samples every intervalMs until stop(); the timer keeps no process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A figure missed is a gap in a chart; an exception here would take the agent down with it.
      try {
        this.sample();
      } catch {}
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads every router once; the first reading of a router is only the baseline of the next. */
  sample(now: number = Date.now()): void {
    for (const router of this.routers()) {
      try {
        this.sampleRouter(router, now);
      } catch {
        // A router closing while read: its next reading starts again from a baseline.
        this.last.delete(router);
      }
    }
    this.trim(now);
  }

  private sampleRouter(router: Router, now: number): void {
    const before = this.last.get(router);
    const totals = new Map<string, Totals>();
    const points = new Map<string, Point>();
    const weights = router.config().routes?.weights ?? {};
    const versions = [...router.versions(), unroutedVersion];
    for (const v of versions) {
      const st = v === unroutedVersion ? router.unroutedStats() : router.stats(v);
      const total = { requests: st.requests, bad: st.errors5xx + st.failed };
      totals.set(v, total);
      if (!before) continue;
      const prev = before.totals.get(v) ?? { requests: 0, bad: 0 };
      // Counters only grow; a smaller total is a counter that started again.
      const requests = total.requests >= prev.requests ? total.requests - prev.requests : total.requests;
      const bad = total.bad >= prev.bad ? total.bad - prev.bad : total.bad;
      // A version that takes traffic shows 0 req/s when idle; others only when they served something.
      if (requests === 0 && !((weights[v] ?? 0) > 0)) continue;
      const window =
        requests === 0
          ? undefined
          : (v === unroutedVersion
              ? router.unroutedStats({ windowMs: this.intervalMs })
              : router.stats(v, { windowMs: this.intervalMs })
            ).window.latency;
      const seconds = Math.max(now - before.t, 1) / 1000;
      points.set(v, {
        rps: round(requests / seconds),
        errorRate: requests === 0 ? null : round(Math.min(bad, requests) / requests, 4),
        p50: window?.p50 ?? null,
        p99: window?.p99 ?? null,
      });
    }
    this.last.set(router, { t: now, totals });
    if (!before) return;
    const list = this.samples.get(router.name) ?? [];
    list.push({ t: now, points });
    this.samples.set(router.name, list);
  }

  /** The window's samples, per service, column by column. */
  figures(now: number = Date.now()): LiveFiguresDocument {
    this.trim(now);
    const services: ServiceFigures[] = [];
    for (const [service, list] of [...this.samples].sort(([a], [b]) => a.localeCompare(b))) {
      const names = new Set<string>();
      for (const s of list) for (const v of s.points.keys()) names.add(v);
      const versions: Record<string, VersionSeries> = {};
      for (const v of names) {
        const column = <K extends keyof Point>(k: K) => list.map((s) => s.points.get(v)?.[k] ?? null);
        versions[v] = {
          rps: column("rps"),
          errorRate: column("errorRate"),
          p50: column("p50"),
          p99: column("p99"),
        };
      }
      services.push({ service, t: list.map((s) => s.t), versions });
    }
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, now, services };
  }

  private trim(now: number): void {
    for (const [service, list] of this.samples) {
      const first = list.findIndex((s) => s.t > now - this.windowMs);
      if (first === -1) this.samples.delete(service);
      else if (first > 0) list.splice(0, first);
    }
  }
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
