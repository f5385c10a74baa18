// Encrypted secrets, by name and scope. This module stores and finds ciphertexts; encryption, name rules
// and precedence live in the secrets domain. Every change writes an audit entry in the same transaction,
// so no caller can change a secret without leaving a trace.
import { createAudit } from "./audit.js";
import { affected, atomic, type Db } from "./util.js";

/** A scope: null repo/env means "any". Stored as '' so that (repo, env, name) can be unique. */
export type SecretScopeKey = { repo: string | null; env: string | null };

export type SecretMeta = {
  name: string;
  repo: string | null;
  env: string | null;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  updatedBy: string;
};

/** A stored secret with its ciphertext: for the secrets domain only, never for an API response. */
export type SecretRecord = SecretMeta & { ciphertext: string; keyId: string };

export type SecretPut = SecretScopeKey & {
  name: string;
  ciphertext: string;
  keyId: string;
  actor: string;
  now?: number;
};

export type SecretFilter = {
  /** A repository's secrets, or null for those of no repository; undefined: any. */
  repo?: string | null;
  env?: string | null;
  name?: string;
};

const stored = (v: string | null | undefined) => v ?? "";
const loaded = (v: string) => (v === "" ? null : v);

type Row = {
  name: string;
  repo: string;
  env: string;
  created_at: number;
  created_by: string;
  updated_at: number;
  updated_by: string;
};

function meta(r: Row): SecretMeta {
  return {
    name: r.name,
    repo: loaded(r.repo),
    env: loaded(r.env),
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

const metaColumns = ["name", "repo", "env", "created_at", "created_by", "updated_at", "updated_by"] as const;

export function createSecrets(db: Db) {
  return {
    /** Creates or replaces the secret; `created` tells which. Audited as `secret.set`. */
    async put(input: SecretPut): Promise<{ created: boolean }> {
      const now = input.now ?? Date.now();
      const repo = stored(input.repo);
      const env = stored(input.env);
      return atomic(db, async (tx) => {
        const existing = await tx
          .selectFrom("secrets")
          .select("id")
          .where("name", "=", input.name)
          .where("repo", "=", repo)
          .where("env", "=", env)
          .executeTakeFirst();
        await tx
          .insertInto("secrets")
          .values({
            name: input.name,
            repo,
            env,
            ciphertext: input.ciphertext,
            key_id: input.keyId,
            created_at: now,
            created_by: input.actor,
            updated_at: now,
            updated_by: input.actor,
          })
          .onConflict((oc) =>
            oc.columns(["repo", "env", "name"]).doUpdateSet({
              ciphertext: input.ciphertext,
              key_id: input.keyId,
              updated_at: now,
              updated_by: input.actor,
            }),
          )
          .execute();
        const created = !existing;
        await createAudit(tx).append({
          actor: input.actor,
          action: "secret.set",
          subject: input.name,
          repo: input.repo,
          env: input.env,
          detail: { created },
          now,
        });
        return { created };
      });
    },

    /** False when there is no such secret (and nothing is audited). Audited as `secret.remove`. */
    async remove(input: SecretScopeKey & { name: string; actor: string; now?: number }): Promise<boolean> {
      return atomic(db, async (tx) => {
        const r = await tx
          .deleteFrom("secrets")
          .where("name", "=", input.name)
          .where("repo", "=", stored(input.repo))
          .where("env", "=", stored(input.env))
          .executeTakeFirst();
        if (affected(r) === 0) return false;
        await createAudit(tx).append({
          actor: input.actor,
          action: "secret.remove",
          subject: input.name,
          repo: input.repo,
          env: input.env,
          now: input.now,
        });
        return true;
      });
    },

    /** Metadata only, ordered by repo, env, name ("any" first). */
    async list(filter: SecretFilter = {}): Promise<SecretMeta[]> {
      let q = db.selectFrom("secrets").select(metaColumns);
      if (filter.repo !== undefined) q = q.where("repo", "=", stored(filter.repo));
      if (filter.env !== undefined) q = q.where("env", "=", stored(filter.env));
      if (filter.name !== undefined) q = q.where("name", "=", filter.name);
      const rows = await q.orderBy("repo").orderBy("env").orderBy("name").execute();
      return rows.map(meta);
    },

    /** The secret of exactly this scope, with its ciphertext. */
    async get(input: SecretScopeKey & { name: string }): Promise<SecretRecord | null> {
      const r = await db
        .selectFrom("secrets")
        .select([...metaColumns, "ciphertext", "key_id"])
        .where("name", "=", input.name)
        .where("repo", "=", stored(input.repo))
        .where("env", "=", stored(input.env))
        .executeTakeFirst();
      return r ? { ...meta(r), ciphertext: r.ciphertext, keyId: r.key_id } : null;
    },

    /**
     * Every secret that applies to a run or deploy of `repo` (in environment `env`): those of any
     * repository or of this one, of any environment or of this one. Precedence is the caller's.
     */
    async applicable(input: {
      repo?: string | null;
      env?: string | null;
      name?: string;
    }): Promise<SecretRecord[]> {
      let q = db
        .selectFrom("secrets")
        .select([...metaColumns, "ciphertext", "key_id"])
        .where("repo", "in", [...new Set(["", stored(input.repo)])])
        .where("env", "in", [...new Set(["", stored(input.env)])]);
      if (input.name !== undefined) q = q.where("name", "=", input.name);
      const rows = await q.orderBy("name").execute();
      return rows.map((r) => ({ ...meta(r), ciphertext: r.ciphertext, keyId: r.key_id }));
    },

    /** Every secret with its ciphertext: for re-encrypting them all under a new master key. */
    async all(): Promise<SecretRecord[]> {
      const rows = await db
        .selectFrom("secrets")
        .select([...metaColumns, "ciphertext", "key_id"])
        .orderBy("id")
        .execute();
      return rows.map((r) => ({ ...meta(r), ciphertext: r.ciphertext, keyId: r.key_id }));
    },

    /**
     * Replaces the ciphertext of one secret with the same value under another key (a key rotation):
     * who changed the value and when are kept, and the caller audits the rotation once.
     */
    async reseal(
      input: SecretScopeKey & { name: string; ciphertext: string; keyId: string },
    ): Promise<boolean> {
      const r = await db
        .updateTable("secrets")
        .set({ ciphertext: input.ciphertext, key_id: input.keyId })
        .where("name", "=", input.name)
        .where("repo", "=", stored(input.repo))
        .where("env", "=", stored(input.env))
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** The fingerprints of the master keys the stored secrets were encrypted with. */
    async keyIds(): Promise<string[]> {
      const rows = await db.selectFrom("secrets").select("key_id").distinct().orderBy("key_id").execute();
      return rows.map((r) => r.key_id);
    },
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
