// Deploy releases: recording one (create, update, finish) and reading the history.
//
// A release is one deploy (or rollback) of an app to an environment, numbered 1, 2, 3… per (app, env).
// It is created `running`, may pause and resume, and leaves running|paused once — to succeeded, failed,
// rolled_back or aborted — by a compare-and-set, so a deployer, crash recovery and an abort racing to
// finish it cannot both win. `update` refuses a finished release for the same reason. Its phase is kept
// as it goes, so that a restarted server finds the unfinished ones and resumes or rolls them back.
//
// Their event log is release-events.ts (reached through the same `store.releases`); the
// per-environment deploy lock is deploy-locks.ts.
import { UserError } from "../lib/errors.js";
import { createReleaseEvents } from "./release-events.js";
import {
  clampLimit,
  nullableJson,
  patchJson,
  patchText,
  requireName,
  requireOneOf,
} from "./release-fields.js";
import type { ReleasesTable } from "./schema.js";
import { affected, atomic, type Db, defined, fromJson, toJson } from "./util.js";

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

type ReleaseRow = Omit<ReleasesTable, "id" | "event_seq"> & { id: number; event_seq: number };
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

    ...createReleaseEvents(db),
  };
}

export type Releases = ReturnType<typeof createReleases>;
