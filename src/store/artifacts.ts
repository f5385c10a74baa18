// Artifacts of server runs: one row per upload, the files kept by the server under its data directory
// (ci/artifacts.ts). An upload is `pending` from the moment its size is known until its files are in
// place, then `ready`; pending uploads count against the run's size cap, so two uploads racing cannot
// both fit under it. One pending-or-ready artifact per (run, name), checked under a lock on the run.
import { sql } from "kysely";
import type { DialectName } from "./migrations.js";
import { atomic, type Db } from "./util.js";

export type ArtifactStatus = "pending" | "ready";

export type Artifact = {
  id: number;
  runId: number;
  /** The job that uploaded it (null once that job's row is gone). */
  jobRowId: number | null;
  name: string;
  status: ArtifactStatus;
  /** Bytes of its files. */
  size: number;
  files: number;
  /** sha256 over its files (as actions/upload-artifact's digest output). */
  digest: string;
  createdAt: number;
  expiresAt: number;
};

export type ArtifactBegin = {
  runId: number;
  jobRowId: number | null;
  name: string;
  size: number;
  files: number;
  digest: string;
  expiresAt: number;
  /** The run's artifacts may hold at most this many bytes in all. */
  maxRunBytes: number;
  /** Replace a ready artifact of the same name instead of refusing. */
  overwrite: boolean;
};

export type ArtifactBeginResult =
  | { ok: true; id: number; replaces: number | null }
  | { ok: false; reason: "exists" }
  | { ok: false; reason: "too-large"; usedBytes: number };

type Row = {
  id: number;
  run_id: number;
  job_row_id: number | null;
  name: string;
  status: string;
  size: number;
  files: number;
  digest: string;
  created_at: number;
  expires_at: number;
};

function toArtifact(r: Row): Artifact {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    jobRowId: r.job_row_id === null ? null : Number(r.job_row_id),
    name: r.name,
    status: r.status as ArtifactStatus,
    size: Number(r.size),
    files: Number(r.files),
    digest: r.digest,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

export function createArtifacts(db: Db, dialect: DialectName = "sqlite") {
  return {
    /**
     * Reserves room for an upload of `size` bytes as a pending artifact. Refused when a live artifact
     * (pending, or ready and unexpired) has the name and `overwrite` is not set — or another upload of the
     * name is pending — and when the run's live artifacts plus this one would pass `maxRunBytes` (the one
     * it replaces not counted).
     */
    async begin(a: ArtifactBegin, now = Date.now()): Promise<ArtifactBeginResult> {
      return atomic(db, async (tx) => {
        // PostgreSQL: concurrent uploads of one run queue here, so the size check below sees the others.
        // SQLite's write transactions are serialised already.
        if (dialect === "postgres")
          await tx.selectFrom("runs").select("id").where("id", "=", a.runId).forUpdate().execute();
        const live = (await tx
          .selectFrom("artifacts")
          .selectAll()
          .where("run_id", "=", a.runId)
          .where((eb) => eb.or([eb("status", "=", "pending"), eb("expires_at", ">", now)]))
          .execute()) as Row[];
        const same = live.find((r) => r.name === a.name);
        if (same && (same.status === "pending" || !a.overwrite)) return { ok: false, reason: "exists" };
        const usedBytes = live.filter((r) => r !== same).reduce((n, r) => n + Number(r.size), 0);
        if (usedBytes + a.size > a.maxRunBytes) return { ok: false, reason: "too-large", usedBytes };
        const row = await tx
          .insertInto("artifacts")
          .values({
            run_id: a.runId,
            job_row_id: a.jobRowId,
            name: a.name,
            status: "pending",
            size: a.size,
            files: a.files,
            digest: a.digest,
            created_at: now,
            expires_at: a.expiresAt,
          })
          .returning("id")
          .executeTakeFirstOrThrow();
        return { ok: true, id: Number(row.id), replaces: same ? Number(same.id) : null };
      });
    },

    /** The upload's files are in place: it becomes `ready`, and the artifact it replaces is deleted. */
    async finish(id: number, replaces: number | null): Promise<void> {
      await atomic(db, async (tx) => {
        await tx.updateTable("artifacts").set({ status: "ready" }).where("id", "=", id).execute();
        if (replaces !== null) await tx.deleteFrom("artifacts").where("id", "=", replaces).execute();
      });
    },

    /** Forgets an artifact row (an upload that failed, or one swept). */
    async remove(id: number): Promise<void> {
      await db.deleteFrom("artifacts").where("id", "=", id).execute();
    },

    /** The run's ready, unexpired artifacts, oldest first. */
    async list(runId: number, now = Date.now()): Promise<Artifact[]> {
      const rows = await db
        .selectFrom("artifacts")
        .selectAll()
        .where("run_id", "=", runId)
        .where("status", "=", "ready")
        .where("expires_at", ">", now)
        .orderBy("id")
        .execute();
      return (rows as Row[]).map(toArtifact);
    },

    /** One ready, unexpired artifact of the run by name. */
    async get(runId: number, name: string, now = Date.now()): Promise<Artifact | null> {
      const row = await db
        .selectFrom("artifacts")
        .selectAll()
        .where("run_id", "=", runId)
        .where("name", "=", name)
        .where("status", "=", "ready")
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return row ? toArtifact(row as Row) : null;
    },

    /** Bytes of the run's live artifacts (pending ones included). */
    async usedBytes(runId: number, now = Date.now()): Promise<number> {
      const row = await db
        .selectFrom("artifacts")
        .select((eb) => eb.fn.coalesce(eb.fn.sum("size"), sql<number>`0`).as("bytes"))
        .where("run_id", "=", runId)
        .where((eb) => eb.or([eb("status", "=", "pending"), eb("expires_at", ">", now)]))
        .executeTakeFirst();
      return Number(row?.bytes ?? 0);
    },

    /**
     * What the sweep deletes: expired artifacts, and pending uploads older than `stalePendingMs` (their
     * writer died: a crash or a runner that went away mid-upload).
     */
    async sweepable(now: number, stalePendingMs: number, limit = 500): Promise<Artifact[]> {
      const rows = await db
        .selectFrom("artifacts")
        .selectAll()
        .where((eb) =>
          eb.or([
            eb.and([eb("status", "=", "ready"), eb("expires_at", "<=", now)]),
            eb.and([eb("status", "=", "pending"), eb("created_at", "<", now - stalePendingMs)]),
          ]),
        )
        .orderBy("id")
        .limit(limit)
        .execute();
      return (rows as Row[]).map(toArtifact);
    },

    /** Every artifact id the store knows (ready or pending): the sweep deletes directories of no row. */
    async knownIds(ids: number[]): Promise<Set<number>> {
      if (ids.length === 0) return new Set();
      const rows = await db.selectFrom("artifacts").select("id").where("id", "in", ids).execute();
      return new Set(rows.map((r) => Number(r.id)));
    },
  };
}

export type Artifacts = ReturnType<typeof createArtifacts>;
