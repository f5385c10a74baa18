// Gitea and Forgejo payloads, normalised to GitHub's. Their payloads are modelled on GitHub's (same
// `repository`, `sender`, `commits`, `pull_request.head/base`), so only the differences are handled:
// action spellings, push fields Gitea leaves out, review events under other names, and the webhook
// secret that Gitea before 1.14 echoed in every payload.

import { isZeroSha, type Json, type Normalised, num, record, str, zeroSha } from "./payload.js";

// Gitea's HookIssueAction values that GitHub spells differently (modules/structs/hook.go).
const pullRequestActions: Record<string, string> = {
  synchronized: "synchronize",
  label_updated: "labeled",
  label_cleared: "unlabeled",
};

// Gitea names review events by their outcome; GitHub has one pull_request_review event with a state.
const reviewStates: Record<string, string> = {
  pull_request_approved: "approved",
  pull_request_rejected: "changes_requested",
  pull_request_comment: "commented",
};

// Events whose Gitea payloads already have GitHub's shape.
const passThrough = new Set(["create", "delete", "fork", "issues", "issue_comment", "release"]);

function normalisePush(p: Json): Normalised {
  const before = str(p.before) ?? zeroSha;
  const after = str(p.after) ?? zeroSha;
  const commits = Array.isArray(p.commits) ? p.commits.map(record) : [];
  const headCommit = p.head_commit ?? commits.find((c) => c.id === after) ?? null;
  const pusher = record(p.pusher);
  const payload: Json = {
    ...p,
    before,
    after,
    created: p.created ?? isZeroSha(before),
    deleted: p.deleted ?? isZeroSha(after),
    // Gitea does not say whether a push was forced; false is what GitHub reports for most pushes.
    forced: p.forced ?? false,
    base_ref: p.base_ref ?? null,
    compare: p.compare ?? str(p.compare_url) ?? "",
    commits,
    head_commit: headCommit,
    // GitHub's pusher is `{ name: <login>, email }`; Gitea sends a whole user.
    pusher: {
      ...pusher,
      name: str(pusher.name) ?? str(pusher.login) ?? str(pusher.username) ?? "",
      email: pusher.email ?? null,
    },
  };
  const count = num(p.total_commits);
  return count === undefined
    ? { kind: "event", eventName: "push", payload }
    : { kind: "event", eventName: "push", payload, commitCount: count };
}

function branchInfo(value: unknown): Json {
  const branch = record(value);
  const ref = str(branch.ref);
  return ref === undefined ? branch : { ...branch, ref: ref.replace(/^refs\/heads\//, "") };
}

function pullRequestPayload(p: Json): Json {
  const pr = record(p.pull_request);
  return {
    ...pr,
    number: pr.number ?? p.number,
    head: branchInfo(pr.head),
    base: branchInfo(pr.base),
    merged: pr.merged === true,
    merged_by: pr.merged_by ?? null,
    merge_commit_sha: pr.merge_commit_sha ?? null,
  };
}

function normalisePullRequest(p: Json): Normalised {
  const action = str(p.action) ?? "";
  const pullRequest = pullRequestPayload(p);
  return {
    kind: "event",
    eventName: "pull_request",
    payload: {
      ...p,
      action: pullRequestActions[action] ?? action,
      number: p.number ?? pullRequest.number,
      pull_request: pullRequest,
    },
  };
}

function normaliseReview(p: Json, state: string): Normalised {
  const review = record(p.review);
  return {
    kind: "event",
    eventName: "pull_request_review",
    payload: {
      ...p,
      action: "submitted",
      pull_request: pullRequestPayload(p),
      review: { ...review, state, body: str(review.content) ?? null, user: p.sender ?? null },
    },
  };
}

/** Normalises a Gitea/Forgejo delivery of event `eventName` (the `X-Gitea-Event` header). */
export function normaliseGitea(eventName: string, body: Json): Normalised {
  const payload = { ...body };
  delete payload.secret;
  if (eventName === "push") return normalisePush(payload);
  if (eventName === "pull_request") return normalisePullRequest(payload);
  const state = reviewStates[eventName];
  if (state !== undefined) return normaliseReview(payload, state);
  if (passThrough.has(eventName)) return { kind: "event", eventName, payload };
  return {
    kind: "ignored",
    eventName,
    reason: `Gitea event '${eventName}' has no GitHub counterpart that slipway maps`,
  };
}
