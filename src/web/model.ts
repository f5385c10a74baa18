// The API's shapes as the dashboard reads them (a subset: what the pages show).
export type Run = {
  id: number;
  repoId: number;
  number: number;
  workflowFile: string;
  workflowName: string;
  eventName: string;
  event: unknown;
  sha: string;
  ref: string;
  trigger: string;
  pullRequest: { number: number; title?: string; author?: string; url?: string } | null;
  status: string;
  conclusion: string | null;
  attempt: number;
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  fork: boolean;
};
export type Repo = { id: number; name: string; url: string; branch: string };
export type Step = {
  idx: number;
  name: string;
  conclusion: string | null;
  outcome: string | null;
  startedAt: number | null;
  finishedAt: number | null;
};
export type Annotation = {
  level?: string;
  message?: string;
  title?: string;
  file?: string;
  line?: number;
  jobRowId?: number;
  stepNumber?: number;
  stepName?: string;
};
export type Job = {
  id: number;
  jobKey: string;
  jobId: string;
  name: string;
  matrix: Record<string, unknown> | null;
  status: string;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
  reusedFrom: number | null;
  needs?: string[];
  steps: Step[];
  annotations?: Annotation[];
  summary?: string | null;
};
export type RunDetail = {
  run: Run;
  attempts: { attempt: number; jobs: Job[] }[];
  approvals: unknown[];
  annotations?: Annotation[];
  summaries?: { jobRowId?: number; jobKey?: string; markdown?: string; content?: string }[];
};

type Payload = { head_commit?: { message?: unknown }; sender?: { login?: unknown } };

/** The event's payload: stored either as it came or as `{name, payload}`. */
function payloadOf(run: Run): Payload {
  const ev = run.event as (Payload & { payload?: Payload }) | null;
  if (!ev || typeof ev !== "object") return {};
  return ev.payload && typeof ev.payload === "object" ? ev.payload : ev;
}

export function branchOf(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, "");
}

/** The first line of the commit message or the pull request's title (shown as text). */
export function titleOf(run: Run): string {
  if (run.pullRequest?.title) return run.pullRequest.title;
  const msg = payloadOf(run).head_commit?.message;
  return typeof msg === "string" ? msg.split("\n")[0] : `${run.eventName} ${run.sha.slice(0, 7)}`;
}

export function actorOf(run: Run): string {
  const login = payloadOf(run).sender?.login;
  if (typeof login === "string") return login;
  return run.pullRequest?.author ?? run.trigger;
}
