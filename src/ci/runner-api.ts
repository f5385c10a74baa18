// What runners do to the store: claim a leg, heartbeat, send steps, log chunks and the result. The
// server's own runner calls it in-process; remote runners reach it through the HTTP API.
import type { ClaimedLeg, JobResult, RunnerTransport, StepReport } from "../runner/index.js";
import type { Job, StepOutcome } from "../store/index.js";
import type { CiService } from "./service.js";

export class RunnerApi {
  private readonly ci: CiService;
  constructor(ci: CiService) {
    this.ci = ci;
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

  async claim(runnerId: string, labels: string[]): Promise<ClaimedLeg | null> {
    const job = await this.ci.store.jobs.claim({ runnerId, labels, leaseMs: this.ci.leaseMs });
    if (!job) return null;
    this.ci.emit({ type: "job", runId: job.runId, jobRowId: job.id, jobKey: job.jobKey, status: "running" });
    return { jobRowId: String(job.id), spec: this.ci.openSpec(job) };
  }

  private async owned(runnerId: string, jobRowId: number): Promise<Job | null> {
    const job = await this.ci.store.jobs.get(jobRowId);
    return job && job.runnerId === runnerId ? job : null;
  }

  async heartbeat(runnerId: string, jobRowId: number): Promise<boolean> {
    return this.ci.store.jobs.heartbeat(jobRowId, runnerId, this.ci.leaseMs);
  }

  /** Log chunks are accepted from the job's runner even after a cancel, so always() steps' output is kept. */
  async appendLog(runnerId: string, jobRowId: number, seq: number, content: string): Promise<boolean> {
    const job = await this.owned(runnerId, jobRowId);
    if (!job) return false;
    const fresh = await this.ci.store.logs.append(jobRowId, seq, content);
    if (fresh) this.ci.emit({ type: "log", runId: job.runId, jobRowId, seq, content });
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

  async complete(runnerId: string, jobRowId: number, result: JobResult): Promise<boolean> {
    const status = result.status === "skipped" ? "success" : result.status;
    const ok = await this.ci.store.jobs.complete(jobRowId, runnerId, {
      status,
      outputs: result.outputs,
      reason: result.message ?? null,
    });
    const job = await this.ci.store.jobs.get(jobRowId);
    if (job)
      this.ci.emit({ type: "job", runId: job.runId, jobRowId, jobKey: job.jobKey, status: job.status });
    this.ci.jobFinished(jobRowId);
    return ok;
  }

  /** The transport of a runner living in this process. */
  transport(runnerId: string, labels: () => Promise<string[]>): RunnerTransport {
    return {
      claim: async () => this.claim(runnerId, await labels()),
      heartbeat: (id) => this.heartbeat(runnerId, Number(id)),
      appendLog: async (id, seq, content) => {
        await this.appendLog(runnerId, Number(id), seq, content);
      },
      step: async (id, step) => {
        await this.step(runnerId, Number(id), step);
      },
      complete: async (id, result) => {
        await this.complete(runnerId, Number(id), result);
      },
    };
  }
}
