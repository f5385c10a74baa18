import { describe, expect, it } from "vitest";
import { bucketOf, bucketUpperMs, SlidingWindow } from "./stats.js";

describe("SlidingWindow", () => {
  it("reports quantiles within 5% above the true value", () => {
    const w = new SlidingWindow(60_000);
    const now = 1_000_000;
    for (let i = 1; i <= 1000; i++) w.record(now, i / 10, false, false); // 0.1 … 100 ms
    const s = w.summary(now);
    expect(s.latency.count).toBe(1000);
    expect(s.latency.p50).toBeGreaterThanOrEqual(50);
    expect(s.latency.p50).toBeLessThanOrEqual(50 * 1.05);
    expect(s.latency.p99).toBeGreaterThanOrEqual(99);
    expect(s.latency.p99).toBeLessThanOrEqual(99 * 1.05);
  });

  it("forgets what is older than the window and counts errors", () => {
    const w = new SlidingWindow(1000);
    w.record(10_000, 5, true, false);
    w.record(10_500, 5, false, true);
    expect(w.summary(10_900)).toMatchObject({ requests: 2, errors5xx: 1, failed: 1 });
    expect(w.summary(11_200)).toMatchObject({ requests: 1, errors5xx: 0, failed: 1 });
    expect(w.summary(20_000)).toMatchObject({ requests: 0, latency: { count: 0, p99: null } });
  });

  it("maps latencies to increasing buckets", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketUpperMs(bucketOf(1))).toBeGreaterThanOrEqual(1);
    expect(bucketUpperMs(bucketOf(1))).toBeLessThan(1.05);
    expect(bucketOf(1e9)).toBe(bucketOf(1e10));
  });
});

describe("SlidingWindow over a shorter span", () => {
  it("counts only the last slices asked for, and its quantiles are theirs", () => {
    const w = new SlidingWindow(60_000); // 1 s slices
    w.record(100_000, 500, false, false); // slow, 10 s earlier
    w.record(110_200, 2, true, false);
    w.record(110_700, 4, false, false);
    expect(w.summary(110_900)).toMatchObject({ ms: 60_000, requests: 3, latency: { count: 3 } });
    // 2 s back from 110.9 s reaches into the slice of second 108: three slices, 108 to 110.
    const recent = w.summary(110_900, 2000);
    expect(recent).toMatchObject({ ms: 3000, requests: 2, errors5xx: 1, latency: { count: 2 } });
    expect(w.summary(112_100, 1000)).toMatchObject({ requests: 0, latency: { p50: null } });
    expect(recent.latency.p99).toBeLessThan(5);
    // A span longer than the window is the window.
    expect(w.summary(110_900, 10 * 60_000).ms).toBe(60_000);
  });
});
