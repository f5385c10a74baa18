// Job logs, stored as numbered chunks (never one growing row): the writer numbers its chunks, so a
// retried append is a no-op, and readers follow a live job by asking for the chunks after the last
// seq they have. A job's log is capped (64 MiB by default): the chunk that passes the cap is cut and
// ends with one truncation marker, and later chunks are dropped, so a step printing forever cannot fill
// the database.
import { sql } from "kysely";
import type { DialectName } from "./migrations.js";
import { type Db, storableText } from "./util.js";

export const defaultMaxJobLogBytes = 64 * 1024 * 1024;

/** What `appendCapped` did with a chunk. */
export type CappedAppend = {
  /** The chunk was stored now (false: a retried seq, or dropped past the cap). */
  stored: boolean;
  /** The text stored (cut and marked when it passed the cap). */
  content: string;
};

export function truncationMarker(maxBytes: number): string {
  return `\n##[warning]slipway: this job's log reached its size limit (${maxBytes} bytes); the rest was dropped\n`;
}

/** The longest prefix of `s` that is at most `bytes` UTF-8 bytes, not cutting a character in two. */
function utf8Prefix(s: string, bytes: number): string {
  if (bytes <= 0) return "";
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= bytes) return s;
  let end = bytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}

export type LogChunk = { jobRowId: number; seq: number; content: string; createdAt: number };

export type LogRead = {
  /** Only chunks with a seq above this one. */
  afterSeq?: number;
  /** Default 1000. */
  limit?: number;
};

export function createLogs(db: Db, dialect: DialectName = "sqlite") {
  const byteLength =
    dialect === "postgres" ? sql<number>`octet_length(content)` : sql<number>`length(cast(content as blob))`;
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

    /** The bytes (UTF-8) of the job's stored log. */
    async size(jobRowId: number): Promise<number> {
      const row = await db
        .selectFrom("log_chunks")
        .select((eb) => eb.fn.coalesce(eb.fn.sum(byteLength), sql<number>`0`).as("bytes"))
        .where("job_row_id", "=", jobRowId)
        .executeTakeFirst();
      return Number(row?.bytes ?? 0);
    },

    /**
     * `append` within a cap on the job's whole log: the chunk that would pass `maxBytes` is cut there
     * and ends with the truncation marker; once the marker is stored (the log is then over the cap),
     * later chunks are dropped. Writers of one job send their chunks one after another (the runner's
     * shipper does), so the size read here is not raced by another chunk of the same job.
     */
    async appendCapped(
      jobRowId: number,
      seq: number,
      content: string,
      maxBytes: number,
      now = Date.now(),
    ): Promise<CappedAppend> {
      const used = await this.size(jobRowId);
      if (used > maxBytes) return { stored: false, content: "" };
      const text = storableText(content);
      const fits = used + Buffer.byteLength(text, "utf8") <= maxBytes;
      const kept = fits ? text : utf8Prefix(text, maxBytes - used) + truncationMarker(maxBytes);
      return { stored: await this.append(jobRowId, seq, kept, now), content: kept };
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
