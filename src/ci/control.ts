// What users do to runs: cancel one, re-run some of its jobs (what is not re-run is carried over from
// the last attempt), and approve or reject a fork's run held for approval or the jobs of a run that
// wait at an environment's gate (audited).
import { join } from "node:path";
import { coerceToString, type Json } from "../expressions/index.js";
import { NotFoundError, OperationError, UserError } from "../lib/errors.js";
import type { Job, Repo, Run } from "../store/index.js";
import { loadWorkflowFile } from "../workflow/index.js";
import type { CiContext } from "./context.js";
import type { Reviewer } from "./environment-rules.js";
import type { Legs } from "./legs.js";
import { checkoutWorkflows } from "./mirror.js";
import type { RunNotifications } from "./notifications.js";
import { boundedWait, cancelWaitMs, type Orchestrator } from "./orchestration.js";

/** `all`: every job again (the dashboard's "Re-run all"); `job`: one job and its dependents; `failed`: the failed ones. */
export type RerunRequest = { job?: string; matrix?: Record<string, string>; failed?: boolean; all?: boolean };

export class RunControl {
  private readonly ctx: CiContext;
  private readonly runs: Orchestrator;
  private readonly legs: Legs;
  private readonly notifications: RunNotifications;

  constructor(ctx: CiContext, runs: Orchestrator, legs: Legs, notifications: RunNotifications) {
    this.ctx = ctx;
    this.runs = runs;
    this.legs = legs;
    this.notifications = notifications;
  }

  async cancel(runId: number): Promise<Run> {
    const run = await this.ctx.store.runs.get(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    if (run.status === "completed") return run;
    const active = this.runs.activeRun(runId);
    // Jobs waiting at an environment's gate stop waiting, and nothing resumes the gate after a restart.
    await this.legs.gates.cancelGates(runId);
    const cancelled = await this.ctx.store.jobs.cancelRun(runId, {
      reason: "cancelled by a user",
      attempt: run.attempt,
    });
    for (const j of cancelled) {
      // The server's own runner stops the leg at once; remote runners learn it at their next heartbeat.
      this.ctx.emit({ type: "job", runId, jobRowId: j.id, jobKey: j.jobKey, status: "cancelled" });
      this.legs.jobFinished(j.id);
    }
    if (active) {
      active.controller.abort(new Error("cancelled by a user"));
      // Bounded: an always() job waiting for a runner that never comes must not hold the request (the
      // run still ends when its orchestration does).
      await boundedWait(active.done, cancelWaitMs);
    } else {
      await this.runs.finishRun(run, "cancelled", "cancelled by a user");
    }
    return (await this.ctx.store.runs.get(runId))!;
  }

  /**
   * Starts a run held for approval (a fork's pull request under `require-approval`). Approval lets the
   * fork's workflow run, never with secrets (as on GitHub). The pull request's author cannot approve
   * it under their own name; the approval is recorded in the audit log.
   */
  async approve(runId: number, who: Reviewer, env?: string): Promise<Run> {
    const gated = await this.decideEnvironment(runId, who, "approve", { env });
    if (gated) return gated;
    const actor = who.name;
    const { run, repo } = await this.waitingRun(runId, actor, "approve");
    const started = await this.ctx.store.transaction(async (tx) => {
      if (!(await tx.runs.update(run.id, { status: "queued", reason: null }, { ifStatus: ["waiting"] })))
        return false;
      await tx.audit.append({
        actor,
        action: "run.approve",
        subject: `run ${run.id}`,
        repo: repo.name,
        detail: { pullRequest: run.pullRequest?.number ?? null, author: run.pullRequest?.author ?? null },
      });
      return true;
    });
    if (!started) throw new UserError(`run ${runId} is no longer waiting for approval`);
    this.ctx.log(`run ${run.id}: approved by ${actor}; it runs without secrets`);
    this.ctx.emit({ type: "run", runId: run.id, status: "queued", conclusion: null });
    this.runs.launch(run.id);
    return (await this.ctx.store.runs.get(run.id))!;
  }

  /** Ends a run held for approval without running it: `cancelled`, with who rejected it and why. */
  async reject(runId: number, who: Reviewer, why?: string, env?: string): Promise<Run> {
    const gated = await this.decideEnvironment(runId, who, "reject", { env, reason: why });
    if (gated) return gated;
    const actor = who.name;
    const { run, repo } = await this.waitingRun(runId, actor, "reject");
    const reason = `rejected by ${actor}${why ? `: ${why}` : ""}`;
    const ended = await this.ctx.store.transaction(async (tx) => {
      const ok = await tx.runs.update(
        run.id,
        { status: "completed", conclusion: "cancelled", finishedAt: Date.now(), reason },
        { ifStatus: ["waiting"] },
      );
      if (!ok) return false;
      await tx.audit.append({
        actor,
        action: "run.reject",
        subject: `run ${run.id}`,
        repo: repo.name,
        detail: { pullRequest: run.pullRequest?.number ?? null, reason: why ?? null },
      });
      return true;
    });
    if (!ended) throw new UserError(`run ${runId} is no longer waiting for approval`);
    this.ctx.emit({ type: "run", runId: run.id, status: "completed", conclusion: "cancelled" });
    this.notifications.notifyFinished(run.id);
    return (await this.ctx.store.runs.get(run.id))!;
  }

  /**
   * Approves or rejects the environment gates a run's jobs wait at (environments.ts): undefined when
   * none is pending and no environment was named, so that a fork's held run is decided as before.
   */
  private async decideEnvironment(
    runId: number,
    who: Reviewer,
    verb: "approve" | "reject",
    opts: { env?: string; reason?: string },
  ): Promise<Run | undefined> {
    const run = await this.ctx.store.runs.get(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    if (opts.env === undefined && (await this.legs.gates.pendingGates(run)).length === 0) return undefined;
    if (run.status === "completed")
      throw new UserError(
        `run ${runId} is not waiting for approval (it is ${run.conclusion ?? "completed"})`,
      );
    const repo = await this.ctx.store.repos.get(run.repoId);
    if (!repo) throw new NotFoundError(`no repository for run ${runId}`);
    await this.legs.gates.decide(run, repo, who, verb, opts);
    return (await this.ctx.store.runs.get(run.id))!;
  }

  private async waitingRun(runId: number, actor: string, verb: string): Promise<{ run: Run; repo: Repo }> {
    const run = await this.ctx.store.runs.get(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    if (run.status !== "waiting")
      throw new UserError(
        `run ${runId} is not waiting for approval (it is ${run.status === "completed" ? (run.conclusion ?? "completed") : run.status})`,
      );
    const author = run.pullRequest?.author;
    // An author may withdraw their own run, never let it in.
    if (verb === "approve" && author && author.toLowerCase() === actor.toLowerCase())
      throw new UserError(
        `${actor} opened pull request #${run.pullRequest?.number} and cannot ${verb} its run`,
      );
    const repo = await this.ctx.store.repos.get(run.repoId);
    if (!repo) throw new NotFoundError(`no repository for run ${runId}`);
    return { run, repo };
  }

  async rerun(runId: number, req: RerunRequest): Promise<Run> {
    const run = await this.ctx.store.runs.get(runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    if (run.status !== "completed")
      throw new UserError(`run ${runId} is still ${run.status}; cancel it or wait for it to finish`);
    if (!req.job && !req.failed && !req.all)
      throw new UserError("say which jobs to re-run: --job ID or --failed");
    const previous = await this.ctx.store.jobs.list(run.id, run.attempt);
    const repo = (await this.ctx.store.repos.get(run.repoId))!;
    const root = await checkoutWorkflows(
      this.ctx.mirrorOf(repo),
      run.sha,
      join(this.ctx.dataDir, "workflows"),
    );
    const workflow = await loadWorkflowFile(join(root, run.workflowFile), root);
    const top = (id: string) => id.split("/")[0];
    let targets: Set<string>;
    if (req.job) {
      if (!workflow.jobs.some((j) => j.id === req.job)) {
        throw new NotFoundError(
          `no job '${req.job}' in ${run.workflowFile} (jobs: ${workflow.jobs.map((j) => j.id).join(", ")})`,
        );
      }
      targets = new Set([req.job]);
    } else if (req.all) {
      targets = new Set(workflow.jobs.map((j) => j.id));
    } else {
      targets = new Set(
        previous.filter((j) => j.status === "failure" || j.status === "cancelled").map((j) => top(j.jobId)),
      );
      if (targets.size === 0) throw new UserError(`run ${runId} has no failed jobs`);
    }
    // Re-running a job re-runs everything that depends on it.
    const rerunSet = new Set(targets);
    let grew = true;
    while (grew) {
      grew = false;
      for (const j of workflow.jobs) {
        if (!rerunSet.has(j.id) && j.needs.some((n) => rerunSet.has(n))) {
          rerunSet.add(j.id);
          grew = true;
        }
      }
    }
    const matrixFilter = req.matrix;
    const reruns = (job: Job) => {
      const id = top(job.jobId);
      if (!rerunSet.has(id)) return false;
      if (matrixFilter && req.job && id === req.job) {
        const m = (job.matrix ?? {}) as Record<string, Json>;
        return Object.entries(matrixFilter).every(([k, v]) => coerceToString(m[k] ?? null) === v);
      }
      return true;
    };
    if (matrixFilter && req.job && !previous.some((j) => top(j.jobId) === req.job && reruns(j))) {
      throw new UserError(`no leg of job '${req.job}' matches ${JSON.stringify(matrixFilter)}`);
    }
    const attempt = await this.ctx.store.runs.startAttempt(run.id);
    if (attempt === null) throw new OperationError(`cannot start a new attempt of run ${runId}`);
    // What is not re-run is carried over now, so the new attempt (and a restart in the middle of it)
    // finds those results recorded and never runs them again.
    const reused = previous.filter((j) => !reruns(j));
    await this.ctx.store.jobs.insertMany(
      run.id,
      attempt,
      reused.map((j) => ({
        jobKey: j.jobKey,
        jobId: j.jobId,
        name: j.name,
        matrix: j.matrix,
        labels: j.labels,
        status: j.status,
        outputs: j.outputs,
        reason: j.reason,
        reusedFrom: j.reusedFrom ?? j.id,
      })),
    );
    await this.ctx.store.runs.update(run.id, {
      status: "queued",
      conclusion: null,
      finishedAt: null,
      reason: null,
    });
    this.ctx.emit({ type: "run", runId: run.id, status: "queued", conclusion: null });
    this.runs.launch(run.id);
    return (await this.ctx.store.runs.get(run.id))!;
  }
}
