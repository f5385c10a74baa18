// API tokens for people and automation, each with one role.
import { ConflictError, UserError } from "../lib/errors.js";
import { checkName } from "./names.js";
import { hashToken, newToken } from "./secret-tokens.js";
import { affected, atomic, type Db } from "./util.js";

/** Ordered: each role can do what the ones before it can. */
export const roles = ["viewer", "developer", "deployer", "admin"] as const;
export type Role = (typeof roles)[number];

/** Whether `role` is at least `required`. */
export function roleAllows(role: Role, required: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(required);
}

export const apiTokenPrefix = "slw_";

export type TokenInfo = {
  id: number;
  name: string;
  role: Role;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
};

/** The clear token is returned here and nowhere else. */
export type IssuedToken = TokenInfo & { token: string };

export type TokenIdentity = { id: number; name: string; role: Role };

/**
 * Revoking the last active admin token would leave no way to administer the server through the API:
 * refused (the HTTP API answers 409). `slipway serve --reset-admin-token` is the way back in.
 */
export class LastAdminTokenError extends ConflictError {
  constructor(id: number) {
    super(`token ${id} is the last active admin token: create another admin token before revoking it`);
    this.name = "LastAdminTokenError";
  }
}

/** last_used_at is refreshed at most this often, so verifying is not a write per request. */
const lastUsedResolutionMs = 60_000;

export function createTokens(db: Db) {
  return {
    async create(name: string, role: Role, now = Date.now()): Promise<IssuedToken> {
      if (!roles.includes(role))
        throw new UserError(`unknown role "${role}"; use one of ${roles.join(", ")}`);
      checkName("token name", name);
      const token = newToken(apiTokenPrefix);
      const row = await db
        .insertInto("tokens")
        .values({ name, role, hash: hashToken(token), created_at: now, last_used_at: null, revoked_at: null })
        .returning("id")
        .executeTakeFirstOrThrow();
      return { id: row.id, name, role, createdAt: now, lastUsedAt: null, revokedAt: null, token };
    },

    /** The token's identity, or null when it is unknown or revoked. */
    async verify(token: string, now = Date.now()): Promise<TokenIdentity | null> {
      if (!token.startsWith(apiTokenPrefix)) return null;
      const row = await db
        .selectFrom("tokens")
        .select(["id", "name", "role"])
        .where("hash", "=", hashToken(token))
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (!row || !roles.includes(row.role as Role)) return null;
      await db
        .updateTable("tokens")
        .set({ last_used_at: now })
        .where("id", "=", row.id)
        .where((eb) =>
          eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", now - lastUsedResolutionMs)]),
        )
        .execute();
      return { id: row.id, name: row.name, role: row.role as Role };
    },

    /**
     * False when there is no such token or it was already revoked; a LastAdminTokenError when it is the
     * last active admin token. The active admin rows are locked first (a no-op write), so two revokes
     * racing for the last two admin tokens run one after the other and the second is refused.
     */
    async revoke(id: number, now = Date.now()): Promise<boolean> {
      return atomic(db, async (tx) => {
        await tx
          .updateTable("tokens")
          .set({ role: "admin" })
          .where("role", "=", "admin")
          .where("revoked_at", "is", null)
          .execute();
        const row = await tx
          .selectFrom("tokens")
          .select(["role", "revoked_at"])
          .where("id", "=", id)
          .executeTakeFirst();
        if (!row || row.revoked_at !== null) return false;
        if (row.role === "admin") {
          const admins = await tx
            .selectFrom("tokens")
            .select((eb) => eb.fn.countAll().as("n"))
            .where("role", "=", "admin")
            .where("revoked_at", "is", null)
            .executeTakeFirst();
          if (Number(admins?.n ?? 0) <= 1) throw new LastAdminTokenError(id);
        }
        const r = await tx
          .updateTable("tokens")
          .set({ revoked_at: now })
          .where("id", "=", id)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        return affected(r) > 0;
      });
    },

    /**
     * A new admin token (the recovery path of `slipway serve --reset-admin-token`); nothing is revoked.
     */
    async resetAdmin(now = Date.now()): Promise<IssuedToken> {
      return this.create(`admin-reset-${new Date(now).toISOString().slice(0, 19)}`, "admin", now);
    },

    /** Every token, revoked ones included; never the hashes. */
    async list(): Promise<TokenInfo[]> {
      const rows = await db
        .selectFrom("tokens")
        .select(["id", "name", "role", "created_at", "last_used_at", "revoked_at"])
        .orderBy("id")
        .execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        role: r.role as Role,
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
        revokedAt: r.revoked_at,
      }));
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
