// A job leg's way through the queue: inserted `waiting`, held at its environment's gate (environments.ts)
// and by the concurrency limits, `queued`
// for runners (its secrets sealed under the master key until a runner claims it), then waited on until
// it reaches a final status, set by its runner, a cancel or the lease reaper.
import { cpus } from "node:os";
import { coerceToString, type Json } from "../expressions/index.js";
import { OperationError } from "../lib/errors.js";
import {
  type JobInvocation,
  type JobResult,
  type LegSpec,
  legSpecOf,
  Semaphore,
  type Status,
} from "../runner/index.js";
import { decryptSecret, type EncryptedSecret, encryptSecret } from "../secrets/index.js";
import { type Job, jobStatuses, type Repo, type Run } from "../store/index.js";
import { evaluateToken } from "../workflow/index.js";
import type { CiContext } from "./context.js";
import { EnvironmentGates } from "./environments.js";

function jobStatusToResult(status: string): Status {
  return status === "success" || status === "failure" || status === "cancelled" || status === "skipped"
    ? status
    : "failure";
}

function labelsOf(value: Json): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.map((v) => coerceToString(v));
  if (value && typeof value === "object") {
    const labels = (value as Record<string, Json>).labels;
    return labels === undefined ? [] : labelsOf(labels);
  }
  return [];
}

export class Legs {
  private readonly ctx: CiContext;
  private readonly globalSlots: Semaphore;
  private readonly repoSlots = new Map<number, Semaphore>();
  private readonly finishedWaiters = new Map<number, Set<() => void>>();
  /** Environment gates: legs bound for an environment pass them before they are queued. */
  readonly gates: EnvironmentGates;

  constructor(ctx: CiContext) {
    this.ctx = ctx;
    this.gates = new EnvironmentGates(ctx);
    this.globalSlots = new Semaphore(ctx.opts.maxJobs ?? cpus().length);
  }

  async executeLeg(run: Run, repo: Repo, inv: JobInvocation): Promise<JobResult> {
    const attempt = inv.run.runAttempt;
    const key = inv.ref.key;
    // A leg with a row in this attempt already ran, is running, or is reused from an earlier attempt.
    const existing = (await this.ctx.store.jobs.list(run.id, attempt)).find((j) => j.jobKey === key);
    if (existing && ["success", "failure", "cancelled", "skipped"].includes(existing.status))
      return this.resultOf(existing);
    // A leg bound for an environment: its ref checked, its gate opened (or found after a restart).
    const admission = inv.job.environment ? await this.gates.admit(run, repo, inv) : undefined;
    let row = existing;
    if (!row) {
      const labels = inv.job.runsOn
        ? labelsOf(
            evaluateToken(inv.job.runsOn, {
              contexts: {
                github: inv.github,
                needs: inv.needs,
                strategy: inv.strategy,
                matrix: inv.matrix ?? {},
                inputs: inv.inputs,
                vars: inv.run.vars,
              },
            }),
          )
        : [];
      let spec = legSpecOf(inv, repo.url, labels, this.ctx.mirrorOf(repo));
      // The environment's secrets and vars go into this leg's spec only.
      if (admission?.kind === "admitted")
        spec = {
          ...spec,
          secrets: { ...spec.secrets, ...admission.secrets },
          vars: { ...spec.vars, ...admission.vars },
        };
      const refused = admission?.kind === "refused";
      [row] = await this.ctx.store.jobs.insertMany(run.id, attempt, [
        {
          jobKey: key,
          jobId: inv.ref.id,
          name: inv.ref.name,
          matrix: inv.matrix,
          labels,
          status: refused ? "failure" : "waiting",
          ...(refused ? { reason: admission.reason } : { spec: this.sealSecrets(spec, run.id, key) }),
          untrusted: spec.run.untrusted === true,
        },
      ]);
      this.ctx.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: key, status: row.status });
      if (refused) return this.resultOf(row);
    }
    let releaseSlots: (() => void) | undefined;
    if (row.status === "waiting") {
      if (admission) {
        const outcome =
          admission.kind === "refused"
            ? { status: "failure" as const, reason: admission.reason }
            : await this.gates.pass(run, admission.gate, row, inv.signal);
        // Left at the gate by a stopping server: the row stays `waiting` for the next start.
        if (outcome.status === "left") return { ...(await this.resultOf(row)), status: "cancelled" };
        if (outcome.status !== "approved") return this.endWaiting(run, row, outcome.status, outcome.reason);
      }
      // The concurrency limits hold legs back before they are offered to runners.
      try {
        const g = await this.globalSlots.acquire(inv.signal);
        let r: () => void = () => {};
        try {
          r = await this.repoSemaphore(repo.id).acquire(inv.signal);
        } catch (err) {
          g();
          throw err;
        }
        releaseSlots = () => {
          r();
          g();
        };
      } catch {
        return this.endWaiting(run, row, "cancelled", "cancelled before it started");
      }
      await this.ctx.store.jobs.update(row.id, { status: "queued", reason: null }, { ifStatus: ["waiting"] });
      this.ctx.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: key, status: "queued" });
      this.ctx.events.emit("queued");
    }
    const rowId = row.id;
    const onAbort = () => {
      void this.ctx.store.jobs.cancel(rowId, "the run was cancelled").then((ok) => {
        if (!ok) return;
        this.ctx.emit({ type: "job", runId: run.id, jobRowId: rowId, jobKey: key, status: "cancelled" });
        this.jobFinished(rowId);
      });
    };
    if (inv.signal.aborted) onAbort();
    else inv.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const final = await this.waitForJob(rowId);
      if (admission?.kind === "admitted")
        await this.gates.recordUrl(inv, admission.gate, {
          id: final.id,
          status: jobStatusToResult(final.status),
          outputs: final.outputs,
        });
      return this.resultOf(final);
    } finally {
      inv.signal.removeEventListener("abort", onAbort);
      releaseSlots?.();
    }
  }

  /** A leg that never left `waiting` (rejected, refused or cancelled) ends with the reason. */
  private async endWaiting(run: Run, row: Job, status: Status, reason: string): Promise<JobResult> {
    if (status === "cancelled") await this.ctx.store.jobs.cancel(row.id, reason);
    else
      await this.ctx.store.jobs.update(
        row.id,
        { status, reason, finishedAt: Date.now() },
        { ifStatus: ["waiting"] },
      );
    const final = (await this.ctx.store.jobs.get(row.id))!;
    this.ctx.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: row.jobKey, status: final.status });
    return this.resultOf(final);
  }

  /** Secrets travel in the spec sealed with the master key; only a claim opens them. */
  private sealSecrets(
    spec: LegSpec,
    runId: number,
    key: string,
  ): LegSpec & { sealedSecrets?: EncryptedSecret } {
    if (Object.keys(spec.secrets).length === 0) return spec;
    if (!this.ctx.opts.masterKey)
      throw new OperationError("the job has secrets but the server has no master key to seal them");
    const sealedSecrets = encryptSecret(this.ctx.opts.masterKey, Buffer.from(JSON.stringify(spec.secrets)), {
      name: `job-spec:${key}`,
      repo: String(runId),
      env: null,
    });
    return { ...spec, secrets: {}, sealedSecrets };
  }

  /** The spec a runner receives: with its secrets opened. */
  openSpec(job: Job): LegSpec {
    const spec = job.spec as LegSpec & { sealedSecrets?: EncryptedSecret };
    if (!spec.sealedSecrets) return spec;
    if (!this.ctx.opts.masterKey)
      throw new OperationError("a job's secrets are sealed but the server has no master key");
    const plain = decryptSecret(this.ctx.opts.masterKey, spec.sealedSecrets, {
      name: `job-spec:${job.jobKey}`,
      repo: String(job.runId),
      env: null,
    });
    const { sealedSecrets: _sealed, ...rest } = spec;
    return { ...rest, secrets: JSON.parse(plain.toString("utf8")) as Record<string, string> };
  }

  private repoSemaphore(repoId: number): Semaphore {
    let s = this.repoSlots.get(repoId);
    if (!s) {
      s = new Semaphore(this.ctx.opts.maxJobsPerRepo ?? 1_000_000);
      this.repoSlots.set(repoId, s);
    }
    return s;
  }

  /** Called when a job row reached a final status (by a runner, a cancel or the lease reaper). */
  jobFinished(rowId: number): void {
    const waiters = this.finishedWaiters.get(rowId);
    if (waiters) for (const w of waiters) w();
  }

  private async waitForJob(rowId: number): Promise<Job> {
    for (;;) {
      const row = await this.ctx.store.jobs.get(rowId);
      if (!row) throw new OperationError(`job row ${rowId} disappeared`);
      if (["success", "failure", "cancelled", "skipped"].includes(row.status)) return row;
      // A status outside the state machine (stored before reports were checked) would be waited on
      // forever, and a cancel or shutdown with it: it is failed, with the reason.
      if (!(jobStatuses as readonly string[]).includes(row.status)) {
        await this.ctx.store.jobs.failUnknownStatus(rowId);
        continue;
      }
      await new Promise<void>((resolve) => {
        let set = this.finishedWaiters.get(rowId);
        if (!set) {
          set = new Set();
          this.finishedWaiters.set(rowId, set);
        }
        const wake = () => {
          clearTimeout(timer);
          set!.delete(wake);
          if (set!.size === 0) this.finishedWaiters.delete(rowId);
          resolve();
        };
        // The database is the truth (another server process or a missed wake-up); look again now and then.
        const timer = setTimeout(wake, 2000);
        set.add(wake);
      });
    }
  }

  async resultOf(row: Job): Promise<JobResult> {
    const steps = await this.ctx.store.steps.list(row.id);
    const report = (await this.ctx.store.jobReports.forJobs([row.id])).get(row.id);
    return {
      id: row.jobId,
      name: row.name,
      workflow: "",
      matrix: row.matrix as Record<string, Json> | null,
      status: jobStatusToResult(row.status),
      outputs: row.outputs,
      durationMs: row.finishedAt && row.startedAt ? row.finishedAt - row.startedAt : 0,
      steps: steps.map((s) => ({
        id: s.stepId,
        name: s.name,
        outcome: (s.outcome ?? "skipped") as JobResult["status"],
        conclusion: (s.conclusion ?? "skipped") as JobResult["status"],
        durationMs: s.finishedAt && s.startedAt ? s.finishedAt - s.startedAt : 0,
        outputs: {},
      })),
      annotations: report?.annotations ?? [],
      summary: report?.summary ?? "",
      ...(row.reason ? { message: row.reason } : {}),
    };
  }
}
