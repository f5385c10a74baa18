// The events notifications are about. The runner and the deployer describe what happened in these terms;
// everything else (rules, Slack messages, webhook payloads) is derived from them. Text fields may come
// from untrusted sources (PR titles, branch names, commit messages): renderers escape them.
import type { NotifyEventType } from "../config/index.js";

export type Conclusion = "success" | "failure" | "cancelled" | "skipped";

export type JobSummary = {
  /** The job's name without matrix values; legs of one matrix job share it (and are grouped). */
  name: string;
  matrix?: Record<string, unknown> | null;
  status: Conclusion;
  durationMs?: number;
};

export type PullRequestInfo = {
  number: number;
  title: string;
  url?: string;
  author?: string;
  /** Who merged it (for runs on the merge commit). */
  merger?: string;
};

export type RunEvent = {
  kind: "run";
  /** Unique per event, the same for every channel and every retry; generated when missing. */
  id?: string;
  repository: string;
  workflow: string;
  runNumber?: number;
  runAttempt?: number;
  runUrl?: string;
  /** The triggering GitHub event (push, pull_request, …). */
  trigger?: string;
  branch?: string;
  sha: string;
  commitMessage?: string;
  /** The commit's author (or the pusher). */
  author?: string;
  version?: string;
  pullRequest?: PullRequestInfo;
  jobs: JobSummary[];
  conclusion: Conclusion;
  /**
   * The conclusion of the previous finished run of this workflow on this branch (null: there was none).
   * A success after a failed or cancelled one is `run.fixed`.
   */
  previousConclusion?: Conclusion | null;
  startedAt?: number;
  finishedAt?: number;
  /** Set on `slipway notify test` messages. */
  test?: boolean;
};

export const deployEventTypes = [
  "deploy.started",
  "deploy.succeeded",
  "deploy.failed",
  "deploy.rolled_back",
] as const;
export type DeployEventType = (typeof deployEventTypes)[number];

export type DeployEvent = {
  kind: "deploy";
  type: DeployEventType;
  id?: string;
  repository: string;
  environment: string;
  strategy: string;
  service?: string;
  /** The version being deployed (for rolled_back: the version rolled back to). */
  version: string;
  previousVersion?: string;
  branch?: string;
  sha?: string;
  workflow?: string;
  runUrl?: string;
  /** A page about this deploy. */
  url?: string;
  actor?: string;
  /** Why it failed or was rolled back. */
  reason?: string;
  startedAt?: number;
  finishedAt?: number;
};

export type NotifyEvent = RunEvent | DeployEvent;

/**
 * The event types an event counts as, broadest first: every finished run is `run.completed`; a failed
 * one is also `run.failed`; a success after a run that did not succeed (failed or cancelled; a skipped
 * run proves nothing either way, and a first run has nothing to fix) is also `run.fixed`. A deploy
 * event is its type.
 */
export function eventTypesOf(event: NotifyEvent): NotifyEventType[] {
  if (event.kind === "deploy") return [event.type];
  const types: NotifyEventType[] = ["run.completed"];
  if (event.conclusion === "failure") types.push("run.failed");
  else if (
    event.conclusion === "success" &&
    (event.previousConclusion === "failure" || event.previousConclusion === "cancelled")
  )
    types.push("run.fixed");
  return types;
}

/** The most specific type: what a payload's `type` says. */
export function eventTypeOf(event: NotifyEvent): NotifyEventType {
  const types = eventTypesOf(event);
  return types[types.length - 1];
}

export function durationOf(e: { startedAt?: number; finishedAt?: number }): number | undefined {
  return e.startedAt !== undefined && e.finishedAt !== undefined
    ? Math.max(0, e.finishedAt - e.startedAt)
    : undefined;
}
