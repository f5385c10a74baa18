// The event a run starts from: synthesized from the local git repository for `slipway run <event>`, or
// read from a webhook payload file for `slipway run -e FILE`, plus the GITHUB_REF / GITHUB_SHA GitHub
// would derive from it.
//
// Synthesized payloads carry the fields workflows commonly read (`github.event.head_commit.message`,
// `github.event.pull_request.base.ref`, …) with values taken from git; fields only GitHub knows
// (ids, URLs, logins) are empty or best guesses, never invented to look real.
//
// The parts: repo-facts.ts reads the repository, event-git.ts the changed files, event-file.ts a payload
// file, event-ref.ts derives GITHUB_REF / GITHUB_SHA; this file builds each event kind's payload.

import { changedPaths, diffChanges, gitMaybe } from "./event-git.js";
import { defaultBranchCommit, type RepoFacts, readRepoFacts } from "./repo-facts.js";
import type { TriggerEvent } from "./triggers.js";

export { loadEventFile } from "./event-file.js";
export { eventRef, eventSha } from "./event-ref.js";
export { parseRemoteUrl } from "./repo-facts.js";

const zeroSha = "0000000000000000000000000000000000000000";

async function synthesizePullRequest(
  repoDir: string,
  facts: RepoFacts,
  eventName: string,
): Promise<TriggerEvent> {
  const headRef = facts.branch ?? facts.sha;
  const defaultSha = await defaultBranchCommit(repoDir, facts.defaultBranch);
  const mergeBase =
    facts.branch !== facts.defaultBranch && defaultSha !== undefined
      ? await gitMaybe(repoDir, ["merge-base", defaultSha, facts.sha])
      : undefined;

  let baseSha: string;
  let changedFiles: string[];
  if (mergeBase !== undefined) {
    baseSha = mergeBase;
    changedFiles = changedPaths(await diffChanges(repoDir, mergeBase, facts.sha));
  } else {
    // On the default branch itself (or with no default branch to compare to) the "PR" is the last commit.
    baseSha = facts.parent ?? facts.sha;
    changedFiles = changedPaths(facts.headCommit);
  }

  const user = { login: facts.sender.login };
  const pullRequest = {
    number: 1,
    state: "open",
    draft: false,
    merged: false,
    title: facts.subject,
    body: facts.body === "" ? null : facts.body,
    user,
    labels: [],
    head: { ref: headRef, sha: facts.sha, label: headRef, repo: facts.repository, user },
    base: {
      ref: facts.defaultBranch,
      sha: baseSha,
      label: facts.defaultBranch,
      repo: facts.repository,
      user,
    },
    html_url: "",
  };
  return {
    name: eventName,
    payload: {
      action: "opened",
      number: 1,
      pull_request: pullRequest,
      repository: facts.repository,
      sender: facts.sender,
    },
    changedFiles,
    ref: facts.ref,
    sha: facts.sha,
  };
}

/**
 * An event as if the current state of the repository at `repoDir` had just caused it: a push of HEAD,
 * a pull request from the current branch into the default branch, a dispatch on the current ref, … .
 * For events other than push, pull_request(_target) and workflow_dispatch, `opts.inputs.action`
 * (if given) becomes `payload.action` so `types:` filters can be exercised.
 */
export async function synthesizeEvent(
  repoDir: string,
  eventName: string,
  opts: { inputs?: Record<string, string> } = {},
): Promise<TriggerEvent> {
  const facts = await readRepoFacts(repoDir);
  const common = { repository: facts.repository, sender: facts.sender };

  switch (eventName) {
    case "push":
      return {
        name: eventName,
        payload: {
          ref: facts.ref,
          before: facts.parent ?? zeroSha,
          after: facts.sha,
          base_ref: null,
          created: false,
          deleted: false,
          forced: false,
          compare: "",
          commits: [facts.headCommit],
          head_commit: facts.headCommit,
          pusher: facts.pusher,
          ...common,
        },
        changedFiles: changedPaths(facts.headCommit),
        ref: facts.ref,
        sha: facts.sha,
      };
    case "pull_request":
    case "pull_request_target":
      return synthesizePullRequest(repoDir, facts, eventName);
    case "workflow_dispatch":
      return {
        name: eventName,
        payload: { inputs: { ...opts.inputs }, ref: facts.ref, ...common },
        ref: facts.ref,
        sha: facts.sha,
      };
    default: {
      const action = opts.inputs?.action;
      return {
        name: eventName,
        payload: action === undefined ? common : { action, ...common },
        ref: facts.ref,
        sha: facts.sha,
      };
    }
  }
}
