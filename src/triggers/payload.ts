// Small readers for untyped webhook JSON, shared by the provider normalisers.

export type Json = Record<string, unknown>;

export const zeroSha = "0000000000000000000000000000000000000000";

export function record(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** A non-empty string, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function isZeroSha(sha: unknown): boolean {
  return typeof sha === "string" && /^0+$/.test(sha);
}

/** What a provider's payload becomes: the GitHub event a workflow sees, or why there is none. */
export type Normalised =
  | { kind: "event" | "ping"; eventName: string; payload: Json; commitCount?: number }
  | { kind: "ignored"; eventName?: string; reason: string };

/** A full commit id: 40 hex digits (SHA-1) or 64 (SHA-256 repositories). */
export const commitShaPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isCommitSha(value: unknown): value is string {
  return typeof value === "string" && commitShaPattern.test(value);
}

const pullRequestShaEvents = new Set([
  "pull_request",
  "pull_request_target",
  "pull_request_review",
  "pull_request_review_comment",
]);

/**
 * The commit ids of a payload that the server uses (to fetch, diff, check out, and name directories):
 * a push's `before`/`after`, a pull request's `head.sha`/`base.sha`. Each that is present must be a
 * full lower-case hex id; the first that is not is returned (path and value) so the caller can refuse
 * the delivery before anything reaches git or the file system.
 */
export function invalidPayloadSha(
  eventName: string,
  payload: Json,
): { path: string; value: unknown } | undefined {
  const fields: [string, unknown][] = [];
  if (eventName === "push") fields.push(["before", payload.before], ["after", payload.after]);
  if (pullRequestShaEvents.has(eventName)) {
    const pr = record(payload.pull_request);
    fields.push(
      ["pull_request.head.sha", record(pr.head).sha],
      ["pull_request.base.sha", record(pr.base).sha],
    );
  }
  for (const [path, value] of fields) {
    if (value === undefined || value === null) continue;
    if (!isCommitSha(value)) return { path, value };
  }
  return undefined;
}
