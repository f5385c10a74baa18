// Step results of a job leg, written by the runner as steps start and finish.
import type { Db } from "./util.js";
import { affected, defined } from "./util.js";

export type StepOutcome = "success" | "failure" | "cancelled" | "skipped";

export type Step = {
  jobRowId: number;
  /** Position in the job, from 0. */
  idx: number;
  stepId: string;
  name: string;
  outcome: StepOutcome | null;
  conclusion: StepOutcome | null;
  startedAt: number | null;
  finishedAt: number | null;
};

export type StepInput = {
  idx: number;
  stepId: string;
  name: string;
  outcome?: StepOutcome | null;
  conclusion?: StepOutcome | null;
  startedAt?: number | null;
  finishedAt?: number | null;
};

export function createSteps(db: Db) {
  return {
    /**
     * Inserts the step, or updates it when (job, idx) exists: the fields given overwrite, the ones left
     * undefined keep their value — so "started" then "finished" reports compose, and retries are harmless.
     */
    async upsert(jobRowId: number, step: StepInput): Promise<void> {
      const update = defined({
        step_id: step.stepId,
        name: step.name,
        outcome: step.outcome,
        conclusion: step.conclusion,
        started_at: step.startedAt,
        finished_at: step.finishedAt,
      });
      await db
        .insertInto("steps")
        .values({
          job_row_id: jobRowId,
          idx: step.idx,
          step_id: step.stepId,
          name: step.name,
          outcome: step.outcome ?? null,
          conclusion: step.conclusion ?? null,
          started_at: step.startedAt ?? null,
          finished_at: step.finishedAt ?? null,
        })
        .onConflict((oc) => oc.columns(["job_row_id", "idx"]).doUpdateSet(update))
        .execute();
    },

    /**
     * Ends the steps of these jobs that never reported an end (their runner or server died, or was
     * removed): `conclusion` (and outcome), finished now. Returns how many were ended.
     */
    async finishUnfinished(jobRowIds: number[], conclusion: StepOutcome, now = Date.now()): Promise<number> {
      if (jobRowIds.length === 0) return 0;
      const r = await db
        .updateTable("steps")
        .set({ outcome: conclusion, conclusion, finished_at: now })
        .where("job_row_id", "in", jobRowIds)
        .where("conclusion", "is", null)
        .executeTakeFirst();
      return affected(r);
    },

    async list(jobRowId: number): Promise<Step[]> {
      const rows = await db
        .selectFrom("steps")
        .selectAll()
        .where("job_row_id", "=", jobRowId)
        .orderBy("idx")
        .execute();
      return rows.map((r) => ({
        jobRowId: r.job_row_id,
        idx: r.idx,
        stepId: r.step_id,
        name: r.name,
        outcome: r.outcome as StepOutcome | null,
        conclusion: r.conclusion as StepOutcome | null,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
      }));
    },
  };
}

export type Steps = ReturnType<typeof createSteps>;
