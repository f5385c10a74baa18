// What a strategy gets to work with. A strategy only orders these operations; starting, health gating,
// draining and routing are done by the deployer (rollout.ts's ServiceRollout), so each strategy reads
// like the story it tells, and its tests drive a recording fake (../testing.ts).
import type { RouteRule } from "../../traffic/index.js";
import type { ServiceSpec } from "../types.js";

/** One instance the controller manages, as a strategy sees it. */
export type Member = { id: string; revision: string };

export type CanaryFigures = { requests: number; errors: number; errorRate: number; p99: number | null };

export interface Rollout {
  service: ServiceSpec;
  /** The router version key of the new instances, e.g. "r7". */
  revision: string;
  /** What serves now (undefined on the service's first deploy). */
  previous?: { spec: ServiceSpec; revision: string };
  signal: AbortSignal;
  /** Ready instances of a revision (not draining). */
  members(revision: string): Member[];
  /**
   * Starts `count` instances of the new revision (or of the previous one, for a rollback) in parallel
   * within the host's start limit and waits until each passes readiness. If one fails, the others it
   * started are stopped and a HealthError with the instance's output is thrown.
   */
  start(count: number, which?: "new" | "previous"): Promise<Member[]>;
  /**
   * Sends traffic: every ready instance of the named revisions becomes a backend, then the weights
   * (percent, summing to 100) and header/cookie rules apply — one atomic swap in the router, in effect
   * when the promise resolves. A service without a router ignores this.
   */
  route(weights: Record<string, number>, rules?: RouteRule[]): Promise<void>;
  /** Takes instances out of rotation, waits for their requests to finish (drain timeout), stops them. */
  retire(members: Member[]): Promise<void>;
  /** Keeps instances running but without traffic for `ms`, then retires them (blue-green's instant rollback). */
  keep(members: Member[], ms: number): void;
  emit(type: string, message: string, data?: unknown, level?: "info" | "warn" | "error"): void;
  /** The new revision's figures over the router's window (canary analysis). */
  figures(): CanaryFigures;
  /** Resolves on `slipway promote` / `slipway abort`, or "elapsed" after ms (never, when undefined). */
  waitForCommand(ms: number | undefined): Promise<"promote" | "abort" | "elapsed">;
  /** Warm-up: `requests` GETs of `path` to each member directly (not through the router). */
  warmUp(members: Member[], path: string, requests: number): Promise<void>;
}

export { CanaryAborted, HealthError } from "../errors.js";

/** Integer weights (summing to 100) proportional to instance counts (largest remainder). */
export function weightsByCount(counts: Record<string, number>): Record<string, number> {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return {};
  const exact = entries.map(([k, n]) => [k, (n * 100) / total] as const);
  const out: Record<string, number> = {};
  let given = 0;
  for (const [k, w] of exact) {
    out[k] = Math.floor(w);
    given += out[k];
  }
  const byRemainder = [...exact].sort((a, b) => b[1] - Math.floor(b[1]) - (a[1] - Math.floor(a[1])));
  for (let i = 0; given < 100; i = (i + 1) % byRemainder.length) {
    out[byRemainder[i][0]] += 1;
    given += 1;
  }
  return out;
}
