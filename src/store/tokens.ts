// API tokens for people and automation, each with one role.
import { UserError } from "../lib/errors.js";
import { hashToken, newToken } from "./secret-tokens.js";
import { affected, type Db } from "./util.js";

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

/** last_used_at is refreshed at most this often, so verifying is not a write per request. */
const lastUsedResolutionMs = 60_000;

export function createTokens(db: Db) {
  return {
    async create(name: string, role: Role, now = Date.now()): Promise<IssuedToken> {
      if (!roles.includes(role))
        throw new UserError(`unknown role "${role}"; use one of ${roles.join(", ")}`);
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

    /** False when there is no such token or it was already revoked. */
    async revoke(id: number, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("tokens")
        .set({ revoked_at: now })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return affected(r) > 0;
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
