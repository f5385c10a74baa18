// One delivery attempt over HTTP: Slack through Slack's own client (@slack/webhook), generic webhooks
// with fetch. Failures become DeliveryErrors that say whether a retry can help: timeouts, closed
// connections, 5xx, 408 and 429 can; other 4xx (a revoked Slack hook, a wrong URL) cannot. Messages never
// include the URL (a Slack webhook URL is a credential).
import { IncomingWebhook, type IncomingWebhookDefaultArguments } from "@slack/webhook";
import { OperationError } from "../lib/errors.js";
import type { SecretValue } from "../secrets/index.js";
import type { SlackMessage } from "./block-kit.js";
import { deliveryHeader, eventHeader, signPayload } from "./webhook.js";

export class DeliveryError extends OperationError {
  readonly retryable: boolean;
  /** From a 429's Retry-After. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryable: boolean, retryAfterMs?: number) {
    super(message);
    this.name = "DeliveryError";
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

export type AttemptOptions = { timeoutMs: number; userAgent?: string };

const userAgent = "slipway-notify/1";
const maxBodyInError = 300;

function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function retryAfter(value: unknown): number | undefined {
  if (typeof value !== "string" || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}

function bodySnippet(body: unknown): string {
  const s = typeof body === "string" ? body : body === undefined || body === null ? "" : JSON.stringify(body);
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > maxBodyInError ? `${one.slice(0, maxBodyInError)}…` : one;
}

function causeOf(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 4; i++) {
    const x = e as { message?: string; code?: string; cause?: unknown };
    const text = x.message || x.code;
    if (text && !parts.includes(text)) parts.push(text);
    e = x.cause;
  }
  return parts.join(": ") || String(err);
}

/** Races `p` against a timer, as a backstop for a receiver that trickles bytes past the socket timeout. */
async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeliveryError(`timed out after ${ms} ms`, true)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Posts a Block Kit message to a Slack incoming webhook. */
export async function sendSlack(
  url: SecretValue | string,
  message: SlackMessage,
  opts: AttemptOptions,
): Promise<void> {
  const defaults: IncomingWebhookDefaultArguments = { timeout: opts.timeoutMs, retryConfig: { retries: 0 } };
  const hook = new IncomingWebhook(typeof url === "string" ? url : url.reveal(), defaults);
  // The client posts its remaining defaults as message fields; its HTTP client has the timeout already.
  delete defaults.timeout;
  try {
    await within(hook.send(message), opts.timeoutMs + 1000);
  } catch (err) {
    if (err instanceof DeliveryError) throw err;
    const original = (
      err as {
        original?: {
          response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
          code?: string;
          message?: string;
        };
      }
    ).original;
    const response = original?.response;
    if (response?.status !== undefined) {
      const body = bodySnippet(response.data);
      throw new DeliveryError(
        `Slack answered HTTP ${response.status}${body ? `: ${body}` : ""}`,
        retryableStatus(response.status),
        response.status === 429 ? retryAfter(response.headers?.["retry-after"]) : undefined,
      );
    }
    if (
      original?.code === "ECONNABORTED" ||
      original?.code === "ETIMEDOUT" ||
      /timeout/i.test(original?.message ?? "")
    )
      throw new DeliveryError(`timed out after ${opts.timeoutMs} ms`, true);
    const code = (err as { code?: string }).code;
    // A request that got no answer (refused, reset, closed) may well work later; anything else is ours.
    if (code === "slack_webhook_request_error")
      throw new DeliveryError(`request failed: ${causeOf(original ?? err)}`, true);
    throw new DeliveryError(`cannot send to Slack: ${causeOf(err)}`, false);
  }
}

/** POSTs a webhook payload, signed when there is a secret. `body` is sent byte for byte. */
export async function sendWebhook(
  url: string,
  body: string,
  opts: AttemptOptions & { secret?: SecretValue | string; eventType: string; eventId: string; now?: number },
): Promise<void> {
  const timestamp = Math.floor((opts.now ?? Date.now()) / 1000);
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": opts.userAgent ?? userAgent,
    [eventHeader]: opts.eventType,
    [deliveryHeader]: opts.eventId,
    ...(opts.secret !== undefined ? signPayload(body, opts.secret, timestamp) : {}),
  };
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const name = (err as Error).name;
    if (name === "TimeoutError" || name === "AbortError")
      throw new DeliveryError(`timed out after ${opts.timeoutMs} ms`, true);
    throw new DeliveryError(`request failed: ${causeOf(err)}`, true);
  }
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The status is what counts; a body cut short changes nothing.
  }
  if (response.status >= 200 && response.status < 300) return;
  const snippet = bodySnippet(text);
  throw new DeliveryError(
    `HTTP ${response.status}${snippet ? `: ${snippet}` : ""}`,
    retryableStatus(response.status),
    response.status === 429 ? retryAfter(response.headers.get("retry-after")) : undefined,
  );
}
