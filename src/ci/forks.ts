// Pull requests from forks, as the CI service treats them (GitHub's rules): a fork's own workflow
// (pull_request and its review events) runs with no secrets and its slipway.yaml configures nothing on
// the server; pull_request_target runs the base branch's workflow, at the base branch's last commit,
// with secrets. Per repository, `fork_pull_requests` says whether a fork's runs start, wait for
// approval, or do not exist. Pure: the service does the I/O.
import type { ForkPolicy, Run } from "../store/index.js";
import { pullRequestOrigin } from "../triggers/index.js";
import type { TriggerEvent } from "../workflow/index.js";

/** What a webhook answers when a fork's pull request starts nothing (`fork_pull_requests: off`). */
export const forkPullRequestsOff = "fork pull requests are off for this repository";

/**
 * Whether a run executes a fork's code: a fork pull request's own workflow (pull_request and its
 * review events). Such a run gets no secrets and its slipway.yaml configures nothing on the server.
 * A pull_request_target run of a fork's pull request runs the base branch's workflow and gets them.
 */
export function runsForkCode(run: Pick<Run, "fork" | "eventName">): boolean {
  return run.fork && run.eventName !== "pull_request_target";
}

/** How the repository's policy treats an event: no runs, runs held for approval, or runs. */
export type ForkVerdict =
  | { fork: false }
  | { fork: true; head?: string; ignored: string }
  | { fork: true; head?: string; hold?: string };

export function forkVerdict(policy: ForkPolicy, event: TriggerEvent): ForkVerdict {
  const origin = pullRequestOrigin(event.name, event.payload);
  if (!origin?.fork) return { fork: false };
  const head = origin.head;
  if (policy === "off") return { fork: true, head, ignored: forkPullRequestsOff };
  // The base branch's workflow (pull_request_target) needs no approval: its code is the repository's.
  if (policy === "require-approval" && event.name !== "pull_request_target")
    return {
      fork: true,
      head,
      hold: `waiting for approval: a pull request from a fork (${head ?? "a deleted repository"}); a developer approves it (slipway approve) to run it without secrets, or rejects it (slipway reject)`,
    };
  return { fork: true, head };
}

const objectOf = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const textOf = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The pull request's base branch (without refs/heads/) and base commit, as the payload names them. */
export function pullRequestBase(payload: Record<string, unknown>): { branch?: string; sha?: string } {
  const base = objectOf(objectOf(payload.pull_request).base);
  const sha = textOf(base.sha);
  return {
    branch: textOf(base.ref)?.replace(/^refs\/heads\//, ""),
    sha: sha && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined,
  };
}
