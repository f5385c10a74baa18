// Per-version counters and a sliding-window latency histogram, updated on the request path with
// plain arithmetic (no allocation); prom-client reads them at scrape time (see metrics.ts).
import type { VersionStats } from "./types.js";

// Log-scale buckets: bucket i holds latencies up to MIN_MS·RATIO^i, so a quantile is reported at most
// 5% above the true value, from 10 µs to 10 minutes in 368 buckets.
const MIN_MS = 0.01;
const RATIO = 1.05;
const LOG_RATIO = Math.log(RATIO);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LOG_RATIO) + 1;
const SLICES = 60;

export function bucketOf(ms: number): number {
  if (ms <= MIN_MS) return 0;
  const i = Math.ceil(Math.log(ms / MIN_MS) / LOG_RATIO);
  return i < BUCKETS ? i : BUCKETS - 1;
}

export function bucketUpperMs(i: number): number {
  return MIN_MS * RATIO ** i;
}

type Slice = { slot: number; requests: number; errors5xx: number; failed: number; latency: Uint32Array };

/** Counts over the last `windowMs`, kept as SLICES time slices that are reused as time moves on. */
export class SlidingWindow {
  readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly slices: Slice[];

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.sliceMs = Math.max(1, windowMs / SLICES);
    this.slices = Array.from({ length: SLICES }, () => ({
      slot: -1,
      requests: 0,
      errors5xx: 0,
      failed: 0,
      latency: new Uint32Array(BUCKETS),
    }));
  }

  private slice(now: number): Slice {
    const slot = Math.floor(now / this.sliceMs);
    const s = this.slices[slot % SLICES];
    if (s.slot !== slot) {
      s.slot = slot;
      s.requests = 0;
      s.errors5xx = 0;
      s.failed = 0;
      s.latency.fill(0);
    }
    return s;
  }

  /** latencyMs < 0: no latency sample (router failures, websockets). */
  record(now: number, latencyMs: number, error5xx: boolean, failed: boolean): void {
    const s = this.slice(now);
    s.requests++;
    if (error5xx) s.errors5xx++;
    if (failed) s.failed++;
    if (latencyMs >= 0) s.latency[bucketOf(latencyMs)]++;
  }

  /**
   * The counts and quantiles of the window, or of only its last `spanMs` (whole slices, the current one
   * and enough before it to cover the span: a live chart's sample of the last seconds, not a minute's).
   */
  summary(now: number, spanMs: number = this.windowMs): VersionStats["window"] {
    const current = Math.floor(now / this.sliceMs);
    // The current slice has only just begun: one more so that the whole span is counted.
    const slices =
      spanMs >= this.windowMs ? SLICES : Math.min(SLICES, Math.max(1, Math.ceil(spanMs / this.sliceMs)) + 1);
    let requests = 0;
    let errors5xx = 0;
    let failed = 0;
    const merged = new Float64Array(BUCKETS);
    let count = 0;
    for (const s of this.slices) {
      if (s.slot < 0 || s.slot <= current - slices || s.slot > current) continue;
      requests += s.requests;
      errors5xx += s.errors5xx;
      failed += s.failed;
      for (let i = 0; i < BUCKETS; i++) {
        const c = s.latency[i];
        if (c !== 0) {
          merged[i] += c;
          count += c;
        }
      }
    }
    const quantile = (q: number): number | null => {
      if (count === 0) return null;
      const rank = Math.ceil(q * count);
      let seen = 0;
      for (let i = 0; i < BUCKETS; i++) {
        seen += merged[i];
        if (seen >= rank) return Math.round(bucketUpperMs(i) * 1000) / 1000;
      }
      return Math.round(bucketUpperMs(BUCKETS - 1) * 1000) / 1000;
    };
    return {
      ms: Math.min(this.windowMs, slices * this.sliceMs),
      requests,
      errors5xx,
      failed,
      latency: { count, p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99) },
    };
  }
}

/**
 * The key under which a router reports the requests no version could take (unroutedStats(), and a
 * release's impact): not a valid version name, so it never clashes with one.
 */
export const unroutedVersion = "(no route)";

/** Everything the router counts for one version. */
export class VersionCounters {
  readonly version: string;
  requests = 0;
  errors5xx = 0;
  failed = 0;
  retries = 0;
  aborted = 0;
  inflight = 0;
  websocketsOpen = 0;
  websocketsTotal = 0;
  readonly window: SlidingWindow;

  constructor(version: string, windowMs: number) {
    this.version = version;
    this.window = new SlidingWindow(windowMs);
  }

  snapshot(now: number, windowMs?: number): VersionStats {
    return {
      version: this.version,
      requests: this.requests,
      errors5xx: this.errors5xx,
      failed: this.failed,
      retries: this.retries,
      aborted: this.aborted,
      inflight: this.inflight,
      websockets: { open: this.websocketsOpen, total: this.websocketsTotal },
      window: this.window.summary(now, windowMs),
    };
  }
}
