// Outbound HTTP with a deadline: a server that accepts the connection and then says nothing must not
// hang a CLI command, a runner or a build forever. The deadline covers connecting and the response
// headers (30 s by default, SLIPWAY_HTTP_TIMEOUT_MS); reading a long body (a blob, an event stream) is
// the caller's to bound.
import { OperationError, UserError } from "./errors.js";

export const defaultHttpTimeoutMs = 30_000;

/** The deadline from SLIPWAY_HTTP_TIMEOUT_MS (milliseconds), or the default. */
export function httpTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SLIPWAY_HTTP_TIMEOUT_MS;
  if (raw === undefined || raw === "") return defaultHttpTimeoutMs;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 3_600_000)
    throw new UserError(
      `SLIPWAY_HTTP_TIMEOUT_MS must be a whole number of milliseconds from 1 to 3600000, got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  return n;
}

/** The URL as an error may show it: no user name, password or query (which may carry tokens). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(an invalid URL)";
  }
}

export class HttpTimeoutError extends OperationError {
  readonly url: string;
  constructor(url: string, timeoutMs: number) {
    super(
      `no answer from ${shownUrl(url)} within ${timeoutMs} ms (SLIPWAY_HTTP_TIMEOUT_MS sets how long to wait)`,
    );
    this.name = "HttpTimeoutError";
    this.url = url;
  }
}

/**
 * `fetch` that fails with an HttpTimeoutError when the connection and the response headers take longer
 * than `timeoutMs`. The caller's own signal still aborts it (with the caller's reason).
 */
export async function fetchWithDeadline(
  url: string,
  init: RequestInit = {},
  timeoutMs: number = httpTimeoutMs(),
  fetchFn: typeof fetch = fetch,
): Promise<Response> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new HttpTimeoutError(url, timeoutMs)), timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
  try {
    return await fetchFn(url, { ...init, signal });
  } catch (err) {
    if (deadline.signal.aborted && !init.signal?.aborted) throw deadline.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
