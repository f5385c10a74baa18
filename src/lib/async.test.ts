import { describe, expect, it, vi } from "vitest";
import { backoffDelay, retry, sleep } from "./async.js";

describe("sleep", () => {
  it("resolves after the time", async () => {
    const t0 = Date.now();
    await sleep(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it("rejects with the signal's reason when it aborts, without waiting out the time", async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const waiting = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(new Error("stop")), 10);
    await expect(waiting).rejects.toThrow("stop");
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("rejects at once when the signal has already aborted", async () => {
    const t0 = Date.now();
    await expect(sleep(10_000, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("resolves early instead with resolveOnAbort", async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const waiting = sleep(10_000, ac.signal, { resolveOnAbort: true });
    setTimeout(() => ac.abort(), 10);
    await expect(waiting).resolves.toBeUndefined();
    await expect(sleep(10_000, ac.signal, { resolveOnAbort: true })).resolves.toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("leaves no listener on the signal once the time is up", async () => {
    const ac = new AbortController();
    const remove = vi.spyOn(ac.signal, "removeEventListener");
    await sleep(1, ac.signal);
    expect(remove).toHaveBeenCalledWith("abort", expect.any(Function));
  });
});

describe("backoffDelay", () => {
  it("doubles from the base up to the limit", () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, b))).toEqual([100, 200, 400, 800, 1000]);
  });

  it("spreads by the jitter fraction either way, never past the limit", () => {
    const b = { baseMs: 1000, maxMs: 1100, jitter: 0.2 };
    expect(backoffDelay(1, b, () => 0)).toBe(800);
    expect(backoffDelay(1, b, () => 0.5)).toBe(1000);
    expect(backoffDelay(1, b, () => 1)).toBe(1100);
  });

  it("takes another factor", () => {
    expect(backoffDelay(3, { baseMs: 10, factor: 3 })).toBe(90);
  });
});

describe("retry", () => {
  const fast = { baseMs: 1, maxMs: 5 };

  it("returns the first success, after as many attempts as it took", async () => {
    const fn = vi.fn(async (attempt: number) => {
      if (attempt < 3) throw new Error(`fail ${attempt}`);
      return "ok";
    });
    await expect(retry(fn, { attempts: 5, backoff: fast })).resolves.toBe("ok");
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("gives up after `attempts` with the last failure, and reports each wait", async () => {
    const fn = vi.fn(async (attempt: number) => {
      throw new Error(`fail ${attempt}`);
    });
    const waits: [number, number][] = [];
    await expect(
      retry(fn, {
        attempts: 4,
        backoff: { baseMs: 2, maxMs: 5 },
        onRetry: (_err, attempt, delayMs) => waits.push([attempt, delayMs]),
      }),
    ).rejects.toThrow("fail 4");
    expect(fn).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([
      [1, 2],
      [2, 4],
      [3, 5],
    ]);
  });

  it("stops at a failure retryOn refuses", async () => {
    const fn = vi.fn(async (attempt: number) => {
      throw new Error(attempt === 2 ? "fatal" : "flaky");
    });
    await expect(
      retry(fn, { attempts: 10, backoff: fast, retryOn: (err) => (err as Error).message === "flaky" }),
    ).rejects.toThrow("fatal");
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it("stops waiting when the signal aborts, with its reason", async () => {
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      throw new Error("down");
    });
    const t0 = Date.now();
    const trying = retry(fn, { attempts: 5, backoff: { baseMs: 10_000 }, signal: ac.signal });
    setTimeout(() => ac.abort(new Error("cancelled")), 10);
    await expect(trying).rejects.toThrow("cancelled");
    expect(fn).toHaveBeenCalledTimes(1);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("does not retry a failure that comes after the abort", async () => {
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      ac.abort();
      throw new Error("interrupted");
    });
    await expect(retry(fn, { attempts: 5, backoff: fast, signal: ac.signal })).rejects.toThrow("interrupted");
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
