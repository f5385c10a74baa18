// Deploy releases, their event log, and the per-environment deploy lock.
//
// A release is one deploy (or rollback) of an app to an environment, numbered 1, 2, 3… per (app, env).
// It is created `running`, may pause and resume, and leaves running|paused once — to succeeded, failed,
// rolled_back or aborted — by a compare-and-set, so a deployer, crash recovery and an abort racing to
// finish it cannot both win. `update` refuses a finished release for the same reason. Its phase is kept
// as it goes, so that a restarted server finds the unfinished ones and resumes or rolls them back.
//
// Events are numbered 1..n per release by a counter on the release row (UPDATE … RETURNING in the same
// transaction as the insert), so concurrent writers, in any process, get distinct seqs without gaps.
//
// The deploy lock is one row per (app, env) with a holder and an expiry: free, expired, or already held
// by the same holder means it can be taken; the holder renews it while deploying and deletes it after.
import { OperationError, UserError } from "../lib/errors.js";
import type { DeployLocksTable, ReleaseEventsTable, ReleasesTable } from "./schema.js";
import { affected, atomic, type Db, defined, fromJson, storableText, toJson } from "./util.js";

export const releaseStatuses = [
  "running",
  "paused",
  "succeeded",
  "failed",
  "rolled_back",
  "aborted",
] as const;
export type ReleaseStatus = (typeof releaseStatuses)[number];
export const finishedReleaseStatuses = [
  "succeeded",
  "failed",
  "rolled_back",
  "aborted",
] as const satisfies readonly ReleaseStatus[];
export type FinishedReleaseStatus = (typeof finishedReleaseStatuses)[number];
const unfinishedStatuses: ReleaseStatus[] = ["running", "paused"];

export const releaseKinds = ["deploy", "rollback"] as const;
export type ReleaseKind = (typeof releaseKinds)[number];
export const releaseEventLevels = ["info", "warn", "error"] as const;
export type ReleaseEventLevel = (typeof releaseEventLevels)[number];

export type ReleaseImage = { image?: string; digest?: string };

export type Release = {
  id: number;
  app: string;
  env: string;
  /** 1, 2, 3… per (app, env), in creation order, never reused. */
  number: number;
  kind: ReleaseKind;
  /** A rollback: the number of the release it went back to. */
  rollbackOf: number | null;
  /** e.g. "v1.3.0", when the deploy came from a tagged release. */
  version: string | null;
  /** Service → strategy name. */
  strategy: Record<string, string> | null;
  specHash: string;
  /** The fully resolved spec; opaque to the store. */
  spec: unknown;
  /** Service → the image deployed (and its digest, once known). */
  images: Record<string, ReleaseImage>;
  /** What started it: "cli", "workflow", "server", "recovery", … */
  trigger: string;
  actor: string;
  status: ReleaseStatus;
  /** Where the deploy is, in the deploy domain's words; kept so a restart can resume it. */
  phase: string;
  error: string | null;
  impact: unknown | null;
  createdAt: number;
  startedAt: number;
  finishedAt: number | null;
  updatedAt: number;
};

export type ReleaseInput = {
  app: string;
  env: string;
  /** Default "deploy". */
  kind?: ReleaseKind;
  rollbackOf?: number | null;
  version?: string | null;
  strategy?: Record<string, string> | null;
  specHash: string;
  spec: unknown;
  images: Record<string, ReleaseImage>;
  trigger: string;
  actor: string;
  /** Default "created". */
  phase?: string;
  now?: number;
};

export type ReleaseFilter = {
  app?: string;
  env?: string;
  status?: ReleaseStatus | ReleaseStatus[];
  /** Default 50, at most 1000. */
  limit?: number;
  /** Cursor: only releases numbered below this one (meaningful with app and env). */
  beforeNumber?: number;
};

export type ReleasePatch = {
  phase?: string;
  /** Pausing and resuming; finishing is `finish`. */
  status?: "running" | "paused";
  images?: Record<string, ReleaseImage>;
  /** The spec as the deploy resolved it further (e.g. per-service revisions, once the lock is held). */
  spec?: unknown;
  specHash?: string;
  impact?: unknown | null;
  error?: string | null;
  now?: number;
};

export type ReleaseFinish = {
  error?: string | null;
  impact?: unknown | null;
  phase?: string;
  now?: number;
};

export type ReleaseEvent = {
  releaseId: number;
  /** 1, 2, 3… per release, in the order they were added. */
  seq: number;
  at: number;
  level: ReleaseEventLevel;
  /** e.g. "instance.started". */
  type: string;
  service: string | null;
  message: string;
  data: unknown | null;
};

export type ReleaseEventInput = {
  /** Default "info". */
  level?: ReleaseEventLevel;
  type: string;
  service?: string | null;
  message: string;
  data?: unknown;
  now?: number;
};

export type DeployLock = {
  app: string;
  env: string;
  holder: string;
  acquiredAt: number;
  expiresAt: number;
  releaseId: number | null;
};

export type DeployLockRequest = {
  app: string;
  env: string;
  /** Who takes it, e.g. "server:host:pid" or "cli:ada@laptop:4711"; shown to whoever is refused. */
  holder: string;
  ttlMs: number;
  releaseId?: number | null;
  now?: number;
};

export type DeployLockResult =
  | { acquired: true }
  | { acquired: false; holder: string; acquiredAt: number; expiresAt: number; releaseId: number | null };

type ReleaseRow = Omit<ReleasesTable, "id" | "event_seq"> & { id: number; event_seq: number };
type EventRow = Omit<ReleaseEventsTable, "id"> & { id: number };

function toRelease(r: ReleaseRow): Release {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    number: r.number,
    kind: r.kind as ReleaseKind,
    rollbackOf: r.rollback_of,
    version: r.version,
    strategy: fromJson<Record<string, string> | null>(r.strategy_json, null),
    specHash: r.spec_hash,
    spec: fromJson<unknown>(r.spec_json, null),
    images: fromJson<Record<string, ReleaseImage>>(r.images_json, {}),
    trigger: r.trigger,
    actor: r.actor,
    status: r.status as ReleaseStatus,
    phase: r.phase,
    error: r.error,
    impact: fromJson<unknown>(r.impact_json, null),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

function toEvent(r: EventRow): ReleaseEvent {
  return {
    releaseId: r.release_id,
    seq: r.seq,
    at: r.at,
    level: r.level as ReleaseEventLevel,
    type: r.type,
    service: r.service,
    message: r.message,
    data: fromJson<unknown>(r.data_json, null),
  };
}

function toLock(r: DeployLocksTable): DeployLock {
  return {
    app: r.app,
    env: r.env,
    holder: r.holder,
    acquiredAt: r.acquired_at,
    expiresAt: r.expires_at,
    releaseId: r.release_id,
  };
}

/** JSON for a nullable column: null and undefined are SQL NULL, not the text "null". */
function nullableJson(value: unknown): string | null {
  return value === null || value === undefined ? null : toJson(value);
}

/** For patches: undefined leaves the column alone, null clears it. */
function patchJson(value: unknown): string | null | undefined {
  return value === undefined ? undefined : nullableJson(value);
}

function patchText(value: string | null | undefined): string | null | undefined {
  return typeof value === "string" ? storableText(value) : value;
}

function requireName(what: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new UserError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireOneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UserError(`${what} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function requireTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== "number" || !Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new UserError(`deploy lock ttlMs must be a positive integer, got ${JSON.stringify(ttlMs)}`);
  }
  return ttlMs;
}

function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  return Math.min(Math.max(Math.trunc(limit ?? fallback), 1), max);
}

export function createReleases(db: Db) {
  return {
    /**
     * Creates a running release with the next number of its (app, env). The number comes from an
     * upsert … RETURNING of the (app, env) counter in the same transaction as the insert (BEGIN
     * IMMEDIATE on SQLite, a row lock on PostgreSQL), so concurrent creates in any process get distinct,
     * increasing numbers and a rolled-back create gives its number back.
     */
    async create(input: ReleaseInput): Promise<Release> {
      const app = requireName("release app", input.app);
      const env = requireName("release env", input.env);
      const kind = requireOneOf("release kind", input.kind ?? "deploy", releaseKinds);
      if (input.rollbackOf != null && !(Number.isInteger(input.rollbackOf) && input.rollbackOf > 0)) {
        throw new UserError(`release rollbackOf must be a release number, got ${input.rollbackOf}`);
      }
      const now = input.now ?? Date.now();
      return atomic(db, async (tx) => {
        const counter = await tx
          .insertInto("release_counters")
          .values({ app, env, last_number: 1 })
          .onConflict((oc) =>
            oc.columns(["app", "env"]).doUpdateSet((eb) => ({
              last_number: eb("release_counters.last_number", "+", 1),
            })),
          )
          .returning("last_number")
          .executeTakeFirstOrThrow();
        const row = await tx
          .insertInto("releases")
          .values({
            app,
            env,
            number: counter.last_number,
            kind,
            rollback_of: input.rollbackOf ?? null,
            version: input.version ?? null,
            strategy_json: nullableJson(input.strategy),
            spec_hash: input.specHash,
            spec_json: toJson(input.spec),
            images_json: toJson(input.images ?? {}),
            trigger: input.trigger,
            actor: input.actor,
            status: "running",
            phase: input.phase ?? "created",
            error: null,
            impact_json: null,
            created_at: now,
            started_at: now,
            finished_at: null,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toRelease(row);
      });
    },

    async get(id: number): Promise<Release | undefined> {
      const row = await db.selectFrom("releases").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRelease(row) : undefined;
    },

    async byNumber(app: string, env: string, number: number): Promise<Release | undefined> {
      const row = await db
        .selectFrom("releases")
        .selectAll()
        .where("app", "=", app)
        .where("env", "=", env)
        .where("number", "=", number)
        .executeTakeFirst();
      return row ? toRelease(row) : undefined;
    },

    /** Newest first. */
    async list(filter: ReleaseFilter = {}): Promise<Release[]> {
      let q = db.selectFrom("releases").selectAll();
      if (filter.app !== undefined) q = q.where("app", "=", filter.app);
      if (filter.env !== undefined) q = q.where("env", "=", filter.env);
      if (filter.status !== undefined) {
        const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
        if (statuses.length === 0) return [];
        q = q.where("status", "in", statuses);
      }
      if (filter.beforeNumber !== undefined) q = q.where("number", "<", filter.beforeNumber);
      const rows = await q
        .orderBy("id", "desc")
        .limit(clampLimit(filter.limit, 50, 1000))
        .execute();
      return rows.map(toRelease);
    },

    /** The newest succeeded release of (app, env): what should be running there. */
    async current(app: string, env: string): Promise<Release | undefined> {
      const row = await db
        .selectFrom("releases")
        .selectAll()
        .where("app", "=", app)
        .where("env", "=", env)
        .where("status", "=", "succeeded")
        .orderBy("number", "desc")
        .limit(1)
        .executeTakeFirst();
      return row ? toRelease(row) : undefined;
    },

    /** Running or paused releases, oldest first: what crash recovery resumes or rolls back. */
    async unfinished(filter: { app?: string; env?: string } = {}): Promise<Release[]> {
      let q = db.selectFrom("releases").selectAll().where("status", "in", unfinishedStatuses);
      if (filter.app !== undefined) q = q.where("app", "=", filter.app);
      if (filter.env !== undefined) q = q.where("env", "=", filter.env);
      const rows = await q.orderBy("id").execute();
      return rows.map(toRelease);
    },

    /**
     * Sets the fields named in `patch` (and updatedAt) while the release is running or paused. False when
     * there is no such release or it has finished: a finished release is history and stays as it ended.
     */
    async update(id: number, patch: ReleasePatch): Promise<boolean> {
      if (patch.status !== undefined) requireOneOf("release update status", patch.status, unfinishedStatuses);
      const set = defined({
        phase: patch.phase,
        status: patch.status,
        images_json: patch.images === undefined ? undefined : toJson(patch.images),
        spec_json: patch.spec === undefined ? undefined : toJson(patch.spec),
        spec_hash: patch.specHash,
        impact_json: patchJson(patch.impact),
        error: patchText(patch.error),
      });
      const r = await db
        .updateTable("releases")
        .set({ ...set, updated_at: patch.now ?? Date.now() })
        .where("id", "=", id)
        .where("status", "in", unfinishedStatuses)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /**
     * Ends the release with `status`: a compare-and-set from running|paused, so of several racing
     * finishers exactly one gets true; the others (and any later call) get false and change nothing.
     */
    async finish(id: number, status: FinishedReleaseStatus, extra: ReleaseFinish = {}): Promise<boolean> {
      requireOneOf("release finish status", status, finishedReleaseStatuses);
      const now = extra.now ?? Date.now();
      const set = defined({
        phase: extra.phase,
        error: patchText(extra.error),
        impact_json: patchJson(extra.impact),
      });
      const r = await db
        .updateTable("releases")
        .set({ ...set, status, finished_at: now, updated_at: now })
        .where("id", "=", id)
        .where("status", "in", unfinishedStatuses)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /**
     * Appends an event with the release's next seq. The seq comes from an UPDATE … RETURNING of the
     * release's counter in the same transaction as the insert, so concurrent adds get distinct seqs.
     * Events may be added after the release finished (a late "instance.stopped"). A release that does
     * not exist is a UserError.
     */
    async addEvent(releaseId: number, input: ReleaseEventInput): Promise<ReleaseEvent> {
      const level = requireOneOf("release event level", input.level ?? "info", releaseEventLevels);
      const type = requireName("release event type", input.type);
      const at = input.now ?? Date.now();
      return atomic(db, async (tx) => {
        const counter = await tx
          .updateTable("releases")
          .set((eb) => ({ event_seq: eb("event_seq", "+", 1) }))
          .where("id", "=", releaseId)
          .returning("event_seq")
          .executeTakeFirst();
        if (!counter) throw new UserError(`no release with id ${releaseId}`);
        const row = await tx
          .insertInto("release_events")
          .values({
            release_id: releaseId,
            seq: counter.event_seq,
            at,
            level,
            type,
            service: input.service ?? null,
            message: storableText(input.message),
            data_json: nullableJson(input.data),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toEvent(row);
      });
    },

    /** Events in seq order; `afterSeq` for the next page or to follow a live deploy. Default limit 1000. */
    async events(
      releaseId: number,
      opts: { afterSeq?: number; limit?: number } = {},
    ): Promise<ReleaseEvent[]> {
      let q = db.selectFrom("release_events").selectAll().where("release_id", "=", releaseId);
      if (opts.afterSeq !== undefined) q = q.where("seq", ">", opts.afterSeq);
      const rows = await q
        .orderBy("seq")
        .limit(clampLimit(opts.limit, 1000, 10_000))
        .execute();
      return rows.map(toEvent);
    },
  };
}

/** Attempts at acquire before giving up; only a lock released between two statements costs one. */
const acquireAttempts = 3;

export function createDeployLocks(db: Db) {
  return {
    /**
     * Takes the (app, env) lock for `ttlMs` when it is free, expired, or already held by `holder` (which
     * extends it, keeping its acquiredAt). Otherwise says who holds it, since when and until when.
     *
     * One upsert decides: INSERT … ON CONFLICT DO UPDATE … WHERE (expired or same holder). When the WHERE
     * refuses, PostgreSQL still locks the row, and SQLite holds the write lock, so reading the holder
     * afterwards in the same transaction shows the one that refused us.
     */
    async acquire(req: DeployLockRequest): Promise<DeployLockResult> {
      const app = requireName("deploy lock app", req.app);
      const env = requireName("deploy lock env", req.env);
      const holder = requireName("deploy lock holder", req.holder);
      const ttlMs = requireTtl(req.ttlMs);
      const now = req.now ?? Date.now();
      for (let attempt = 1; attempt <= acquireAttempts; attempt++) {
        const result = await atomic(db, async (tx): Promise<DeployLockResult | undefined> => {
          const taken = await tx
            .insertInto("deploy_locks")
            .values({
              app,
              env,
              holder,
              acquired_at: now,
              expires_at: now + ttlMs,
              release_id: req.releaseId ?? null,
            })
            .onConflict((oc) =>
              oc
                .columns(["app", "env"])
                .doUpdateSet((eb) => {
                  const stillOurs = eb.and([
                    eb("deploy_locks.holder", "=", eb.ref("excluded.holder")),
                    eb("deploy_locks.expires_at", ">", now),
                  ]);
                  return {
                    holder: eb.ref("excluded.holder"),
                    acquired_at: eb
                      .case()
                      .when(stillOurs)
                      .then(eb.ref("deploy_locks.acquired_at"))
                      .else(eb.ref("excluded.acquired_at"))
                      .end(),
                    expires_at: eb.ref("excluded.expires_at"),
                    // Re-acquiring without naming a release keeps the one the holder attached before.
                    release_id:
                      req.releaseId != null
                        ? eb.ref("excluded.release_id")
                        : eb.case().when(stillOurs).then(eb.ref("deploy_locks.release_id")).else(null).end(),
                  };
                })
                .where((eb) =>
                  eb.or([
                    eb("deploy_locks.expires_at", "<=", now),
                    eb("deploy_locks.holder", "=", eb.ref("excluded.holder")),
                  ]),
                ),
            )
            .returning("holder")
            .executeTakeFirst();
          if (taken) return { acquired: true };
          const other = await tx
            .selectFrom("deploy_locks")
            .selectAll()
            .where("app", "=", app)
            .where("env", "=", env)
            .executeTakeFirst();
          if (!other) return undefined;
          return {
            acquired: false,
            holder: other.holder,
            acquiredAt: other.acquired_at,
            expiresAt: other.expires_at,
            releaseId: other.release_id,
          };
        });
        if (result) return result;
      }
      throw new OperationError(`could not acquire the deploy lock of ${app}/${env}: it kept changing hands`);
    },

    /**
     * Extends the lock to now + ttlMs; false when `holder` no longer holds it (someone else took it over
     * after it expired, or it was released). A lock that expired but was not taken is still the holder's.
     */
    async renew(req: Omit<DeployLockRequest, "releaseId">): Promise<boolean> {
      const ttlMs = requireTtl(req.ttlMs);
      const r = await db
        .updateTable("deploy_locks")
        .set({ expires_at: (req.now ?? Date.now()) + ttlMs })
        .where("app", "=", req.app)
        .where("env", "=", req.env)
        .where("holder", "=", req.holder)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Releases the lock; false when `holder` does not hold it (nothing is changed then). */
    async release(req: { app: string; env: string; holder: string }): Promise<boolean> {
      const r = await db
        .deleteFrom("deploy_locks")
        .where("app", "=", req.app)
        .where("env", "=", req.env)
        .where("holder", "=", req.holder)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** The lock in force on (app, env); undefined when there is none or it has expired (it is free). */
    async get(app: string, env: string, now = Date.now()): Promise<DeployLock | undefined> {
      const row = await db
        .selectFrom("deploy_locks")
        .selectAll()
        .where("app", "=", app)
        .where("env", "=", env)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return row ? toLock(row) : undefined;
    },
  };
}

export type Releases = ReturnType<typeof createReleases>;
export type DeployLocks = ReturnType<typeof createDeployLocks>;
