// Dashboard sessions: a browser signs in with an API token once and then holds a random session id in an
// HttpOnly cookie. Only the id's SHA-256 is stored (like tokens), so a database dump opens no session.
// A session is the token's identity: revoking the token ends its sessions at once (the join below), and
// every session expires.
import { hashToken, newToken } from "./secret-tokens.js";
import type { Role, TokenIdentity } from "./tokens.js";
import { roles } from "./tokens.js";
import type { Db } from "./util.js";

export const sessionPrefix = "sws_";

export type IssuedSession = { id: string; expiresAt: number; identity: TokenIdentity };

export function createSessions(db: Db) {
  return {
    /** A new session for the token `tokenId`, valid for `ttlMs`; expired sessions are dropped on the way. */
    async create(tokenId: number, ttlMs: number, now = Date.now()): Promise<string> {
      await db.deleteFrom("sessions").where("expires_at", "<=", now).execute();
      const id = newToken(sessionPrefix);
      await db
        .insertInto("sessions")
        .values({ hash: hashToken(id), token_id: tokenId, created_at: now, expires_at: now + ttlMs })
        .execute();
      return id;
    },

    /** The identity behind a session id, or null when it is unknown, expired, or its token was revoked. */
    async verify(id: string, now = Date.now()): Promise<TokenIdentity | null> {
      if (!id.startsWith(sessionPrefix)) return null;
      const row = await db
        .selectFrom("sessions")
        .innerJoin("tokens", "tokens.id", "sessions.token_id")
        .select(["tokens.id as id", "tokens.name as name", "tokens.role as role"])
        .where("sessions.hash", "=", hashToken(id))
        .where("sessions.expires_at", ">", now)
        .where("tokens.revoked_at", "is", null)
        .executeTakeFirst();
      if (!row || !roles.includes(row.role as Role)) return null;
      return { id: row.id, name: row.name, role: row.role as Role };
    },

    /** Ends a session (logout). Unknown ids are ignored. */
    async delete(id: string): Promise<void> {
      await db.deleteFrom("sessions").where("hash", "=", hashToken(id)).execute();
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
