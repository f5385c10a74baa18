// Workflow runs: one row per run of one workflow file, numbered per repository.
import { NotFoundError } from "../lib/errors.js";
import type { RunsTable } from "./schema.js";
import { affected, atomic, type Db, defined, fromJson, toJson } from "./util.js";

/** `waiting`: created but held until someone approves it (a fork pull request under require-approval). */
export const runStatuses = ["waiting", "queued", "running", "completed"] as const;
export type RunStatus = (typeof runStatuses)[number];
export const runConclusions = ["success", "failure", "cancelled", "skipped"] as const;
export type RunConclusion = (typeof runConclusions)[number];
export const runTriggers = ["webhook", "poll", "dispatch", "schedule", "rerun"] as const;
export type RunTrigger = (typeof runTriggers)[number];

export type PullRequestRef = { number: number; title: string; author: string; url: string };

export type Run = {
  id: number;
  repoId: number;
  /** 1, 2, 3… per repository, in creation order, never reused. */
  number: number;
  workflowFile: string;
  workflowName: string;
  eventName: string;
  /** The event payload (`github.event`). */
  event: unknown;
  sha: string;
  ref: string;
  trigger: RunTrigger;
  pullRequest: PullRequestRef | null;
  status: RunStatus;
  conclusion: RunConclusion | null;
  /** The current attempt, from 1; job rows carry the attempt they belong to. */
  attempt: number;
  concurrencyGroup: string | null;
  /** Why the run ended as it did when no job says so (an invalid workflow, a restart). */
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  deliveryId: string | null;
  /** A run of a pull request from a fork: its own workflow runs without secrets. */
  fork: boolean;
};

export type RunInput = {
  repoId: number;
  workflowFile: string;
  workflowName: string;
  eventName: string;
  event: unknown;
  sha: string;
  ref: string;
  trigger: RunTrigger;
  pullRequest?: PullRequestRef | null;
  /** Default `queued`; a run rejected up front (an invalid workflow) can be created `completed`. */
  status?: RunStatus;
  conclusion?: RunConclusion | null;
  concurrencyGroup?: string | null;
  reason?: string | null;
  deliveryId?: string | null;
  fork?: boolean;
  now?: number;
};

export type RunPatch = {
  status?: RunStatus;
  conclusion?: RunConclusion | null;
  reason?: string | null;
  concurrencyGroup?: string | null;
  startedAt?: number | null;
  finishedAt?: number | null;
};

export type RunFilter = {
  repoId?: number;
  status?: RunStatus | RunStatus[];
  concurrencyGroup?: string;
  /** Default 50. */
  limit?: number;
  /** Cursor: only runs with an id below this one (pass the last id of the previous page). */
  before?: number;
};

type Row = Omit<RunsTable, "id" | "fork"> & { id: number; fork: number };

function toRun(r: Row): Run {
  return {
    id: r.id,
    repoId: r.repo_id,
    number: r.number,
    workflowFile: r.workflow_file,
    workflowName: r.workflow_name,
    eventName: r.event_name,
    event: fromJson<unknown>(r.event_json, null),
    sha: r.sha,
    ref: r.ref,
    trigger: r.trigger as RunTrigger,
    pullRequest:
      r.pr_number === null
        ? null
        : { number: r.pr_number, title: r.pr_title ?? "", author: r.pr_author ?? "", url: r.pr_url ?? "" },
    status: r.status as RunStatus,
    conclusion: r.conclusion as RunConclusion | null,
    attempt: r.attempt,
    concurrencyGroup: r.concurrency_group,
    reason: r.reason,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    deliveryId: r.delivery_id,
    fork: r.fork !== 0,
  };
}

export function createRuns(db: Db) {
  const exists = async (id: number) =>
    (await db.selectFrom("runs").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
  return {
    /**
     * Creates a run with the repository's next number. The number comes from an UPDATE … RETURNING of
     * the repository's counter in the same transaction, so concurrent creates (threads, processes or
     * servers) get distinct numbers and a rolled-back create gives its number back.
     */
    async create(input: RunInput): Promise<Run> {
      return atomic(db, async (tx) => {
        const counter = await tx
          .updateTable("repos")
          .set((eb) => ({ run_counter: eb("run_counter", "+", 1) }))
          .where("id", "=", input.repoId)
          .returning("run_counter")
          .executeTakeFirst();
        if (!counter) throw new NotFoundError(`no repository with id ${input.repoId}`);
        const row = await tx
          .insertInto("runs")
          .values({
            repo_id: input.repoId,
            number: counter.run_counter,
            workflow_file: input.workflowFile,
            workflow_name: input.workflowName,
            event_name: input.eventName,
            event_json: toJson(input.event),
            sha: input.sha,
            ref: input.ref,
            trigger: input.trigger,
            pr_number: input.pullRequest?.number ?? null,
            pr_title: input.pullRequest?.title ?? null,
            pr_author: input.pullRequest?.author ?? null,
            pr_url: input.pullRequest?.url ?? null,
            status: input.status ?? "queued",
            conclusion: input.conclusion ?? null,
            attempt: 1,
            concurrency_group: input.concurrencyGroup ?? null,
            reason: input.reason ?? null,
            created_at: input.now ?? Date.now(),
            started_at: null,
            finished_at: input.status === "completed" ? (input.now ?? Date.now()) : null,
            delivery_id: input.deliveryId ?? null,
            fork: input.fork ? 1 : 0,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toRun(row);
      });
    },

    async get(id: number): Promise<Run | null> {
      const row = await db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRun(row) : null;
    },

    async getByNumber(repoId: number, number: number): Promise<Run | null> {
      const row = await db
        .selectFrom("runs")
        .selectAll()
        .where("repo_id", "=", repoId)
        .where("number", "=", number)
        .executeTakeFirst();
      return row ? toRun(row) : null;
    },

    /** Newest first. */
    async list(filter: RunFilter = {}): Promise<Run[]> {
      let q = db.selectFrom("runs").selectAll();
      if (filter.repoId !== undefined) q = q.where("repo_id", "=", filter.repoId);
      if (filter.status !== undefined) {
        const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
        if (statuses.length === 0) return [];
        q = q.where("status", "in", statuses);
      }
      if (filter.concurrencyGroup !== undefined)
        q = q.where("concurrency_group", "=", filter.concurrencyGroup);
      if (filter.before !== undefined) q = q.where("id", "<", filter.before);
      const rows = await q
        .orderBy("id", "desc")
        .limit(filter.limit ?? 50)
        .execute();
      return rows.map(toRun);
    },

    /**
     * Sets the fields named in `patch`. With `ifStatus`, only when the run is in one of those statuses
     * (a compare-and-set: two servers finishing the same run cannot both win). False when nothing changed.
     */
    async update(id: number, patch: RunPatch, opts: { ifStatus?: RunStatus[] } = {}): Promise<boolean> {
      const set = defined({
        status: patch.status,
        conclusion: patch.conclusion,
        reason: patch.reason,
        concurrency_group: patch.concurrencyGroup,
        started_at: patch.startedAt,
        finished_at: patch.finishedAt,
      });
      let q = db.updateTable("runs").set(set).where("id", "=", id);
      if (opts.ifStatus) {
        if (opts.ifStatus.length === 0) return false;
        q = q.where("status", "in", opts.ifStatus);
      }
      if (Object.keys(set).length === 0) return exists(id);
      return affected(await q.executeTakeFirst()) > 0;
    },

    /**
     * Starts the next attempt of a completed run (a re-run): increments `attempt` and resets the run to
     * queued. Returns the new attempt number, or null when the run does not exist or is not completed —
     * so two re-run requests racing for the same run start one attempt, not two.
     */
    async startAttempt(runId: number): Promise<number | null> {
      const row = await db
        .updateTable("runs")
        .set((eb) => ({
          attempt: eb("attempt", "+", 1),
          status: "queued",
          conclusion: null,
          reason: null,
          started_at: null,
          finished_at: null,
        }))
        .where("id", "=", runId)
        .where("status", "=", "completed")
        .returning("attempt")
        .executeTakeFirst();
      return row?.attempt ?? null;
    },
  };
}

export type Runs = ReturnType<typeof createRuns>;
