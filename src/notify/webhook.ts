// Generic webhooks: a JSON payload with a documented schema (docs/notifications.md, generated from
// `webhookPayloadSchema`), signed GitHub-style: `X-Slipway-Signature-256: sha256=<hex HMAC-SHA256>` over
// `<timestamp>.<body>` with the timestamp (Unix seconds) in `X-Slipway-Timestamp`, so a receiver that
// checks both can refuse a captured request replayed later.
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { SecretValue } from "../secrets/index.js";
import { durationOf, eventTypeOf, eventTypesOf, type NotifyEvent } from "./events.js";

export const signatureHeader = "X-Slipway-Signature-256";
export const timestampHeader = "X-Slipway-Timestamp";
export const eventHeader = "X-Slipway-Event";
export const deliveryHeader = "X-Slipway-Delivery";
/** How far a timestamp may be from the receiver's clock by default (as Slack's and Stripe's). */
export const defaultToleranceSeconds = 300;

export const payloadSchemaId = "slipway.notification.v1";

const conclusion = z.enum(["success", "failure", "cancelled", "skipped"]);
const eventType = z.enum([
  "run.completed",
  "run.failed",
  "run.fixed",
  "deploy.started",
  "deploy.succeeded",
  "deploy.failed",
  "deploy.rolled_back",
]);
const time = z.iso.datetime().nullable().describe("ISO 8601, UTC");

const runPayload = z.looseObject({
  workflow: z.string(),
  number: z.number().int().nullable(),
  attempt: z.number().int().nullable(),
  url: z.string().nullable().describe("The run's page"),
  trigger: z.string().nullable().describe("The GitHub event that started the run (push, pull_request, …)"),
  branch: z.string().nullable(),
  sha: z.string(),
  commit_message: z.string().nullable(),
  author: z.string().nullable(),
  version: z.string().nullable(),
  pull_request: z
    .looseObject({
      number: z.number().int(),
      title: z.string(),
      url: z.string().nullable(),
      author: z.string().nullable(),
      merged_by: z.string().nullable(),
    })
    .nullable(),
  conclusion,
  previous_conclusion: conclusion.nullable(),
  started_at: time,
  finished_at: time,
  duration_ms: z.number().int().nullable(),
  jobs: z.array(
    z.looseObject({
      name: z.string(),
      matrix: z.record(z.string(), z.unknown()).nullable(),
      status: conclusion,
      duration_ms: z.number().int().nullable(),
    }),
  ),
});

const deployPayload = z.looseObject({
  environment: z.string(),
  strategy: z.string(),
  service: z.string().nullable(),
  version: z.string().describe("The version deployed (for deploy.rolled_back: the version rolled back to)"),
  previous_version: z.string().nullable(),
  branch: z.string().nullable(),
  sha: z.string().nullable(),
  workflow: z.string().nullable(),
  run_url: z.string().nullable(),
  url: z.string().nullable(),
  actor: z.string().nullable(),
  reason: z.string().nullable().describe("Why it failed or was rolled back"),
  started_at: time,
  finished_at: time,
  duration_ms: z.number().int().nullable(),
});

export const webhookPayloadSchema = z
  .looseObject({
    schema: z.literal(payloadSchemaId),
    id: z.string().describe("The event's id: the same on every retry and every channel (deduplicate on it)"),
    type: eventType.describe("The most specific type of the event"),
    types: z
      .array(eventType)
      .describe("Every type the event counts as (a failed run: run.completed, run.failed)"),
    test: z.boolean().describe("True for `slipway notify test`"),
    created_at: z.iso.datetime(),
    repository: z.string(),
    run: runPayload.nullable().describe("Set for run.* events"),
    deploy: deployPayload.nullable().describe("Set for deploy.* events"),
  })
  .describe("The body slipway POSTs to a generic webhook");

export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export function webhookPayload(event: NotifyEvent, opts: { id: string; createdAt?: number }): WebhookPayload {
  const base = {
    schema: payloadSchemaId,
    id: opts.id,
    type: eventTypeOf(event),
    types: eventTypesOf(event),
    test: event.kind === "run" && event.test === true,
    created_at: new Date(opts.createdAt ?? Date.now()).toISOString(),
    repository: event.repository,
  } as const;
  const duration = orNull(durationOf(event));
  if (event.kind === "run") {
    const pr = event.pullRequest;
    return {
      ...base,
      run: {
        workflow: event.workflow,
        number: orNull(event.runNumber),
        attempt: orNull(event.runAttempt),
        url: orNull(event.runUrl),
        trigger: orNull(event.trigger),
        branch: orNull(event.branch),
        sha: event.sha,
        commit_message: orNull(event.commitMessage),
        author: orNull(event.author),
        version: orNull(event.version),
        pull_request: pr
          ? {
              number: pr.number,
              title: pr.title,
              url: orNull(pr.url),
              author: orNull(pr.author),
              merged_by: orNull(pr.merger),
            }
          : null,
        conclusion: event.conclusion,
        previous_conclusion: orNull(event.previousConclusion ?? undefined),
        started_at: iso(event.startedAt),
        finished_at: iso(event.finishedAt),
        duration_ms: duration,
        jobs: event.jobs.map((j) => ({
          name: j.name,
          matrix: j.matrix && Object.keys(j.matrix).length ? j.matrix : null,
          status: j.status,
          duration_ms: j.durationMs === undefined ? null : Math.round(j.durationMs),
        })),
      },
      deploy: null,
    };
  }
  return {
    ...base,
    run: null,
    deploy: {
      environment: event.environment,
      strategy: event.strategy,
      service: orNull(event.service),
      version: event.version,
      previous_version: orNull(event.previousVersion),
      branch: orNull(event.branch),
      sha: orNull(event.sha),
      workflow: orNull(event.workflow),
      run_url: orNull(event.runUrl),
      url: orNull(event.url),
      actor: orNull(event.actor),
      reason: orNull(event.reason),
      started_at: iso(event.startedAt),
      finished_at: iso(event.finishedAt),
      duration_ms: duration,
    },
  };
}

function secretBytes(secret: string | SecretValue): Buffer {
  return typeof secret === "string" ? Buffer.from(secret, "utf8") : secret.revealBytes();
}

function signature(body: string | Uint8Array, secret: string | SecretValue, timestamp: number): string {
  const mac = createHmac("sha256", secretBytes(secret));
  mac.update(`${timestamp}.`, "utf8");
  mac.update(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  return `sha256=${mac.digest("hex")}`;
}

/** The signature headers for `body` sent at `timestamp` (Unix seconds). */
export function signPayload(
  body: string | Uint8Array,
  secret: string | SecretValue,
  timestamp: number,
): Record<string, string> {
  return { [timestampHeader]: String(timestamp), [signatureHeader]: signature(body, secret, timestamp) };
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * For receivers: checks the signature over the raw body bytes (not a re-serialized JSON) in constant
 * time, and that the timestamp is within `toleranceSeconds` of `now`, which refuses a replay of an old
 * request. Keep the ids of accepted events for the tolerance window to refuse a replay within it too.
 */
export function verifyWebhookSignature(input: {
  body: string | Uint8Array;
  secret: string | SecretValue;
  signature: string | null | undefined;
  timestamp: string | null | undefined;
  toleranceSeconds?: number;
  now?: number;
}): VerifyResult {
  if (!input.signature) return { ok: false, reason: `missing ${signatureHeader}` };
  if (!input.timestamp || !/^\d{1,12}$/.test(input.timestamp))
    return { ok: false, reason: `missing or malformed ${timestampHeader}` };
  const ts = Number(input.timestamp);
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  const tolerance = input.toleranceSeconds ?? defaultToleranceSeconds;
  if (Math.abs(now - ts) > tolerance)
    return { ok: false, reason: `timestamp ${ts} is more than ${tolerance}s from now (${now}): a replay?` };
  const expected = Buffer.from(signature(input.body, input.secret, ts));
  const given = Buffer.from(input.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "signature does not match" };
  return { ok: true };
}
