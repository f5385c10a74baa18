// The per-environment deploy lock: one row per (app, env) with a holder and an expiry. Free, expired, or
// already held by the same holder means it can be taken; the holder renews it while deploying and
// deletes it after.
import { OperationError, UserError } from "../lib/errors.js";
import { requireName } from "./release-fields.js";
import type { DeployLocksTable } from "./schema.js";
import { affected, atomic, type Db } from "./util.js";

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

function requireTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== "number" || !Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new UserError(`deploy lock ttlMs must be a positive integer, got ${JSON.stringify(ttlMs)}`);
  }
  return ttlMs;
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

export type DeployLocks = ReturnType<typeof createDeployLocks>;
