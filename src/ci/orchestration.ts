// Driving runs: each run's job graph goes through the runner domain's engine with its legs queued for
// runners (legs.ts); a run ends in a definite state and is handed to the notifications. At start the
// runs an earlier process left unfinished are driven again, and at stop the running ones are given a
// grace period.
import { setMaxListeners } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { hostChildEnv } from "../lib/child-env.js";
import { formatProblem, UserError } from "../lib/errors.js";
import {
  actionSource,
  ConcurrencyGroups,
  dispatchInputValues,
  driveRun,
  killGraceMs,
  Masker,
  type Reporter,
  type RunContext,
  Semaphore,
  type Status,
} from "../runner/index.js";
import { revealSecrets } from "../secrets/index.js";
import type { Run } from "../store/index.js";
import { loadWorkflowFile, type TriggerEvent, type WorkflowFile } from "../workflow/index.js";
import { type CiContext, ServerShutdown } from "./context.js";
import { runsForkCode } from "./forks.js";
import type { Legs } from "./legs.js";
import { checkoutWorkflows, commitInfo } from "./mirror.js";
import type { RunNotifications } from "./notifications.js";

type ActiveRun = { controller: AbortController; done: Promise<void> };

/** How long a cancel waits for the run's orchestration to end before answering. */
export const cancelWaitMs = 10_000;

/** Whether `p` settled within `ms` (it goes on either way). */
export async function boundedWait(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

export class Orchestrator {
  private readonly ctx: CiContext;
  private readonly legs: Legs;
  private readonly notifications: RunNotifications;
  private readonly active = new Map<number, ActiveRun>();
  /** `concurrency:` groups, per repository as on GitHub: shared by all runs of a repository. */
  private readonly groups = new Map<number, ConcurrencyGroups>();
  private stopping = false;

  constructor(ctx: CiContext, legs: Legs, notifications: RunNotifications) {
    this.ctx = ctx;
    this.legs = legs;
    this.notifications = notifications;
  }

  /** The run's orchestration in this process, if it is being driven here. */
  activeRun(runId: number): ActiveRun | undefined {
    return this.active.get(runId);
  }

  launch(runId: number): void {
    if (this.active.has(runId) || this.stopping) return;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const done = this.orchestrate(runId, controller)
      .catch((err) => this.ctx.log(`run ${runId}: ${(err as Error).stack ?? err}`))
      .finally(() => this.active.delete(runId));
    this.active.set(runId, { controller, done });
  }

  private async orchestrate(runId: number, controller: AbortController) {
    const run = await this.ctx.store.runs.get(runId);
    // A run waiting for approval starts only through `approve`; one whose jobs wait at an environment's
    // gate is driven again (after a restart) to go on waiting there.
    if (!run || run.status === "completed") return;
    if (run.status === "waiting" && (await this.legs.gates.pendingGates(run)).length === 0) return;
    const repo = await this.ctx.store.repos.get(run.repoId);
    if (!repo) return;
    const mirror = this.ctx.mirrorOf(repo);
    // Read while the run runs, so that its end does not wait for it.
    if (this.ctx.opts.notify) void this.notifications.repoNotifyForRun(repo, run);
    const root = await checkoutWorkflows(mirror, run.sha, join(this.ctx.dataDir, "workflows"));
    let workflow: WorkflowFile;
    try {
      workflow = await loadWorkflowFile(join(root, run.workflowFile), root);
    } catch (err) {
      await this.finishRun(
        run,
        "failure",
        err instanceof UserError ? err.problems.map(formatProblem).join("\n") || err.message : String(err),
      );
      return;
    }
    const stored = run.event as { payload?: Record<string, unknown>; changedFiles?: string[] | null };
    const payload = stored?.payload ?? (run.event as Record<string, unknown>) ?? {};
    const event: TriggerEvent = {
      name: run.eventName,
      payload,
      ref: run.ref,
      sha: run.sha,
      changedFiles: stored?.changedFiles ?? undefined,
    };
    const info = await commitInfo(mirror, run.sha).catch(() => undefined);
    const payloadRepo = payload.repository as Record<string, any> | undefined;
    const masker = new Masker();
    // A fork's code gets no secret at all, GITHUB_TOKEN included (slipway mints none; one stored as a
    // secret would carry its full permissions). Re-runs read `fork` from the run again.
    const secrets: Record<string, string> =
      this.ctx.opts.secrets && !runsForkCode(run)
        ? revealSecrets(await this.ctx.opts.secrets.resolve({ repo: repo.name }))
        : {};
    for (const v of Object.values(secrets)) masker.add(v);
    const pending = new Set<Promise<void>>();
    const recorder = this.placeholderRecorder(run, pending, controller.signal);
    const ctx: RunContext = {
      repoDir: mirror,
      workflowRoot: root,
      dataDir: this.ctx.dataDir,
      workDir: join(this.ctx.dataDir, "work", `${run.id}-${run.attempt}`),
      runId: String(run.id),
      runNumber: run.number,
      runAttempt: run.attempt,
      event,
      sha: run.sha,
      ref: run.ref,
      repository: String(payloadRepo?.full_name ?? this.ctx.repositoryInfo(repo).fullName),
      defaultBranch: repo.branch,
      actor: String((payload.sender as Record<string, any> | undefined)?.login ?? info?.author ?? "slipway"),
      secrets,
      vars: {},
      masker,
      reporter: recorder,
      signal: controller.signal,
      slots: new Semaphore(1_000_000),
      actionsDir: join(this.ctx.dataDir, "actions"),
      actionSource: actionSource(this.ctx.opts.actions),
      verbose: false,
      platforms: {},
      cleanJobDirs: false,
      hostEnv: hostChildEnv(),
      untrusted: runsForkCode(run),
    };
    await this.ctx.store.runs.update(run.id, { status: "running", startedAt: run.startedAt ?? Date.now() });
    this.ctx.emit({ type: "run", runId: run.id, status: "running", conclusion: null });
    const inputs =
      event.name === "workflow_dispatch"
        ? dispatchInputValues([workflow], (payload.inputs ?? {}) as Record<string, string>)
        : {};
    const result = await driveRun(
      ctx,
      [{ workflow, matched: true, reason: "", jobs: workflow.jobs.map((j) => j.id) }],
      {
        inputs,
        groups: this.groupsOf(repo.id),
        executeLeg: (inv) => this.legs.executeLeg(run, repo, inv),
      },
    );
    await Promise.all(pending);
    if (await this.leftWaiting(run.id, controller.signal)) {
      this.ctx.log(`run ${run.id}: left waiting for its environments; the next start goes on waiting`);
      return;
    }
    // A gate no leg waits at any more (its legs were cancelled by fail-fast or a concurrency group)
    // closes with the run, so nothing offers it for approval or resumes it after a restart.
    await this.legs.gates.cancelGates(run.id);
    const conclusion = controller.signal.aborted && result.status !== "failure" ? "cancelled" : result.status;
    await this.finishRun(run, conclusion);
  }

  private groupsOf(repoId: number): ConcurrencyGroups {
    let g = this.groups.get(repoId);
    if (!g) {
      g = new ConcurrencyGroups();
      this.groups.set(repoId, g);
    }
    return g;
  }

  async finishRun(run: Run, conclusion: Status, reason?: string): Promise<void> {
    // A `notify:` section that cannot be used is said on the run (its notifications are not sent), in
    // the same write that completes it; the run's own result never depends on it.
    const warning = await this.notifications.notifyWarning(run);
    // A reason recorded while it ran (an environment's rejection) stays, with the warning after it.
    const recorded = reason ?? (warning ? (await this.ctx.store.runs.get(run.id))?.reason : undefined);
    const why = [recorded, warning ? `warning: ${warning}` : undefined].filter(Boolean).join("\n");
    await this.ctx.store.runs.update(run.id, {
      status: "completed",
      conclusion,
      finishedAt: Date.now(),
      ...(why ? { reason: why } : {}),
    });
    this.ctx.emit({ type: "run", runId: run.id, status: "completed", conclusion });
    this.notifications.notifyFinished(run.id);
  }

  /** Whether the server is stopping while the run waits at an environment's gate (it stays so). */
  private async leftWaiting(runId: number, signal: AbortSignal): Promise<boolean> {
    return (
      signal.reason instanceof ServerShutdown && (await this.ctx.store.runs.get(runId))?.status === "waiting"
    );
  }

  private placeholderRecorder(run: Run, pending: Set<Promise<void>>, signal: AbortSignal): Reporter {
    return {
      jobStarted() {},
      stepStarted() {},
      log() {},
      annotation() {},
      stepFinished() {},
      jobFinished: (ref, result) => {
        const p = (async () => {
          // The jobs after one left at a gate by a stopping server are decided at the next start.
          if (await this.leftWaiting(run.id, signal)) return;
          const fresh = (await this.ctx.store.runs.get(run.id)) ?? run;
          const existing = (await this.ctx.store.jobs.list(run.id, fresh.attempt)).find(
            (j) => j.jobKey === ref.key,
          );
          if (existing) return;
          const [row] = await this.ctx.store.jobs.insertMany(run.id, fresh.attempt, [
            {
              jobKey: ref.key,
              jobId: ref.id,
              name: result.name,
              matrix: result.matrix,
              status: result.status,
              reason: result.message ?? null,
            },
          ]);
          this.ctx.emit({
            type: "job",
            runId: run.id,
            jobRowId: row.id,
            jobKey: row.jobKey,
            status: row.status,
          });
        })()
          .catch((err) =>
            this.ctx.log(`run ${run.id}: cannot record job ${ref.key}: ${(err as Error).message}`),
          )
          .finally(() => pending.delete(p));
        pending.add(p);
      },
    };
  }

  /** Waits until a run is no longer being driven by this process (tests, graceful shutdown). */
  async settled(runId: number): Promise<void> {
    await this.active.get(runId)?.done;
  }

  // --- lifecycle ---

  /** Crash recovery and the background loops; call once at start. */
  async start(): Promise<void> {
    mkdirSync(this.ctx.dataDir, { recursive: true });
    // First stop what an earlier server process left running (kill -9 spares a step's process group),
    // so that no step of a job declared failed below — or of the always() jobs after it — still runs.
    const reaped = await this.ctx.processLedger.reap(killGraceMs);
    if (reaped.groups.length > 0)
      this.ctx.log(`stopped ${reaped.groups.length} step process group(s) left by an earlier server process`);
    if (reaped.dirs.length > 0) this.ctx.log(`removed ${reaped.dirs.length} leftover leg directories`);
    const failed = await this.ctx.store.jobs.recoverAfterCrash({
      localRunnerIds: await this.localRunnerIds(),
    });
    // The step that was cut off ends too: no step of a finished job stays "running".
    await this.ctx.store.steps.finishUnfinished(
      failed.map((j) => j.id),
      "failure",
    );
    for (const j of failed)
      this.ctx.log(`job ${j.jobKey} of run ${j.runId} failed: the server restarted while it ran`);
    const unfinished = [
      ...(await this.ctx.store.runs.list({ status: "queued" })),
      ...(await this.ctx.store.runs.list({ status: "running" })),
    ];
    // Runs whose jobs wait at an environment's gate: the wait is in the store and goes on.
    for (const id of await this.ctx.store.environments.pendingRunIds()) {
      const run = await this.ctx.store.runs.get(id);
      if (run?.status === "waiting") unfinished.push(run);
    }
    // Their graphs are driven again: recorded legs are not run twice, legs still running on remote
    // runners are waited for, and the rest go on.
    for (const run of unfinished) this.launch(run.id);
  }

  private async localRunnerIds(): Promise<string[]> {
    // Every embedded runner of an earlier server process had an id starting with "local-".
    const rows = await this.ctx.store.db
      .selectFrom("jobs")
      .select("runner_id")
      .distinct()
      .where("status", "=", "running")
      .where("runner_id", "like", "local-%")
      .execute();
    return rows.map((r) => r.runner_id!).filter(Boolean);
  }

  /** Fails jobs whose runner stopped heartbeating; runs on a timer in the server. */
  async reapLeases(): Promise<void> {
    const expired = await this.ctx.store.jobs.expireLeases();
    // Their runners are gone: the steps they were running will never report an end.
    await this.ctx.store.steps.finishUnfinished(
      expired.map((j) => j.id),
      "failure",
    );
    for (const j of expired) {
      this.ctx.emit({ type: "job", runId: j.runId, jobRowId: j.id, jobKey: j.jobKey, status: j.status });
      this.legs.jobFinished(j.id);
    }
  }

  /** Graceful stop: no new runs start; running orchestrations are aborted after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const all = [...this.active.values()];
    // A run waiting at an environment's gate has nothing running to finish: it is left at once.
    for (const [id, a] of this.active)
      if ((await this.ctx.store.runs.get(id))?.status === "waiting") a.controller.abort(new ServerShutdown());
    const timer = setTimeout(() => {
      for (const a of all) a.controller.abort(new ServerShutdown());
    }, graceMs);
    // Bounded too: past the grace period and the kill grace, what has not ended is left to the next
    // start (its legs are failed by recovery or by their lease), rather than hanging the shutdown.
    const ended = await boundedWait(
      Promise.allSettled(all.map((a) => a.done)),
      graceMs + killGraceMs + cancelWaitMs,
    );
    if (!ended)
      this.ctx.log(`stopping: ${this.active.size} run(s) did not end in time; left to the next start`);
    clearTimeout(timer);
    // The events of the runs that just ended are recorded before the store closes; delivering them is
    // the Notifier's (pending ones resume at the next start).
    await this.notifications.drain();
  }

  get activeRuns(): number {
    return this.active.size;
  }
}
