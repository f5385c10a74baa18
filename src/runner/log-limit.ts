// The per-job log cap: a step that prints without end must not fill the server's database or disk. Past
// the limit a job's output is dropped, with one notice in the log saying so; the job itself goes on.
import { UserError } from "../lib/errors.js";

/** The setting that overrides the default cap: bytes, or a number with K, M or G (KiB, MiB, GiB). */
export const jobLogLimitSetting = "SLIPWAY_JOB_LOG_LIMIT";

export const defaultJobLogLimit = 64 * 1024 * 1024;

const units: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses a size such as `65536`, `512K`, `64M` or `1G` (binary units); a user error otherwise. */
export function parseLogLimit(text: string, source = jobLogLimitSetting): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*$/.exec(text);
  const n = m ? Number(m[1]) * units[m[2].toLowerCase()] : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UserError(
      `${source} must be a size in bytes above 0, optionally with K, M or G (e.g. 64M), got ${JSON.stringify(text)}`,
    );
  return n;
}

/** The cap from the environment's setting, or the default (64 MiB). */
export function jobLogLimit(env: NodeJS.ProcessEnv = process.env): number {
  const v = env[jobLogLimitSetting];
  return v === undefined || v.trim() === "" ? defaultJobLogLimit : parseLogLimit(v);
}

/** Counts a job's log bytes; says whether a line may still go out, and when the cap is first passed. */
export class LogBudget {
  readonly limit: number;
  #used = 0;
  #over = false;
  constructor(limit: number) {
    this.limit = limit;
  }

  /** "keep" while under the limit; "first-over" once, for the line that passes it; then "drop". */
  take(text: string): "keep" | "first-over" | "drop" {
    if (this.#over) return "drop";
    this.#used += Buffer.byteLength(text) + 1;
    if (this.#used <= this.limit) return "keep";
    this.#over = true;
    return "first-over";
  }
}

/** What the log says where it was cut. */
export function truncationNotice(limit: number): string {
  return `The job's log reached its limit of ${formatSize(limit)} (${jobLogLimitSetting}): the rest of its output is not kept. The job goes on.`;
}

function formatSize(n: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}
