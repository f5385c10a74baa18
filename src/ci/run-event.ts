// What a finished server run looks like to notifications: a RunEvent built from the stored run, its jobs
// and the payload of the event that triggered it. Pure (no I/O) except `previousConclusion`, which reads
// the store. Payload fields are untrusted text: they are copied, never interpreted; renderers escape them.
import type { Conclusion, JobSummary, PullRequestInfo, RunEvent } from "../notify/index.js";
import type { Job, Run, StoreApi } from "../store/index.js";

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The triggering event's payload, as the run stored it (`{ payload, changedFiles }` or the bare payload). */
export function payloadOf(run: Pick<Run, "event">): Obj {
  const stored = obj(run.event);
  return "payload" in stored ? obj(stored.payload) : stored;
}

const isPullRequestEvent = (name: string) => name === "pull_request" || name === "pull_request_target";

/** The branch a run is about: a pull request's head branch, a pushed branch; undefined for a tag. */
export function branchOf(run: Pick<Run, "eventName" | "ref" | "event">): string | undefined {
  if (isPullRequestEvent(run.eventName)) {
    const head = str(obj(obj(payloadOf(run).pull_request).head).ref);
    if (head) return head;
  }
  return run.ref.startsWith("refs/heads/") ? run.ref.slice("refs/heads/".length) : undefined;
}

// GitHub's merge commit ("Merge pull request #12 from owner/branch" + a blank line + the title) and its
// squash commit ("Title (#12)").
const mergeCommit = /^Merge pull request #(\d+) from \S+/;
const squashCommit = /^(.+) \(#(\d+)\)$/;

/**
 * The pull request behind a run: from a pull_request payload, or — for a push of a merge — from the
 * merge or squash commit's message, with the pusher as the merger.
 */
export function pullRequestOfRun(
  run: Pick<Run, "eventName" | "event" | "pullRequest">,
): PullRequestInfo | undefined {
  const payload = payloadOf(run);
  if (isPullRequestEvent(run.eventName)) {
    const pr = obj(payload.pull_request);
    const number = Number(pr.number ?? payload.number ?? run.pullRequest?.number);
    if (!Number.isInteger(number) || number <= 0) return undefined;
    return {
      number,
      title: str(pr.title) ?? run.pullRequest?.title ?? "",
      url: str(pr.html_url) ?? str(run.pullRequest?.url),
      author: str(obj(pr.user).login) ?? str(run.pullRequest?.author),
      merger: pr.merged === true ? str(obj(pr.merged_by).login) : undefined,
    };
  }
  if (run.eventName !== "push") return undefined;
  const head = obj(payload.head_commit);
  const message = str(head.message);
  if (!message) return undefined;
  const [first = "", ...rest] = message.split("\n");
  const merger = str(obj(payload.sender).login) ?? str(obj(payload.pusher).name);
  const repoUrl = str(obj(payload.repository).html_url);
  const url = (n: number) => (repoUrl ? `${repoUrl.replace(/\/+$/, "")}/pull/${n}` : undefined);
  const merge = mergeCommit.exec(first.trim());
  if (merge) {
    const number = Number(merge[1]);
    // The merge commit's author is whoever merged; the pull request's author is not in the payload.
    const title = rest.map((l) => l.trim()).find((l) => l !== "") ?? "";
    return { number, title, url: url(number), merger };
  }
  const squash = squashCommit.exec(first.trim());
  if (squash) {
    const number = Number(squash[2]);
    const author = obj(head.author);
    return {
      number,
      title: squash[1],
      url: url(number),
      // A squash commit is authored by the pull request's author.
      author: str(author.username) ?? str(author.name),
      merger,
    };
  }
  return undefined;
}

/** `build (18, linux)` → `build` when the suffix is exactly what the runner added for the leg's matrix. */
function baseName(name: string, matrix: Record<string, unknown> | null): string {
  if (!matrix || Object.keys(matrix).length === 0) return name;
  const parts = Object.values(matrix).map((v) =>
    v !== null && typeof v === "object" ? JSON.stringify(v) : String(v),
  );
  const suffix = ` (${parts.join(", ")})`;
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : name;
}

const finished = new Set<string>(["success", "failure", "cancelled", "skipped"]);

/** Every job leg with its status and duration; legs of one matrix job share a name (Slack groups them). */
export function jobSummaries(jobs: readonly Job[]): JobSummary[] {
  return jobs.map((j) => ({
    name: baseName(j.name, j.matrix),
    matrix: j.matrix && Object.keys(j.matrix).length > 0 ? j.matrix : null,
    // A leg not finished when its run is was never going to be: it counts as cancelled.
    status: (finished.has(j.status) ? j.status : "cancelled") as Conclusion,
    ...(j.startedAt !== null && j.finishedAt !== null
      ? { durationMs: Math.max(0, j.finishedAt - j.startedAt) }
      : {}),
  }));
}

/** A job output named `version` (a release job's), else the tag a tag push is about. */
export function versionOf(run: Pick<Run, "ref">, jobs: readonly Job[]): string | undefined {
  for (const j of jobs) {
    const v = str(j.outputs?.version);
    if (v) return v;
  }
  return run.ref.startsWith("refs/tags/") ? run.ref.slice("refs/tags/".length) : undefined;
}

export type RunEventInput = {
  run: Run;
  /** The repository's name on the server (what rules and secret scopes name). */
  repository: string;
  /** The jobs of the run's current attempt. */
  jobs: readonly Job[];
  /** The commit, from the mirror, when it could be read. */
  commit?: { message: string; author: string };
  previousConclusion: Conclusion | null;
  runUrl?: string;
};

/** The event of a finished run. */
export function runEventOf(input: RunEventInput): RunEvent {
  const { run } = input;
  const payload = payloadOf(run);
  const pullRequest = pullRequestOfRun(run);
  const headCommit = obj(payload.head_commit);
  const headAuthor = obj(headCommit.author);
  const author =
    (isPullRequestEvent(run.eventName) ? pullRequest?.author : undefined) ??
    str(headAuthor.username) ??
    str(headAuthor.name) ??
    str(input.commit?.author) ??
    str(obj(payload.sender).login);
  const event: RunEvent = {
    kind: "run",
    id: `run-${run.id}-${run.attempt}`,
    repository: input.repository,
    workflow: run.workflowName,
    runNumber: run.number,
    runAttempt: run.attempt,
    trigger: run.eventName,
    sha: run.sha,
    jobs: jobSummaries(input.jobs),
    conclusion: (run.conclusion ?? "failure") as Conclusion,
    previousConclusion: input.previousConclusion,
  };
  const optional: Partial<RunEvent> = {
    runUrl: input.runUrl,
    branch: branchOf(run),
    commitMessage: str(input.commit?.message) ?? str(headCommit.message),
    author,
    version: versionOf(run, input.jobs),
    pullRequest,
    startedAt: run.startedAt ?? run.createdAt,
    finishedAt: run.finishedAt ?? undefined,
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) (event as Record<string, unknown>)[k] = v;
  return event;
}

/** How a run attempt ended, from its jobs (a re-run's previous attempt keeps no conclusion of its own). */
function attemptConclusion(jobs: readonly Job[]): Conclusion | null {
  if (jobs.length === 0) return null;
  if (jobs.some((j) => j.status === "failure")) return "failure";
  if (jobs.some((j) => j.status === "cancelled")) return "cancelled";
  if (jobs.every((j) => j.status === "skipped")) return "skipped";
  return "success";
}

/** Runs looked at for the previous one: notifications must not scan a long history. */
const maxLookback = 1000;

/**
 * The conclusion of the run before this one: for a re-run, the previous attempt of the same run; else
 * the latest other finished run of the same workflow file on the same branch (the same ref when there is
 * no branch) of the same repository. Null when there is none.
 */
export async function previousConclusion(
  store: Pick<StoreApi, "runs" | "jobs">,
  run: Run,
): Promise<Conclusion | null> {
  if (run.attempt > 1) {
    const earlier = attemptConclusion(await store.jobs.list(run.id, run.attempt - 1));
    if (earlier) return earlier;
  }
  const branch = branchOf(run);
  const same = (r: Run) =>
    r.id !== run.id &&
    r.workflowFile === run.workflowFile &&
    (branch !== undefined ? branchOf(r) === branch : r.ref === run.ref);
  let before = run.id;
  for (let seen = 0; seen < maxLookback; ) {
    const page = await store.runs.list({ repoId: run.repoId, status: "completed", before, limit: 100 });
    const hit = page.find(same);
    if (hit) return (hit.conclusion ?? "failure") as Conclusion;
    if (page.length < 100) return null;
    seen += page.length;
    before = page[page.length - 1].id;
  }
  return null;
}
