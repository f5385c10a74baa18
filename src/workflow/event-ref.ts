// GITHUB_REF and GITHUB_SHA: what GitHub would derive from an event's name and payload, with the local
// checkout standing in where a local run cannot know better.
import { record, str } from "./payload-fields.js";
import type { TriggerEvent } from "./triggers.js";

const pullRequestEvents = new Set(["pull_request", "pull_request_review", "pull_request_review_comment"]);

function fallbackRef(event: TriggerEvent): string {
  // GitHub uses the default branch for most events; a local run uses the checkout the user is on,
  // so that the ref agrees with the commit (event.sha) the run actually uses.
  if (event.ref !== undefined) return event.ref;
  const defaultBranch = str(record(event.payload.repository).default_branch);
  return defaultBranch === undefined ? "" : `refs/heads/${defaultBranch}`;
}

/** The GITHUB_REF GitHub would set for this event. */
export function eventRef(event: TriggerEvent): string {
  const p = event.payload;
  const pr = record(p.pull_request);
  if (event.name === "push" || event.name === "workflow_dispatch") return str(p.ref) ?? fallbackRef(event);
  if (pullRequestEvents.has(event.name)) {
    const number = p.number ?? pr.number;
    return number === undefined ? fallbackRef(event) : `refs/pull/${number}/merge`;
  }
  if (event.name === "pull_request_target") {
    const base = str(record(pr.base).ref);
    return base === undefined ? fallbackRef(event) : `refs/heads/${base.replace(/^refs\/heads\//, "")}`;
  }
  if (event.name === "release") {
    const tag = str(record(p.release).tag_name);
    return tag === undefined ? fallbackRef(event) : `refs/tags/${tag}`;
  }
  if (event.name === "create") {
    const ref = str(p.ref);
    if (ref !== undefined && p.ref_type === "tag") return `refs/tags/${ref}`;
    if (ref !== undefined && p.ref_type === "branch") return `refs/heads/${ref}`;
  }
  return fallbackRef(event);
}

/**
 * The GITHUB_SHA GitHub would set for this event. For pull requests GitHub uses the sha of its
 * test-merge commit, which does not exist in a local clone, so the head sha stands in for it.
 */
export function eventSha(event: TriggerEvent): string {
  const p = event.payload;
  const pr = record(p.pull_request);
  if (event.name === "push") return str(p.after) ?? event.sha ?? "";
  if (pullRequestEvents.has(event.name)) return str(record(pr.head).sha) ?? event.sha ?? "";
  if (event.name === "pull_request_target") return str(record(pr.base).sha) ?? event.sha ?? "";
  return event.sha ?? "";
}
