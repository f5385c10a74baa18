// Job logs, stored as numbered chunks (never one growing row): the writer numbers its chunks, so a
// retried append is a no-op, and readers follow a live job by asking for the chunks after the last
// seq they have.
import { type Db, storableText } from "./util.js";

export type LogChunk = { jobRowId: number; seq: number; content: string; createdAt: number };

export type LogRead = {
  /** Only chunks with a seq above this one. */
  afterSeq?: number;
  /** Default 1000. */
  limit?: number;
};

export function createLogs(db: Db) {
  return {
    /**
     * Stores chunk `seq` of the job's log. True when stored, false when that seq already was (a retry);
     * the first content written for a seq is kept. NUL characters are stored as U+FFFD.
     * Once this resolves, the chunk survives a kill -9 of the process (see openStore).
     */
    async append(jobRowId: number, seq: number, content: string, now = Date.now()): Promise<boolean> {
      const rows = await db
        .insertInto("log_chunks")
        .values({ job_row_id: jobRowId, seq, content: storableText(content), created_at: now })
        .onConflict((oc) => oc.columns(["job_row_id", "seq"]).doNothing())
        .returning("seq")
        .execute();
      return rows.length > 0;
    },

    /** Several chunks in one statement; returns how many were new. */
    async appendMany(
      jobRowId: number,
      chunks: { seq: number; content: string }[],
      now = Date.now(),
    ): Promise<number> {
      if (chunks.length === 0) return 0;
      const rows = await db
        .insertInto("log_chunks")
        .values(
          chunks.map((c) => ({
            job_row_id: jobRowId,
            seq: c.seq,
            content: storableText(c.content),
            created_at: now,
          })),
        )
        .onConflict((oc) => oc.columns(["job_row_id", "seq"]).doNothing())
        .returning("seq")
        .execute();
      return rows.length;
    },

    /** Chunks in seq order. */
    async read(jobRowId: number, opts: LogRead = {}): Promise<LogChunk[]> {
      let q = db.selectFrom("log_chunks").selectAll().where("job_row_id", "=", jobRowId);
      if (opts.afterSeq !== undefined) q = q.where("seq", ">", opts.afterSeq);
      const rows = await q
        .orderBy("seq")
        .limit(opts.limit ?? 1000)
        .execute();
      return rows.map((r) => ({
        jobRowId: r.job_row_id,
        seq: r.seq,
        content: r.content,
        createdAt: r.created_at,
      }));
    },

    /** The highest seq stored for the job, or null: where a restarted writer resumes. */
    async lastSeq(jobRowId: number): Promise<number | null> {
      const row = await db
        .selectFrom("log_chunks")
        .select((eb) => eb.fn.max("seq").as("seq"))
        .where("job_row_id", "=", jobRowId)
        .executeTakeFirst();
      return row?.seq ?? null;
    },

    /** Every chunk of a run attempt: by job (in job order), then by seq. */
    async readRun(runId: number, attempt: number): Promise<(LogChunk & { jobKey: string })[]> {
      const rows = await db
        .selectFrom("log_chunks")
        .innerJoin("jobs", "jobs.id", "log_chunks.job_row_id")
        .select([
          "log_chunks.job_row_id as job_row_id",
          "log_chunks.seq as seq",
          "log_chunks.content as content",
          "log_chunks.created_at as created_at",
          "jobs.job_key as job_key",
        ])
        .where("jobs.run_id", "=", runId)
        .where("jobs.attempt", "=", attempt)
        .orderBy("jobs.id")
        .orderBy("log_chunks.seq")
        .execute();
      return rows.map((r) => ({
        jobRowId: r.job_row_id,
        jobKey: r.job_key,
        seq: r.seq,
        content: r.content,
        createdAt: r.created_at,
      }));
    },
  };
}

export type Logs = ReturnType<typeof createLogs>;
