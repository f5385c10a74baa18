// Waiting and trying again: one abortable sleep and one retry loop, so that every wait in slipway can be
// cut short by the same AbortSignal that cancels the work around it (a cancelled deploy must not sit out
// a 15 s backoff), and every backoff grows and spreads the same way.

export type SleepOptions = {
  /**
   * Resolve instead of rejecting when the signal aborts: for loops that check the signal themselves
   * and want the wait to simply end (a poller stopping at shutdown).
   */
  resolveOnAbort?: boolean;
};

/**
 * Waits `ms` milliseconds. When `signal` aborts (or has already), the timer is cleared and the promise
 * rejects with the signal's reason, or resolves with `resolveOnAbort`.
 */
export function sleep(ms: number, signal?: AbortSignal, opts: SleepOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = () => (opts.resolveOnAbort ? resolve() : reject(signal!.reason));
    if (signal?.aborted) return end();
    const onAbort = () => {
      clearTimeout(timer);
      end();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export type Backoff = {
  /** The delay before the first retry. */
  baseMs: number;
  /** No delay is longer than this (default: no limit). */
  maxMs?: number;
  /** Each next delay is this many times the last (default 2). */
  factor?: number;
  /**
   * How far a delay may stray either way, as a fraction of it (0 to 1): 0.2 spreads a 1 s delay over
   * 0.8–1.2 s, so that clients failing together do not retry together. Default 0.
   */
  jitter?: number;
};

/** The delay before retry number `retry` (1 for the first), with jitter drawn from `random`. */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const max = backoff.maxMs ?? Number.POSITIVE_INFINITY;
  const exp = Math.min(max, backoff.baseMs * (backoff.factor ?? 2) ** Math.max(0, retry - 1));
  const jitter = backoff.jitter ?? 0;
  return Math.min(max, exp * (1 + jitter * (2 * random() - 1)));
}

export type RetryOptions = {
  /** How many attempts in all (the first included); at least 1. */
  attempts: number;
  backoff: Backoff;
  /** Stops the waiting (rejecting with its reason); an attempt that fails once it aborted is not retried. */
  signal?: AbortSignal;
  /** Whether a failure may be retried (default: every one). */
  retryOn?: (err: unknown, attempt: number) => boolean;
  /** Told before each wait: the failure, the attempt that failed (from 1) and the delay. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** For tests: the source of jitter. */
  random?: () => number;
};

/**
 * Calls `fn` (with the attempt's number, from 1) until it resolves, a failure is not to be retried, the
 * signal aborts or the attempts are used up; then rejects with the last failure.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, opts.attempts);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || opts.signal?.aborted || !(opts.retryOn?.(err, attempt) ?? true)) throw err;
      const delayMs = backoffDelay(attempt, opts.backoff, opts.random);
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, opts.signal);
    }
  }
}
