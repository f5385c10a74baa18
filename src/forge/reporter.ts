// From CI and deploy events to queued forge reports. Each report is one row of the notifier's durable
// queue (channel `@forge`, scoped to the repository, so a repository's reports reach its forge in the
// order they happened and a dead forge delays only its own), delivered by `deliverForgeReport`. Nothing
// here waits for a forge or throws into the caller: the run or deploy never notices a report.
import { randomUUID } from "node:crypto";
import { describeError } from "../lib/errors.js";
import { formatDuration } from "../lib/format.js";
import type { Notifier } from "../notify/index.js";
import type { Release, Repo, Store } from "../store/index.js";
import { type ForgePayload, forgeChannel } from "./deliver.js";
import { impactComment } from "./comment.js";
import type { CommitState, DeploymentState } from "./requests.js";
import { type ForgeTarget, resolveTarget } from "./target.js";

/** The CI events the reporter reacts to (structurally the ci domain's; other types are ignored). */
export type ForgeCiEvent =
  | { type: "run"; runId: number; status: string; conclusion: string | null }
  | { type: "job"; runId: number; jobRowId: number; status: string }
  | { type: string };

export type ForgeReporterOptions = {
  store: Store;
  notifier: Notifier;
  /** The dashboard's base URL (no trailing slash), for links; undefined: reports carry no link. */
  publicUrl: () => string | undefined;
  log?: (line: string) => void;
};

export type DeployReportInput = {
  repo: string;
  sha: string;
  app: string;
  env: string;
  /** Who and what, for the deployment's description. */
  actor: string;
};

/** A release made by a run's deploy step (structurally the ci domain's WorkflowDeploy). */
export type WorkflowDeployReport = DeployReportInput & { jobRowId: number; release: number };

/** What the route hands back when the deploy ends: the release (when one was made) or the error. */
export type DeployOutcome = { release?: Release; error?: string };

const shaPattern = /^[0-9a-f]{40}$/;
/** States remembered per (run, context), so a repeated event is not reported twice. */
const maxRemembered = 10_000;

function runState(status: string, conclusion: string | null): CommitState {
  if (status === "running") return "running";
  if (status !== "completed" && !["success", "failure", "cancelled", "skipped"].includes(status))
    return "pending";
  const c = status === "completed" ? conclusion : status;
  if (c === "success" || c === "skipped") return "success";
  if (c === "failure") return "failure";
  return "error";
}

function describeState(status: string, conclusion: string | null, ms: number | null): string {
  const word = status === "completed" ? (conclusion ?? "ended") : status;
  return ms !== null && ms >= 0 ? `${word} in ${formatDuration(ms, "tenths")}` : word;
}

export class ForgeReporter {
  readonly #o: ForgeReporterOptions;
  readonly #log: (line: string) => void;
  /** One chain: events are turned into rows in the order they came. */
  #chain: Promise<void> = Promise.resolve();
  readonly #last = new Map<string, CommitState>();
  readonly #warned = new Set<string>();

  constructor(o: ForgeReporterOptions) {
    this.#o = o;
    this.#log = o.log ?? (() => {});
  }

  /** Reacts to a CI event; returns at once. */
  onCiEvent(e: ForgeCiEvent): void {
    if (e.type !== "run" && e.type !== "job") return;
    this.#enqueueWork(() =>
      e.type === "run"
        ? this.#reportRun(e as Extract<ForgeCiEvent, { type: "run" }>)
        : this.#reportJob(e as Extract<ForgeCiEvent, { type: "job" }>),
    );
  }

  /**
   * A deploy through the server started: reports it (GitHub: a deployment, in progress; Gitea and
   * GitLab: a commit status) and returns what to call when it ends. Never throws.
   */
  deployStarted(input: DeployReportInput): (outcome: DeployOutcome) => void {
    const key = `${input.app}/${input.env}/${randomUUID()}`;
    this.#enqueueWork(() => this.#reportDeploy(input, key, "in_progress", undefined));
    return (outcome) =>
      this.#enqueueWork(() => this.#reportDeploy(input, key, deployState(outcome), outcome));
  }

  /**
   * A run's `slipway/deploy` step made a release (ci/workflow-deploys.ts): reports it as deployStarted
   * does, started and ended at once, since the server learns of it from the job's report. Only a release
   * a workflow made, since the job started, counts: a step's outputs cannot point at another deploy.
   */
  onWorkflowDeploy(d: WorkflowDeployReport): void {
    this.#enqueueWork(async () => {
      const release = await this.#o.store.releases.byNumber(d.app, d.env, d.release);
      const job = await this.#o.store.jobs.get(d.jobRowId);
      // A minute's slack: a remote runner's agent writes the release with its own host's clock.
      if (release?.trigger !== "workflow" || !job?.startedAt || release.createdAt < job.startedAt - 60_000)
        return;
      const input = { repo: d.repo, sha: d.sha, app: d.app, env: d.env, actor: d.actor };
      const key = `${d.app}/${d.env}/${randomUUID()}`;
      await this.#reportDeploy(input, key, "in_progress", undefined);
      const outcome = { release };
      await this.#reportDeploy(input, key, deployState(outcome), outcome);
    });
  }

  /** Waits for the events being turned into rows (not for their delivery: that is the notifier's). */
  async drain(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.#chain) {
      seen = this.#chain;
      await seen;
    }
  }

  #enqueueWork(work: () => Promise<void>): void {
    this.#chain = this.#chain
      .then(work)
      .catch((err) => this.#log(`forge: cannot queue a report: ${describeError(err)}`));
  }

  /** The repository's target when it has a token and a usable forge; otherwise nothing is reported. */
  async #targetOf(repo: Repo): Promise<ForgeTarget | undefined> {
    const settings = await this.#o.store.forge.get(repo.id);
    if (!settings?.hasToken) return undefined;
    const t = resolveTarget(repo.url, settings);
    if ("reason" in t) {
      if (!this.#warned.has(repo.name))
        this.#log(`forge: ${repo.name} has a token but no forge: ${t.reason}`);
      this.#warned.add(repo.name);
      return undefined;
    }
    return t;
  }

  async #reportRun(e: Extract<ForgeCiEvent, { type: "run" }>): Promise<void> {
    const run = await this.#o.store.runs.get(e.runId);
    if (!run || !shaPattern.test(run.sha)) return;
    const repo = await this.#o.store.repos.get(run.repoId);
    const target = repo && (await this.#targetOf(repo));
    if (!repo || !target) return;
    const ms = run.finishedAt !== null && run.startedAt !== null ? run.finishedAt - run.startedAt : null;
    // A run refused up front (an invalid workflow) is announced completed without a conclusion.
    const conclusion = e.conclusion ?? (e.status === "completed" ? run.conclusion : null);
    await this.#status(repo, target, {
      runId: run.id,
      sha: run.sha,
      branch: run.ref.startsWith("refs/heads/") ? run.ref.slice("refs/heads/".length) : undefined,
      context: `slipway/${run.workflowName}`,
      state: runState(e.status, conclusion),
      description: `${run.workflowName} #${run.number}: ${describeState(e.status, conclusion, e.status === "completed" ? ms : null)}`,
      path: `/runs/${run.id}`,
    });
  }

  async #reportJob(e: Extract<ForgeCiEvent, { type: "job" }>): Promise<void> {
    const job = await this.#o.store.jobs.get(e.jobRowId);
    const run = job && (await this.#o.store.runs.get(job.runId));
    if (!job || !run || !shaPattern.test(run.sha)) return;
    const repo = await this.#o.store.repos.get(run.repoId);
    const target = repo && (await this.#targetOf(repo));
    if (!repo || !target) return;
    const finished = ["success", "failure", "cancelled", "skipped"].includes(e.status);
    const ms =
      finished && job.startedAt !== null && job.finishedAt !== null ? job.finishedAt - job.startedAt : null;
    await this.#status(repo, target, {
      runId: run.id,
      sha: run.sha,
      branch: run.ref.startsWith("refs/heads/") ? run.ref.slice("refs/heads/".length) : undefined,
      context: `slipway/${run.workflowName}/${job.name}`,
      state: runState(e.status, null),
      description: `${job.name}: ${describeState(e.status, null, ms)}`,
      path: `/runs/${run.id}/jobs/${job.id}`,
    });
  }

  async #status(
    repo: Repo,
    target: ForgeTarget,
    s: {
      runId: number;
      sha: string;
      branch?: string;
      context: string;
      state: CommitState;
      description: string;
      path: string;
    },
  ): Promise<void> {
    // GitHub and Gitea know no "running": a job going from queued to running says nothing new there.
    const shown = target.provider === "gitlab" || s.state !== "running" ? s.state : "pending";
    const key = `${s.runId}\u0000${s.context}`;
    if (this.#last.get(key) === shown) return;
    this.#last.delete(key);
    this.#last.set(key, shown);
    while (this.#last.size > maxRemembered) this.#last.delete(this.#last.keys().next().value!);
    const base = this.#o.publicUrl();
    await this.#enqueue(repo, target, "forge.status", {
      op: "status",
      status: {
        sha: s.sha,
        state: shown,
        context: s.context,
        description: s.description,
        ...(base && { targetUrl: `${base}${s.path}` }),
        ...(s.branch && { branch: s.branch }),
      },
    });
  }

  async #reportDeploy(
    input: DeployReportInput,
    key: string,
    state: DeploymentState,
    outcome: DeployOutcome | undefined,
  ): Promise<void> {
    const repo = await this.#o.store.repos.getByName(input.repo);
    const target = repo && (await this.#targetOf(repo));
    if (!repo || !target || !shaPattern.test(input.sha)) return;
    const base = this.#o.publicUrl();
    const page = base
      ? `${base}/apps/${encodeURIComponent(input.app)}/${encodeURIComponent(input.env)}`
      : undefined;
    const release = outcome?.release;
    const what = release
      ? `release #${release.number}${release.version ? ` (${release.version})` : ""}`
      : "deploy";
    const description =
      state === "in_progress"
        ? `${input.app} deploying to ${input.env} (by ${input.actor})`
        : `${input.app} ${what} to ${input.env}: ${release?.status.replace("_", " ") ?? "failed"}`;
    if (target.provider === "github") {
      await this.#enqueue(repo, target, "forge.deployment", {
        op: "deployment",
        key,
        deployment: {
          ref: input.sha,
          environment: input.env,
          description,
          state,
          production: input.env === "production",
          ...(page && { environmentUrl: page, logUrl: page }),
        },
      });
    } else {
      // Gitea and GitLab have no deployments API of this shape: the deploy is a commit status.
      await this.#enqueue(repo, target, "forge.status", {
        op: "status",
        status: {
          sha: input.sha,
          state: state === "in_progress" ? "running" : state === "success" ? "success" : "failure",
          context: `slipway/deploy/${input.app}/${input.env}`,
          description,
          ...(page && { targetUrl: page }),
        },
      });
    }
    // The pull (GitLab: merge) request comment, on every forge, when the repository asked for it.
    const settings = await this.#o.store.forge.get(repo.id);
    if (release && state === "success" && settings?.prComment)
      await this.#enqueue(repo, target, "forge.comment", {
        op: "comment",
        sha: input.sha,
        body: impactComment(input.app, input.env, release, page),
      });
  }

  async #enqueue(repo: Repo, target: ForgeTarget, eventType: string, payload: ForgePayload): Promise<void> {
    await this.#o.notifier.enqueueRendered({
      channel: forgeChannel,
      scope: repo.name,
      // The target holds no secret: the token is read from the store at each attempt.
      target: { forge: target },
      eventType,
      eventId: randomUUID(),
      payload: JSON.stringify(payload),
    });
  }
}

function deployState(o: DeployOutcome): DeploymentState {
  if (o.error !== undefined && !o.release) return "error";
  const s = o.release?.status;
  return s === "succeeded" ? "success" : s === "running" || s === "paused" ? "in_progress" : "failure";
}
