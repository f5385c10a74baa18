// Whether a pull request comes from a fork, read from the payload in GitHub's shape (GitHub's own, or
// Gitea's and GitLab's after normalisation). A fork's code is untrusted: the server withholds secrets
// from it and keeps its configuration from acting on the server, so the answer fails closed — when
// the payload cannot show that head and base are one repository, the pull request is a fork's.
import { type Json, record, str } from "./payload.js";

/** Events whose payload is about one pull request and whose workflow may come from its head. */
export const pullRequestEvents = [
  "pull_request",
  "pull_request_target",
  "pull_request_review",
  "pull_request_review_comment",
] as const;

export type PullRequestOrigin = {
  fork: boolean;
  /** `owner/name` of the head repository, when the payload names it. */
  head?: string;
  /** `owner/name` of the base repository, when the payload names it. */
  base?: string;
  /** Why, in a few words (shown on the run and in logs). */
  reason: string;
};

/** An id as a comparable string; undefined when the payload has none. */
function idOf(repo: Json): string | undefined {
  const id = repo.id;
  if (typeof id === "number" && Number.isFinite(id)) return String(id);
  return str(id);
}

/**
 * Where a pull request event's head comes from; undefined for events that are not about a pull
 * request. The head repository is compared with the base repository (`pull_request.base.repo`, else
 * the payload's `repository`) by id, else by full name (case-insensitive, as forges treat them):
 * - no head repository (GitHub sends `null` when the fork was deleted) → a fork;
 * - no base repository, or nothing to compare them by → a fork (it cannot be shown otherwise);
 * - different ids, or without ids different names → a fork.
 * `head.repo.fork` alone does not decide: a repository that is itself a fork has `fork: true` on
 * pull requests between its own branches.
 */
export function pullRequestOrigin(eventName: string, payload: Json): PullRequestOrigin | undefined {
  if (!(pullRequestEvents as readonly string[]).includes(eventName)) return undefined;
  const pr = payload.pull_request;
  if (typeof pr !== "object" || pr === null || Array.isArray(pr)) return undefined;
  const headValue = record(record(pr).head).repo;
  const baseValue = record(record(pr).base).repo ?? payload.repository;
  const head = record(headValue);
  const base = record(baseValue);
  const headName = str(head.full_name);
  const baseName = str(base.full_name);
  const named = { ...(headName ? { head: headName } : {}), ...(baseName ? { base: baseName } : {}) };
  if (Object.keys(head).length === 0)
    return { fork: true, ...named, reason: "the head repository is gone (a deleted fork)" };
  if (Object.keys(base).length === 0)
    return { fork: true, ...named, reason: "the payload names no base repository" };
  const headId = idOf(head);
  const baseId = idOf(base);
  if (headId !== undefined && baseId !== undefined) {
    return headId === baseId
      ? { fork: false, ...named, reason: "head and base are the same repository" }
      : { fork: true, ...named, reason: `the head repository ${headName ?? `#${headId}`} is a fork` };
  }
  if (headName !== undefined && baseName !== undefined) {
    return headName.toLowerCase() === baseName.toLowerCase()
      ? { fork: false, ...named, reason: "head and base are the same repository" }
      : { fork: true, ...named, reason: `the head repository ${headName} is a fork` };
  }
  return { fork: true, ...named, reason: "the payload cannot show that head and base are one repository" };
}

/** Whether a pull request event comes from a fork (false for events about no pull request). */
export function isForkPullRequest(eventName: string, payload: Json): boolean {
  return pullRequestOrigin(eventName, payload)?.fork ?? false;
}
