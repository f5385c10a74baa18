// What runners do to the store: claim a leg, heartbeat, send steps, log chunks and the result. The
// server's own runner calls it in-process; remote runners reach it through the HTTP API.
import type { Readable } from "node:stream";
import { ConflictError, NotFoundError, RefusalError, UserError } from "../lib/errors.js";
import {
  type ClaimedLeg,
  type JobResult,
  Masker,
  type RunnerTransport,
  type ServerArtifact,
  type StepReport,
  waitingForIsolationReason,
} from "../runner/index.js";
import { defaultMaxJobLogBytes, type Job, type StepOutcome } from "../store/index.js";
import { artifactRunRefusal } from "./artifacts.js";
import { type CompleteBody, completeBody, protocolProblems, runIdParam } from "./runner-protocol.js";
import type { CiService } from "./service.js";
import { workflowDeploysOf } from "./workflow-deploys.js";

export class RunnerApi {
  private readonly ci: CiService;
  private readonly maxJobLogBytes: number;
  constructor(ci: CiService, opts: { maxJobLogBytes?: number } = {}) {
    this.ci = ci;
    this.maxJobLogBytes = opts.maxJobLogBytes ?? ci.maxJobLogBytes ?? defaultMaxJobLogBytes;
  }

  /** Labels of the queued legs: the server's own runner, when unrestricted, takes any of them. */
  async queuedLabels(): Promise<string[]> {
    const rows = await this.ci.store.db
      .selectFrom("jobs")
      .select("labels_json")
      .distinct()
      .where("status", "=", "queued")
      .execute();
    const all = new Set<string>();
    for (const r of rows) for (const l of JSON.parse(r.labels_json || "[]") as string[]) all.add(l);
    return [...all];
  }

  /** `untrusted`: the runner declared it takes forks' legs (runner/isolation.ts); else it never gets one. */
  async claim(runnerId: string, labels: string[], untrusted = false): Promise<ClaimedLeg | null> {
    const job = await this.ci.store.jobs.claim({
      runnerId,
      labels,
      leaseMs: this.ci.leaseMs,
      untrusted,
      untrustedWaitReason: waitingForIsolationReason,
    });
    if (!job) return null;
    this.ci.emit({ type: "job", runId: job.runId, jobRowId: job.id, jobKey: job.jobKey, status: "running" });
    return { jobRowId: String(job.id), spec: this.ci.openSpec(job) };
  }

  private async owned(runnerId: string, jobRowId: number): Promise<Job | null> {
    const job = await this.ci.store.jobs.get(jobRowId);
    return job && job.runnerId === runnerId ? job : null;
  }

  /** The job, while it runs and is this runner's: what may touch its run's artifacts. */
  private async held(runnerId: string, jobRowId: number): Promise<Job> {
    const job = await this.owned(runnerId, jobRowId);
    if (job?.status !== "running") throw new ConflictError("the job is not running on this runner");
    return job as Job;
  }

  /**
   * Stores an artifact the job uploads to its run. A name holding one of the job's secrets is refused:
   * masked it would be another name, and as it is it would show the secret in every listing.
   */
  async uploadArtifact(
    runnerId: string,
    jobRowId: number,
    a: { name: string; retentionDays?: number; overwrite: boolean },
    tar: Readable,
  ): Promise<ServerArtifact> {
    const job = await this.held(runnerId, jobRowId);
    const masker = new Masker();
    for (const v of Object.values(this.ci.openSpec(job).secrets)) masker.add(v);
    const masked = masker.mask(a.name);
    if (masked !== a.name) {
      tar.resume();
      throw new UserError(
        `the artifact name ${JSON.stringify(masked)} contains a secret: choose another name`,
      );
    }
    return this.ci.artifacts.upload({ ...a, runId: job.runId, jobRowId }, tar);
  }

  /** The run whose artifacts the job reads: its own, or another (`run-id`) that artifactRunRefusal allows. */
  private async artifactRun(job: Job, runId: number | undefined): Promise<number> {
    if (runId === undefined || runId === job.runId) return job.runId;
    const own = await this.ci.store.runs.get(job.runId);
    const other = await this.ci.store.runs.get(runId);
    if (!own || !other) throw new NotFoundError(`no run ${runId}`);
    const refusal = artifactRunRefusal(own, other);
    if (refusal) throw new RefusalError(403, refusal);
    return other.id;
  }

  async listArtifacts(runnerId: string, jobRowId: number, runId?: number): Promise<ServerArtifact[]> {
    const job = await this.held(runnerId, jobRowId);
    return this.ci.artifacts.list(await this.artifactRun(job, runId));
  }

  async openArtifact(runnerId: string, jobRowId: number, name: string, runId?: number) {
    const job = await this.held(runnerId, jobRowId);
    return this.ci.artifacts.open(await this.artifactRun(job, runId), name);
  }

  async heartbeat(runnerId: string, jobRowId: number): Promise<boolean> {
    return this.ci.store.jobs.heartbeat(jobRowId, runnerId, this.ci.leaseMs);
  }

  /** Log chunks are accepted from the job's runner even after a cancel, so always() steps' output is kept. */
  async appendLog(runnerId: string, jobRowId: number, seq: number, content: string): Promise<boolean> {
    const job = await this.owned(runnerId, jobRowId);
    if (!job) return false;
    const r = await this.ci.store.logs.appendCapped(jobRowId, seq, content, this.maxJobLogBytes);
    if (r.stored) this.ci.emit({ type: "log", runId: job.runId, jobRowId, seq, content: r.content });
    return true;
  }

  async step(runnerId: string, jobRowId: number, step: StepReport): Promise<boolean> {
    const job = await this.owned(runnerId, jobRowId);
    if (!job) return false;
    await this.ci.store.steps.upsert(jobRowId, {
      idx: step.idx,
      stepId: step.id,
      name: step.name,
      // Absent fields are left as they are (a completed report does not repeat the start time).
      outcome: step.outcome as StepOutcome | undefined,
      conclusion: step.conclusion as StepOutcome | undefined,
      startedAt: step.startedAt,
      finishedAt: step.finishedAt,
    });
    this.ci.emit({
      type: "step",
      runId: job.runId,
      jobRowId,
      idx: step.idx,
      name: step.name,
      status: step.status,
      ...(step.conclusion ? { conclusion: step.conclusion } : {}),
    });
    return true;
  }

  /**
   * Records the runner's end of the job. A report that does not parse (an unknown status, outputs of
   * the wrong type or size) still ends the job — as `failure`, with the problems as the reason — so a
   * misbehaving runner cannot leave the run (or a cancel or a shutdown waiting for it) unfinished; the
   * caller answers it 400. Returns `ok` and, for a bad report, the problems.
   */
  async complete(
    runnerId: string,
    jobRowId: number,
    report: JobResult | unknown,
  ): Promise<{ ok: boolean; problems?: string }> {
    const parsed = completeBody.safeParse(report);
    const problems = parsed.success ? undefined : protocolProblems(parsed.error);
    const completion = parsed.success
      ? {
          status: parsed.data.status === "skipped" ? ("success" as const) : parsed.data.status,
          outputs: parsed.data.outputs,
          reason: parsed.data.message ?? null,
        }
      : {
          status: "failure" as const,
          outputs: {},
          reason: `the runner reported an invalid end of the job: ${problems}`,
        };
    // The report is in before the job ends: whoever waits for the end (the environment's URL, the
    // run page) finds it there.
    const held = await this.owned(runnerId, jobRowId);
    if (held?.status === "running" && parsed.success) await this.storeReport(held, parsed.data);
    const ok = await this.ci.store.jobs.complete(jobRowId, runnerId, completion);
    const job = await this.ci.store.jobs.get(jobRowId);
    if (job) {
      // Its steps' reports cannot be trusted to have ended either: none is left running.
      if (ok && problems) await this.ci.store.steps.finishUnfinished([jobRowId], "failure");
      this.ci.emit({ type: "job", runId: job.runId, jobRowId, jobKey: job.jobKey, status: job.status });
    }
    this.ci.jobFinished(jobRowId);
    if (ok && held && parsed.success) await this.reportWorkflowDeploys(held, parsed.data.steps);
    return problems ? { ok, problems } : { ok };
  }

  /** Hands the releases the job's `slipway/deploy` steps made to the forge reporter; never throws. */
  private async reportWorkflowDeploys(job: Job, steps: unknown[] | undefined): Promise<void> {
    const forge = this.ci.forge;
    if (!forge?.onWorkflowDeploy || !steps?.length) return;
    try {
      const ids = { runId: job.runId, jobRowId: job.id };
      for (const d of await workflowDeploysOf(this.ci.openSpec(job), ids, steps)) forge.onWorkflowDeploy(d);
    } catch {
      // A spec that no longer opens (a rotated key) costs the report, never the job's end.
    }
  }

  /**
   * Keeps the job's annotations and step summary, masked here again with the job's secrets: the runner
   * masks them already, but what the server stores and serves must not depend on every runner doing so.
   */
  private async storeReport(job: Job, report: CompleteBody): Promise<void> {
    const annotations = report.annotations ?? [];
    const summary = report.summary ?? "";
    if (annotations.length === 0 && summary === "" && report.environmentUrl === undefined) return;
    const masker = new Masker();
    for (const v of Object.values(this.ci.openSpec(job).secrets)) masker.add(v);
    // A URL holding a secret is not kept, as GitHub's runner skips it; the runner should have already.
    const url = report.environmentUrl;
    const environmentUrl = url === undefined ? undefined : masker.mask(url) === url ? url : "";
    await this.ci.store.jobReports.put(job.id, {
      annotations: annotations.map((a) => ({
        ...a,
        message: masker.mask(a.message),
        ...(a.title !== undefined ? { title: masker.mask(a.title) } : {}),
        ...(a.file !== undefined ? { file: masker.mask(a.file) } : {}),
        ...(a.stepName !== undefined ? { stepName: masker.mask(a.stepName) } : {}),
      })),
      summary: masker.mask(summary),
      ...(environmentUrl !== undefined ? { environmentUrl } : {}),
    });
  }

  /**
   * Fails the running legs of a runner an admin removed or disabled, ending their steps, and wakes
   * their runs: they go on (always() jobs, the run's end) without waiting for a lease to run out.
   */
  async retireRunner(runnerId: string, reason: string): Promise<Job[]> {
    const failed = await this.ci.store.jobs.failRunnerJobs(runnerId, reason);
    await this.ci.store.steps.finishUnfinished(
      failed.map((j) => j.id),
      "failure",
    );
    for (const j of failed) {
      this.ci.emit({ type: "job", runId: j.runId, jobRowId: j.id, jobKey: j.jobKey, status: j.status });
      this.ci.jobFinished(j.id);
    }
    return failed;
  }

  /** The transport of a runner living in this process. */
  transport(runnerId: string, labels: () => Promise<string[]>, untrusted = false): RunnerTransport {
    return {
      claim: async () => this.claim(runnerId, await labels(), untrusted),
      heartbeat: (id) => this.heartbeat(runnerId, Number(id)),
      appendLog: async (id, seq, content) => {
        await this.appendLog(runnerId, Number(id), seq, content);
      },
      step: async (id, step) => {
        await this.step(runnerId, Number(id), step);
      },
      complete: async (id, result) => {
        const r = await this.complete(runnerId, Number(id), result);
        if (r.problems) throw new Error(`invalid job result: ${r.problems}`);
      },
      // The same store remote runners reach over HTTP, called directly.
      artifacts: (id) => ({
        list: (runId) => this.listArtifacts(runnerId, Number(id), runIdParam(runId)),
        upload: (a, tar) => this.uploadArtifact(runnerId, Number(id), a, tar),
        download: async (name, runId) =>
          (await this.openArtifact(runnerId, Number(id), name, runIdParam(runId))).tar,
      }),
    };
  }
}
