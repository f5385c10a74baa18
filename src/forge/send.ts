// One request to a forge: GitHub through its own client (@octokit/core: its auth header, media type,
// user agent and error shape), Gitea and GitLab with fetch and their documented auth headers
// (`Authorization: token …`, `PRIVATE-TOKEN: …`). Failures are DeliveryErrors that say whether a retry can
// help (no answer, 5xx, 408, 429) or not (other 4xx: a bad token, an unknown commit). No message ever
// holds the token: only the forge's status and a clipped body.
import { Octokit } from "@octokit/core";
import { DeliveryError } from "../notify/index.js";
import type { SecretValue } from "../secrets/index.js";
import type { ForgeRequest } from "./requests.js";
import type { ForgeTarget } from "./target.js";

const userAgent = "slipway-forge/1";
const maxBodyInError = 300;

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The forge's answer, clipped, for an error: a forge (or a proxy) echoing the request's headers back
 * must not put the token in the delivery log, so it is cut out before anything else. */
function snippet(body: unknown, token: SecretValue): string {
  const s = typeof body === "string" ? body : body == null ? "" : JSON.stringify(body);
  const secret = token.reveal();
  const one = (secret ? s.split(secret).join("[REDACTED]") : s).replace(/\s+/g, " ").trim();
  return one.length > maxBodyInError ? `${one.slice(0, maxBodyInError)}…` : one;
}

function retryAfterMs(value: string | null | undefined): number | undefined {
  return value && /^\d+$/.test(value.trim()) ? Number(value) * 1000 : undefined;
}

/** Sends `req` to the forge and returns the parsed JSON answer (undefined when it had none). */
export async function sendForgeRequest(
  target: ForgeTarget,
  token: SecretValue,
  req: ForgeRequest,
  opts: { timeoutMs: number },
): Promise<unknown> {
  return target.provider === "github"
    ? sendGitHub(target, token, req, opts)
    : sendPlain(target, token, req, opts);
}

async function sendGitHub(
  target: ForgeTarget,
  token: SecretValue,
  req: ForgeRequest,
  opts: { timeoutMs: number },
): Promise<unknown> {
  const noLog = () => {};
  const octokit = new Octokit({
    auth: token.reveal(),
    baseUrl: target.apiUrl,
    userAgent,
    log: { debug: noLog, info: noLog, warn: noLog, error: noLog },
  });
  try {
    const r = await octokit.request(`${req.method} ${req.path}`, {
      ...req.body,
      headers: { "x-github-api-version": "2022-11-28" },
      request: { signal: AbortSignal.timeout(opts.timeoutMs) },
    });
    return r.data;
  } catch (err) {
    const e = err as {
      status?: number;
      response?: { data?: unknown; headers?: Record<string, string> };
      name?: string;
    };
    if (e.response && typeof e.status === "number") {
      if (e.status === 404 && req.absentOk) return undefined;
      const body = snippet(e.response.data, token);
      throw new DeliveryError(
        `GitHub answered HTTP ${e.status}${body ? `: ${body}` : ""}`,
        retryable(e.status),
        e.status === 429 ? retryAfterMs(e.response.headers?.["retry-after"]) : undefined,
      );
    }
    // No answer: refused, reset, timed out.
    throw new DeliveryError(`request to GitHub failed: ${(err as Error).message}`, true);
  }
}

async function sendPlain(
  target: ForgeTarget,
  token: SecretValue,
  req: ForgeRequest,
  opts: { timeoutMs: number },
): Promise<unknown> {
  const name = target.provider === "gitea" ? "Gitea" : "GitLab";
  const auth: Record<string, string> =
    target.provider === "gitea"
      ? { Authorization: `token ${token.reveal()}` }
      : { "PRIVATE-TOKEN": token.reveal() };
  let response: Response;
  try {
    response = await fetch(`${target.apiUrl}${req.path}`, {
      method: req.method,
      headers: {
        ...auth,
        Accept: "application/json",
        "User-Agent": userAgent,
        ...(req.body && { "Content-Type": "application/json" }),
      },
      body: req.body ? JSON.stringify(req.body) : undefined,
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const n = (err as Error).name;
    if (n === "TimeoutError" || n === "AbortError")
      throw new DeliveryError(`request to ${name} timed out after ${opts.timeoutMs} ms`, true);
    throw new DeliveryError(`request to ${name} failed: ${(err as Error).message}`, true);
  }
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The status is what counts.
  }
  if (response.status >= 200 && response.status < 300) {
    try {
      return text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return undefined;
    }
  }
  if (response.status === 404 && req.absentOk) return undefined;
  const body = snippet(text, token);
  throw new DeliveryError(
    `${name} answered HTTP ${response.status}${body ? `: ${body}` : ""}`,
    retryable(response.status),
    response.status === 429 ? retryAfterMs(response.headers.get("retry-after")) : undefined,
  );
}
