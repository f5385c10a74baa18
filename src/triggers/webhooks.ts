// Webhook deliveries from GitHub, Gitea/Forgejo and GitLab: signature checks, and parsing into the
// GitHub event a workflow sees, whichever forge sent it.
//
// Everything here is pure (no I/O, no clock), so the server's order of work is, on a per-repository
// URL (`/hooks/<provider>/<repo>`, whose secret is known before the body):
//   1. no signature header → 401 before the body is read; a body over `maxWebhookBody` → 413;
//   2. the raw bytes go through `signatureCheck` as they arrive; a bad signature → 401 when the body
//      ends, and the body is never decoded or parsed;
//   3. `parseWebhook` (400/413/415/422 as WebhookError), which also refuses commit ids that are not hex;
//   4. dedupe on `(provider, deliveryId)` (a redelivery repeats the id) and on the body's sha256 per
//      repository (a replay under a new id): neither may start a second run;
//   5. for `kind: "event"`, `toTriggerEvent` with `changedFilesOf(parsed)` or, when that is undefined,
//      the files from the server's git mirror.
// On the legacy URL (`/hooks/<provider>`) the body names the repository, so it is parsed first and
// verified with `verifySignature` after; an unknown repository answers exactly as a bad signature does.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { RefusalError } from "../lib/errors.js";
import type { TriggerEvent } from "../workflow/index.js";
import { normaliseGitea } from "./gitea.js";
import { gitlabRepository, normaliseGitlab } from "./gitlab.js";
import { invalidPayloadSha, type Json, type Normalised, record } from "./payload.js";
import { type WebhookRepository, webhookRepositoryOf } from "./repository.js";

export const webhookProviders = ["github", "gitea", "gitlab"] as const;
export type WebhookProvider = (typeof webhookProviders)[number];

/** Request headers by name; names are matched case-insensitively. */
export type WebhookHeaders = Readonly<Record<string, string | undefined>>;

/** GitHub caps webhook payloads at 25 MB; the others send less. Larger bodies are refused with 413. */
export const maxWebhookBody = 25 * 1024 * 1024;

/**
 * A provider's push payload lists at most this many commits (GitLab: 20, with `total_commits_count`
 * for the rest); from this many on, the list may be cut and changed files are read from git instead.
 */
export const maxPayloadCommits = 20;

export type WebhookErrorStatus = 400 | 401 | 404 | 413 | 415 | 422;

/** A delivery the server must refuse, with the HTTP status to answer. */
export class WebhookError extends RefusalError {
  constructor(status: WebhookErrorStatus, message: string, options?: ErrorOptions) {
    super(status, message, options);
    this.name = "WebhookError";
  }
}

export type ParsedWebhook = {
  provider: WebhookProvider;
  /**
   * The same for every redelivery of one delivery: GitHub `X-GitHub-Delivery`, Gitea/Forgejo
   * `X-Gitea-Delivery` (`X-Forgejo-Delivery`), GitLab `Idempotency-Key` (kept across GitLab's retries)
   * or else `X-Gitlab-Event-UUID`; without any of them `sha256:` and the hash of the body.
   */
  deliveryId: string;
  /** `event` may start runs; `ping` is GitHub's hello on creating a hook; `ignored` says why in `reason`. */
  kind: "ping" | "event" | "ignored";
  /** The GitHub event name a workflow's `on:` sees: push, pull_request, workflow_dispatch, … */
  eventName?: string;
  /** The payload in GitHub's shape (`github.event`); GitHub's own pass through unchanged. */
  payload?: Record<string, unknown>;
  repository: WebhookRepository;
  reason?: string;
  /**
   * How many commits the push had when the provider says so beside the list (Gitea `total_commits`,
   * GitLab `total_commits_count`); more than `payload.commits.length` means the list was cut.
   */
  commitCount?: number;
};

function lowerCaseHeaders(headers: WebhookHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** The first of `names` with a non-empty value. */
function header(headers: Record<string, string | undefined>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = headers[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

function bytesOf(body: string | Buffer): Buffer {
  return typeof body === "string" ? Buffer.from(body, "utf8") : body;
}

/** Equality in time independent of where the strings differ; hashing first makes the lengths equal. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** An HMAC check fed the body's bytes as they arrive, so a forged body is refused without parsing it. */
export type SignatureCheck = {
  update(chunk: Uint8Array): void;
  /** Whether the bytes fed so far carry the sender's signature; call once, at the end of the body. */
  verify(): boolean;
};

/** `sha256=<hex>` as GitHub (and Gitea) send it in X-Hub-Signature-256. */
function hubSignatureCheck(secret: string, signature: string): SignatureCheck {
  const hmac = createHmac("sha256", secret);
  return {
    update: (chunk) => void hmac.update(chunk),
    verify: () => constantTimeEqual(`sha256=${hmac.digest("hex")}`, signature.trim().toLowerCase()),
  };
}

/**
 * The check of a delivery signed with `secret`, to be fed the raw body as it streams:
 * - GitHub: `X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the body>`;
 * - Gitea/Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature` (`X-Gogs-Signature`): the bare hex
 *   HMAC-SHA256 of the body, or else the GitHub-style `X-Hub-Signature-256` they also send;
 * - GitLab: `X-Gitlab-Token` equal to the secret (GitLab sends the token itself, not a signature).
 * Undefined when the delivery carries no signature header at all: it can be refused before its body
 * is read. An empty secret verifies nothing: an unsigned delivery is never accepted here.
 */
export function signatureCheck(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  secret: string,
): SignatureCheck | undefined {
  const h = lowerCaseHeaders(headers);
  const never = (check: SignatureCheck): SignatureCheck =>
    secret === "" ? { update: () => {}, verify: () => false } : check;
  switch (provider) {
    case "github": {
      const signature = header(h, "x-hub-signature-256");
      return signature === undefined ? undefined : never(hubSignatureCheck(secret, signature));
    }
    case "gitea": {
      const hex = header(h, "x-forgejo-signature", "x-gitea-signature", "x-gogs-signature");
      if (hex !== undefined) {
        const hmac = createHmac("sha256", secret);
        return never({
          update: (chunk) => void hmac.update(chunk),
          verify: () => constantTimeEqual(hmac.digest("hex"), hex.toLowerCase()),
        });
      }
      const signature = header(h, "x-hub-signature-256");
      return signature === undefined ? undefined : never(hubSignatureCheck(secret, signature));
    }
    case "gitlab": {
      const token = h["x-gitlab-token"];
      if (token === undefined || token === "") return undefined;
      return never({ update: () => {}, verify: () => constantTimeEqual(token, secret) });
    }
  }
}

/**
 * Whether the delivery was signed with `secret` (see `signatureCheck`), for a body already in memory.
 * A missing header or an empty secret is false.
 */
export async function verifySignature(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  rawBody: string | Buffer,
  secret: string,
): Promise<boolean> {
  const check = signatureCheck(provider, headers, secret);
  if (check === undefined) return false;
  check.update(bytesOf(rawBody));
  return check.verify();
}

// Headers naming the event and the delivery, in order of preference. Forgejo sends its own names
// beside Gitea's; Gitea also sends X-Gogs-* and X-GitHub-* copies.
const eventHeaders: Record<WebhookProvider, string[]> = {
  github: ["x-github-event"],
  gitea: ["x-forgejo-event", "x-gitea-event", "x-gogs-event", "x-github-event"],
  gitlab: ["x-gitlab-event"],
};

const deliveryHeaders: Record<WebhookProvider, string[]> = {
  github: ["x-github-delivery"],
  gitea: ["x-forgejo-delivery", "x-gitea-delivery", "x-gogs-delivery", "x-github-delivery"],
  // Idempotency-Key is the one GitLab keeps across retries of a delivery (GitLab 17.4+).
  gitlab: ["idempotency-key", "x-gitlab-event-uuid"],
};

/** The delivery id the server dedupes on; see ParsedWebhook.deliveryId. */
export function deliveryIdOf(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  rawBody: string | Buffer,
): string {
  const id = header(lowerCaseHeaders(headers), ...deliveryHeaders[provider]);
  return id ?? `sha256:${bodySha256(rawBody)}`;
}

/** The hex sha256 of the raw body: what replays under a new delivery id are recognised by. */
export function bodySha256(rawBody: string | Buffer): string {
  return createHash("sha256").update(bytesOf(rawBody)).digest("hex");
}

function byteLength(body: string | Buffer): number {
  return typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length;
}

/** The JSON document of the body: sent as JSON, or (GitHub, Gitea) form-encoded as `payload=<json>`. */
function readBody(
  provider: WebhookProvider,
  contentType: string | undefined,
  rawBody: string | Buffer,
): Json {
  const text = typeof rawBody === "string" ? rawBody : rawBody.toString("utf8");
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase();
  let json: string;
  if (mediaType === "application/x-www-form-urlencoded" && provider !== "gitlab") {
    const payload = new URLSearchParams(text).get("payload");
    if (payload === null) throw new WebhookError(400, "form-encoded webhook body has no 'payload' field");
    json = payload;
  } else if (mediaType === "" || mediaType === "application/json" || mediaType.endsWith("+json")) {
    json = text;
  } else {
    throw new WebhookError(415, `unsupported webhook content type '${contentType}'`);
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new WebhookError(400, `malformed JSON in webhook body: ${(cause as Error).message}`, { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WebhookError(422, "webhook payload is not a JSON object");
  }
  return value as Json;
}

function normaliseGithub(eventName: string, body: Json): Normalised {
  return { kind: eventName === "ping" ? "ping" : "event", eventName, payload: body };
}

/**
 * Reads a delivery into the GitHub event it stands for. Throws a WebhookError for a body over
 * `maxWebhookBody` (413), a missing event header or malformed JSON (400), an unsupported content
 * type (415), JSON that is not an object or a commit id that is not hex (422). Events slipway does not map come back as
 * `kind: "ignored"` with a reason, never as an error: the sender should not retry them.
 */
export function parseWebhook(
  provider: WebhookProvider,
  headers: WebhookHeaders,
  rawBody: string | Buffer,
): ParsedWebhook {
  if (byteLength(rawBody) > maxWebhookBody) {
    throw new WebhookError(413, `webhook body is larger than ${maxWebhookBody} bytes`);
  }
  const h = lowerCaseHeaders(headers);
  const eventHeader = header(h, ...eventHeaders[provider]);
  if (eventHeader === undefined) {
    throw new WebhookError(400, `missing ${eventHeaders[provider][0]} header`);
  }
  const body = readBody(provider, h["content-type"], rawBody);
  const deliveryId = deliveryIdOf(provider, h, rawBody);

  const normalised =
    provider === "github"
      ? normaliseGithub(eventHeader, body)
      : provider === "gitea"
        ? normaliseGitea(eventHeader, body)
        : normaliseGitlab(eventHeader, body);

  if (normalised.kind === "ignored") {
    const parsed: ParsedWebhook = {
      provider,
      deliveryId,
      kind: "ignored",
      repository: webhookRepositoryOf(
        provider === "gitlab" ? gitlabRepository(body.project) : body.repository,
      ),
      reason: normalised.reason,
    };
    if (normalised.eventName !== undefined) parsed.eventName = normalised.eventName;
    return parsed;
  }
  const parsed: ParsedWebhook = {
    provider,
    deliveryId,
    kind: normalised.kind,
    eventName: normalised.eventName,
    payload: normalised.payload,
    repository: webhookRepositoryOf(normalised.payload.repository),
  };
  // Commit ids become git arguments and directory names: only full hex ids get that far.
  const bad =
    normalised.kind === "event" ? invalidPayloadSha(normalised.eventName, normalised.payload) : undefined;
  if (bad !== undefined)
    throw new WebhookError(
      422,
      `${bad.path} is not a commit id (40 or 64 hex digits): ${JSON.stringify(String(bad.value).slice(0, 80))}`,
    );
  if (normalised.commitCount !== undefined) parsed.commitCount = normalised.commitCount;
  return parsed;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
}

/**
 * The files a push changed, from its payload: the union of the commits' added, modified and removed
 * lists. Undefined — the server then diffs `before..after` in its git mirror — whenever the payload
 * cannot be trusted to be complete:
 * - the list has `maxPayloadCommits` (20) or more commits: providers cut long lists (GitLab keeps 20),
 *   so a full one may be a cut one;
 * - the provider's total count (`commitCount`) exceeds the list;
 * - a commit has no file lists;
 * - the list is empty (a new branch at an existing commit, a tag, a force-push backwards).
 * A branch or tag deletion changed no file: []. Pull requests are always undefined: the server
 * computes `git diff base...head`, as GitHub's path filters do.
 */
export function changedFilesOf(parsed: ParsedWebhook): string[] | undefined {
  if (parsed.kind !== "event" || parsed.eventName !== "push" || parsed.payload === undefined)
    return undefined;
  const payload = parsed.payload;
  if (payload.deleted === true) return [];
  const commits = Array.isArray(payload.commits) ? payload.commits.map(record) : [];
  if (commits.length === 0 || commits.length >= maxPayloadCommits) return undefined;
  if (parsed.commitCount !== undefined && parsed.commitCount > commits.length) return undefined;
  const files = new Set<string>();
  for (const commit of commits) {
    for (const key of ["added", "modified", "removed"]) {
      const list = stringList(commit[key]);
      if (list === undefined) return undefined;
      for (const file of list) files.add(file);
    }
  }
  return [...files];
}

/**
 * The event a parsed delivery of `kind: "event"` triggers. `changedFiles` defaults to
 * `changedFilesOf(parsed)`; pass the mirror's diff when that is undefined. The event carries no
 * `ref`/`sha` of its own: for events whose payload names no commit (workflow_dispatch, issues, …)
 * the server sets `sha` (and `ref`) from its mirror, resolving `eventRef(event)`.
 */
export function toTriggerEvent(
  parsed: ParsedWebhook,
  changedFiles: string[] | undefined = changedFilesOf(parsed),
): TriggerEvent {
  if (parsed.kind !== "event" || parsed.eventName === undefined || parsed.payload === undefined) {
    throw new Error(`a ${parsed.kind} delivery (${parsed.deliveryId}) triggers no workflow`);
  }
  const event: TriggerEvent = { name: parsed.eventName, payload: parsed.payload };
  if (changedFiles !== undefined) event.changedFiles = changedFiles;
  return event;
}
