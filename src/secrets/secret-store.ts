// The secret store: names validated, values encrypted before they reach the database, metadata out,
// clear values only through `resolve`/`lookup` (for injection into runs and deploys), precedence by
// scope. Works on any store (SQLite file or PostgreSQL).
import { UserError } from "../lib/errors.js";
import type { AuditEntry, SecretMeta, SecretRecord, StoreApi } from "../store/index.js";
import { decryptSecret, encryptSecret } from "./cipher.js";
import type { MasterKey } from "./master-key.js";
import { describeScope, normalizeScope, type SecretScope, scopeRank, validateSecretName } from "./names.js";
import { SecretValue } from "./value.js";

/** Values above this are refused (GitHub's limit is 48 KB; an env var or a small file is the use). */
export const maxSecretBytes = 64 * 1024;

export type SecretInfo = SecretMeta & { scope: string };

export type SetSecretInput = {
  name: string;
  value: string | Uint8Array | SecretValue;
  scope?: SecretScope;
  /** Who: a token's name, or the local user for the CLI. */
  actor: string;
  now?: number;
};

export type SecretStore = {
  /** Undefined when the store was opened without one: listing, removing and the audit log need none. */
  readonly key: MasterKey | undefined;
  set(input: SetSecretInput): Promise<{ created: boolean }>;
  /** Metadata of the secrets, filtered by exact scope when repo/env are given (null: global). */
  list(filter?: { repo?: string | null; env?: string | null }): Promise<SecretInfo[]>;
  /** False when there is no such secret in that exact scope. */
  remove(input: { name: string; scope?: SecretScope; actor: string; now?: number }): Promise<boolean>;
  /**
   * The secrets a run or deploy of `repo` (in environment `env`) sees, by name: for each name the value
   * of the narrowest scope, global < repository < environment < repository + environment.
   */
  resolve(scope?: SecretScope): Promise<Record<string, SecretValue>>;
  /** One name as `resolve` would give it; undefined when no scope defines it. */
  lookup(name: string, scope?: SecretScope): Promise<SecretValue | undefined>;
  /** Throws the wrong-key OperationError when a stored secret was written under another master key. */
  checkKey(): Promise<void>;
  /** The audit log of secret changes, newest first. */
  audit(opts?: { name?: string; limit?: number }): Promise<AuditEntry[]>;
};

/**
 * The secret store over `store`. Without `key`, what needs no decryption works (list, remove, audit) and
 * the rest is a UserError.
 */
export function createSecretStore(store: Pick<StoreApi, "secrets" | "audit">, key?: MasterKey): SecretStore {
  const needKey = (): MasterKey => {
    if (!key)
      throw new UserError(
        "no master key: set SLIPWAY_MASTER_KEY or start the server once to create its key file",
      );
    return key;
  };
  const decrypt = (r: SecretRecord) =>
    new SecretValue(decryptSecret(needKey(), { ciphertext: r.ciphertext, keyId: r.keyId }, r));

  const narrowest = (records: SecretRecord[]): Map<string, SecretRecord> => {
    const chosen = new Map<string, SecretRecord>();
    for (const r of records) {
      const prev = chosen.get(r.name);
      if (!prev || scopeRank(r) > scopeRank(prev)) chosen.set(r.name, r);
    }
    return chosen;
  };

  return {
    key,

    async set(input) {
      const name = validateSecretName(input.name);
      const scope = normalizeScope(input.scope);
      const bytes =
        input.value instanceof SecretValue
          ? input.value.revealBytes()
          : typeof input.value === "string"
            ? Buffer.from(input.value, "utf8")
            : Buffer.from(input.value);
      if (bytes.length === 0) throw new UserError(`secret ${name}: the value is empty`);
      if (bytes.length > maxSecretBytes)
        throw new UserError(
          `secret ${name}: the value has ${bytes.length} bytes; the limit is ${maxSecretBytes}`,
        );
      const encrypted = encryptSecret(needKey(), bytes, { name, ...scope });
      bytes.fill(0);
      return store.secrets.put({ name, ...scope, ...encrypted, actor: input.actor, now: input.now });
    },

    async list(filter = {}) {
      const repo = filter.repo === undefined ? undefined : normalizeScope({ repo: filter.repo }).repo;
      const env = filter.env === undefined ? undefined : normalizeScope({ env: filter.env }).env;
      const rows = await store.secrets.list({ repo, env });
      return rows.map((m) => ({ ...m, scope: describeScope(m) }));
    },

    async remove(input) {
      const name = validateSecretName(input.name);
      return store.secrets.remove({
        name,
        ...normalizeScope(input.scope),
        actor: input.actor,
        now: input.now,
      });
    },

    async resolve(scope = {}) {
      const s = normalizeScope(scope);
      const chosen = narrowest(await store.secrets.applicable(s));
      const out: Record<string, SecretValue> = {};
      for (const [name, r] of [...chosen].sort(([a], [b]) => (a < b ? -1 : 1))) out[name] = decrypt(r);
      return out;
    },

    async lookup(name, scope = {}) {
      const s = normalizeScope(scope);
      const r = narrowest(await store.secrets.applicable({ ...s, name })).get(name);
      return r ? decrypt(r) : undefined;
    },

    async checkKey() {
      const current = needKey();
      const other = (await store.secrets.keyIds()).find((id) => id !== current.fingerprint);
      // decryptSecret words the error; no secret is decrypted for it.
      if (other)
        decryptSecret(current, { ciphertext: "", keyId: other }, { name: "", repo: null, env: null });
    },

    async audit(opts = {}) {
      return store.audit.list({ actionPrefix: "secret.", subject: opts.name, limit: opts.limit });
    },
  };
}

/** The clear values, for the runner's `secrets` (which also registers them with its masker). */
export function revealSecrets(secrets: Record<string, SecretValue>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, v.reveal()]));
}
