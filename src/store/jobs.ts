// Job legs: one row per job leg (a matrix combination, a called workflow's job) per run attempt, and the
// queue runners claim them from.
//
// Lifecycle: waiting (needs unfinished) → queued → running (claimed by a runner, under a lease) →
// success | failure | cancelled | skipped. Every transition out of `running` is a compare-and-set on
// (status, runner_id), so a job finishes exactly once: by its runner (`complete`), by the lease reaper
// (`expireLeases`), by crash recovery (`recoverAfterCrash`) or by cancellation — whichever comes first;
// the others then see `false`.
//
// Lease policy: a runner holds a job for `leaseMs` after the claim and after each heartbeat. When the
// lease runs out the job is marked `failure` with the reason "runner X stopped heartbeating at T" — not
// re-queued, because its steps may already have had side effects (a deploy, a push) that must not run
// twice. (A per-job opt-in to re-queue would be a later, explicit option.)
import { UserError } from "../lib/errors.js";
import type { JobsTable } from "./schema.js";
import { affected, type Db, defined, fromJson, isoTime, toJson } from "./util.js";

export const jobStatuses = [
  "waiting",
  "queued",
  "running",
  "success",
  "failure",
  "cancelled",
  "skipped",
] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const finishedJobStatuses = ["success", "failure", "cancelled", "skipped"] as const;
export type FinishedJobStatus = (typeof finishedJobStatuses)[number];
const unfinished: JobStatus[] = ["waiting", "queued", "running"];

/** Who moved the job to its final status. */
export type FinishedBy = "runner" | "lease-expired" | "server-restart" | "cancel" | "server";

export type Job = {
  /** The row id ("job row"); steps and log chunks hang off it. */
  id: number;
  runId: number;
  attempt: number;
  /** Unique per run and attempt, e.g. `build-2` for a matrix leg. */
  jobKey: string;
  /** The workflow's job id, `caller/callee` for a called workflow's job. */
  jobId: string;
  name: string;
  matrix: Record<string, unknown> | null;
  /** `runs-on` labels; a runner must carry all of them (compared case-insensitively). */
  labels: string[];
  status: JobStatus;
  outputs: Record<string, string>;
  /** What a runner needs to execute the leg; opaque to the store. */
  spec: unknown;
  runnerId: string | null;
  leaseExpiresAt: number | null;
  heartbeatAt: number | null;
  claimedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
  finishedBy: FinishedBy | null;
  /** On a re-run, the job row of an earlier attempt whose result this leg reuses. */
  reusedFrom: number | null;
  createdAt: number;
};

export type JobInput = {
  jobKey: string;
  jobId: string;
  name: string;
  matrix?: Record<string, unknown> | null;
  labels?: string[];
  /** Default `waiting`. */
  status?: JobStatus;
  spec?: unknown;
  outputs?: Record<string, string>;
  reason?: string | null;
  reusedFrom?: number | null;
  /** A fork's leg: only runners that take forks (ClaimRequest.untrusted) get it. */
  untrusted?: boolean;
};

export type JobPatch = {
  status?: JobStatus;
  outputs?: Record<string, string>;
  spec?: unknown;
  reason?: string | null;
  startedAt?: number | null;
  finishedAt?: number | null;
};

export type ClaimRequest = {
  runnerId: string;
  labels: string[];
  leaseMs: number;
  now?: number;
  /** The runner takes forks' legs (it isolates them, or its machine is disposable). */
  untrusted?: boolean;
  /** Said on a fork's queued leg this runner passed over, until a runner that takes it claims it. */
  untrustedWaitReason?: string;
};

export type Completion = {
  status: FinishedJobStatus;
  outputs?: Record<string, string>;
  reason?: string | null;
  now?: number;
};

type Row = Omit<JobsTable, "id"> & { id: number };

function toJob(r: Row): Job {
  return {
    id: r.id,
    runId: r.run_id,
    attempt: r.attempt,
    jobKey: r.job_key,
    jobId: r.job_id,
    name: r.name,
    matrix: fromJson<Record<string, unknown> | null>(r.matrix_json, null),
    labels: fromJson<string[]>(r.labels_json, []),
    status: r.status as JobStatus,
    outputs: fromJson<Record<string, string>>(r.outputs_json, {}),
    spec: fromJson<unknown>(r.spec_json, null),
    runnerId: r.runner_id,
    leaseExpiresAt: r.lease_expires_at,
    heartbeatAt: r.heartbeat_at,
    claimedAt: r.claimed_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    reason: r.reason,
    finishedBy: r.finished_by as FinishedBy | null,
    reusedFrom: r.reused_from,
    createdAt: r.created_at,
  };
}

const claimBatch = 100;

export function createJobs(db: Db) {
  const exists = async (id: number) =>
    (await db.selectFrom("jobs").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
  return {
    /**
     * Inserts the legs of one run attempt. To create them together with the run, call it on the
     * transaction of `store.transaction`.
     */
    async insertMany(runId: number, attempt: number, legs: JobInput[], now = Date.now()): Promise<Job[]> {
      if (legs.length === 0) return [];
      const rows = await db
        .insertInto("jobs")
        .values(
          legs.map((l) => ({
            run_id: runId,
            attempt,
            job_key: l.jobKey,
            job_id: l.jobId,
            name: l.name,
            matrix_json: l.matrix ? toJson(l.matrix) : null,
            labels_json: toJson(l.labels ?? []),
            status: l.status ?? "waiting",
            outputs_json: l.outputs ? toJson(l.outputs) : null,
            spec_json: l.spec === undefined ? null : toJson(l.spec),
            runner_id: null,
            lease_expires_at: null,
            heartbeat_at: null,
            claimed_at: null,
            started_at: null,
            finished_at: null,
            reason: l.reason ?? null,
            finished_by: null,
            reused_from: l.reusedFrom ?? null,
            created_at: now,
            untrusted: l.untrusted ? 1 : 0,
          })),
        )
        .returningAll()
        .execute();
      return rows.sort((a, b) => a.id - b.id).map(toJob);
    },

    async get(id: number): Promise<Job | null> {
      const row = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toJob(row) : null;
    },

    /** The legs of a run (of one attempt when given), in insertion order. */
    async list(runId: number, attempt?: number): Promise<Job[]> {
      let q = db.selectFrom("jobs").selectAll().where("run_id", "=", runId);
      if (attempt !== undefined) q = q.where("attempt", "=", attempt);
      return (await q.orderBy("id").execute()).map(toJob);
    },

    /**
     * Server-side transitions (waiting → queued or skipped, reused results…). With `ifStatus`, a
     * compare-and-set: only when the job is in one of those statuses. False when nothing changed.
     */
    async update(id: number, patch: JobPatch, opts: { ifStatus?: JobStatus[] } = {}): Promise<boolean> {
      const set = defined({
        status: patch.status,
        outputs_json: patch.outputs === undefined ? undefined : toJson(patch.outputs),
        spec_json: patch.spec === undefined ? undefined : toJson(patch.spec),
        reason: patch.reason,
        started_at: patch.startedAt,
        finished_at: patch.finishedAt,
        finished_by:
          patch.status && (finishedJobStatuses as readonly string[]).includes(patch.status)
            ? "server"
            : undefined,
      });
      if (Object.keys(set).length === 0) return exists(id);
      let q = db.updateTable("jobs").set(set).where("id", "=", id);
      if (opts.ifStatus) {
        if (opts.ifStatus.length === 0) return false;
        q = q.where("status", "in", opts.ifStatus);
      }
      return affected(await q.executeTakeFirst()) > 0;
    },

    /**
     * Hands the oldest queued job this runner can run to it: `running`, owned by `runnerId`, leased until
     * now + leaseMs. Each candidate is taken with `UPDATE … WHERE id = ? AND status = 'queued'`; the
     * database serializes writers on the row (PostgreSQL: row lock, re-checked after the winner commits;
     * SQLite: one writer at a time across connections and processes), so of any number of racing
     * claimers exactly one sees a row come back and the others move on to the next candidate.
     */
    async claim(req: ClaimRequest): Promise<Job | null> {
      const now = req.now ?? Date.now();
      const has = new Set(req.labels.map((l) => l.toLowerCase()));
      let after = 0;
      for (;;) {
        const batch = await db
          .selectFrom("jobs")
          .select(["id", "labels_json", "untrusted", "reason"])
          .where("status", "=", "queued")
          .where("id", ">", after)
          .orderBy("id")
          .limit(claimBatch)
          .execute();
        for (const candidate of batch) {
          after = candidate.id;
          const needs = fromJson<string[]>(candidate.labels_json, []);
          if (!needs.every((l) => has.has(l.toLowerCase()))) continue;
          if (candidate.untrusted && !req.untrusted) {
            if (req.untrustedWaitReason && candidate.reason === null)
              await db
                .updateTable("jobs")
                .set({ reason: req.untrustedWaitReason })
                .where("id", "=", candidate.id)
                .where("status", "=", "queued")
                .where("reason", "is", null)
                .execute();
            continue;
          }
          const row = await db
            .updateTable("jobs")
            .set({
              status: "running",
              runner_id: req.runnerId,
              lease_expires_at: now + req.leaseMs,
              heartbeat_at: now,
              claimed_at: now,
              started_at: now,
              // The wait is over (the only reason a queued leg carries is why it waited).
              ...(candidate.untrusted ? { reason: null } : {}),
            })
            .where("id", "=", candidate.id)
            .where("status", "=", "queued")
            .returningAll()
            .executeTakeFirst();
          if (row) return toJob(row);
        }
        if (batch.length < claimBatch) return null;
      }
    },

    /**
     * Extends the lease to now + leaseMs — only while `runnerId` still owns the running job. False means
     * the job was cancelled, reaped or finished: the runner should stop working on it.
     */
    async heartbeat(jobRowId: number, runnerId: string, leaseMs: number, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("jobs")
        .set({ lease_expires_at: now + leaseMs, heartbeat_at: now })
        .where("id", "=", jobRowId)
        .where("runner_id", "=", runnerId)
        .where("status", "=", "running")
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /**
     * Marks running jobs whose lease ended before `now` as failed ("runner X stopped heartbeating at T")
     * and returns them, so the server can finish their runs. A heartbeat that lands first wins: the
     * update re-checks the lease.
     */
    async expireLeases(now = Date.now()): Promise<Job[]> {
      const expired = await db
        .selectFrom("jobs")
        .leftJoin("runners", "runners.id", "jobs.runner_id")
        .select([
          "jobs.id as id",
          "jobs.runner_id as runner_id",
          "jobs.heartbeat_at as heartbeat_at",
          "runners.name as runner_name",
        ])
        .where("jobs.status", "=", "running")
        .where("jobs.lease_expires_at", "<", now)
        .orderBy("jobs.id")
        .execute();
      const out: Job[] = [];
      for (const e of expired) {
        const who = e.runner_name ? `${e.runner_name} (${e.runner_id})` : (e.runner_id ?? "unknown");
        let q = db
          .updateTable("jobs")
          .set({
            status: "failure",
            reason: `runner ${who} stopped heartbeating at ${isoTime(e.heartbeat_at)}`,
            finished_at: now,
            finished_by: "lease-expired",
          })
          .where("id", "=", e.id)
          .where("status", "=", "running")
          .where("lease_expires_at", "<", now);
        if (e.runner_id !== null) q = q.where("runner_id", "=", e.runner_id);
        const row = await q.returningAll().executeTakeFirst();
        if (row) out.push(toJob(row));
      }
      return out;
    },

    /**
     * At server start: jobs that were running on this server's own (embedded) runners cannot still be
     * running, so they fail with "server restarted while the job was running". Jobs of remote runners
     * keep their lease — they may still finish, and expireLeases catches those that don't.
     */
    async recoverAfterCrash(opts: { localRunnerIds: string[]; now?: number }): Promise<Job[]> {
      if (opts.localRunnerIds.length === 0) return [];
      const rows = await db
        .updateTable("jobs")
        .set({
          status: "failure",
          reason: "server restarted while the job was running",
          finished_at: opts.now ?? Date.now(),
          finished_by: "server-restart",
        })
        .where("status", "=", "running")
        .where("runner_id", "in", opts.localRunnerIds)
        .returningAll()
        .execute();
      return rows.sort((a, b) => a.id - b.id).map(toJob);
    },

    /**
     * The runner's report that the job finished. True when recorded, or when this runner already
     * recorded the same result (a retried request); false when the job is no longer this runner's to
     * finish (cancelled, reaped after its lease, claimed by someone else).
     */
    async complete(jobRowId: number, runnerId: string, result: Completion): Promise<boolean> {
      // The status column is the state machine: a value outside it would leave the job (and its run,
      // and a cancel waiting for it) unfinished forever.
      if (!(finishedJobStatuses as readonly string[]).includes(result.status))
        throw new UserError(
          `a job ends as one of ${finishedJobStatuses.join(", ")}, not ${JSON.stringify(String(result.status)).slice(0, 60)}`,
        );
      const outputsJson = toJson(result.outputs ?? {});
      const r = await db
        .updateTable("jobs")
        .set({
          status: result.status,
          outputs_json: outputsJson,
          reason: result.reason ?? null,
          finished_at: result.now ?? Date.now(),
          finished_by: "runner",
        })
        .where("id", "=", jobRowId)
        .where("runner_id", "=", runnerId)
        .where("status", "=", "running")
        .executeTakeFirst();
      if (affected(r) > 0) return true;
      const row = await db
        .selectFrom("jobs")
        .select(["status", "runner_id", "finished_by", "outputs_json"])
        .where("id", "=", jobRowId)
        .executeTakeFirst();
      return (
        row !== undefined &&
        row.finished_by === "runner" &&
        row.runner_id === runnerId &&
        row.status === result.status &&
        row.outputs_json === outputsJson
      );
    },

    /**
     * Fails the running jobs of a runner an admin removed or disabled (`reason` says so) and returns
     * them; like an expired lease, they are not re-queued (their steps may have had side effects).
     */
    async failRunnerJobs(runnerId: string, reason: string, now = Date.now()): Promise<Job[]> {
      const rows = await db
        .updateTable("jobs")
        .set({ status: "failure", reason, finished_at: now, finished_by: "server" })
        .where("runner_id", "=", runnerId)
        .where("status", "=", "running")
        .returningAll()
        .execute();
      return rows.sort((a, b) => a.id - b.id).map(toJob);
    },

    /**
     * Fails a job whose status is none of the known ones (written before statuses were checked, or by
     * hand): its run could never finish otherwise. True when it was such a job.
     */
    async failUnknownStatus(jobRowId: number, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("jobs")
        .set({
          status: "failure",
          reason: "the job ended in an unknown state",
          finished_at: now,
          finished_by: "server",
        })
        .where("id", "=", jobRowId)
        .where("status", "not in", [...jobStatuses])
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Cancels one unfinished job; false when it had already finished. */
    async cancel(jobRowId: number, reason: string, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("jobs")
        .set({ status: "cancelled", reason, finished_at: now, finished_by: "cancel" })
        .where("id", "=", jobRowId)
        .where("status", "in", unfinished)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /**
     * Cancels every unfinished job of a run (of one attempt when given) and returns them; those with a
     * `runnerId` were running, and their runners learn it at their next heartbeat.
     */
    async cancelRun(runId: number, opts: { reason: string; attempt?: number; now?: number }): Promise<Job[]> {
      let q = db
        .updateTable("jobs")
        .set({
          status: "cancelled",
          reason: opts.reason,
          finished_at: opts.now ?? Date.now(),
          finished_by: "cancel",
        })
        .where("run_id", "=", runId)
        .where("status", "in", unfinished);
      if (opts.attempt !== undefined) q = q.where("attempt", "=", opts.attempt);
      const rows = await q.returningAll().execute();
      return rows.sort((a, b) => a.id - b.id).map(toJob);
    },
  };
}

export type Jobs = ReturnType<typeof createJobs>;
