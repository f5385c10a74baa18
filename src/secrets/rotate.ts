// Rotating the master key: every value sealed under the old key — the secret store, the repositories'
// webhook secrets, the secrets sealed inside queued job specs — is opened and sealed again under the new
// key in ONE transaction, so the database never mixes keys: either everything is under the new key, or
// (on any error) nothing changed. The key files are the caller's (see `rotateMasterKeyFile`).
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import { OperationError, UserError } from "../lib/errors.js";
import type { Store, StoreApi } from "../store/index.js";
import { decryptSecret, type EncryptedSecret, encryptSecret, forgeTokenBinding } from "./cipher.js";
import { MasterKey, masterKeyFileName } from "./master-key.js";
import { openWebhookSecret, sealWebhookSecret, webhookSecretKeyId } from "./webhook-secret.js";

export type RotationCounts = {
  secrets: number;
  webhookSecrets: number;
  jobSpecs: number;
  forgeTokens: number;
};

type SealedSpec = { sealedSecrets?: EncryptedSecret } & Record<string, unknown>;

/** Re-encrypts every sealed value from `from` to `to` inside `tx`; throws (nothing changed) on any value that does not open. */
export async function resealAll(
  tx: StoreApi,
  from: MasterKey,
  to: MasterKey,
  actor: string,
): Promise<RotationCounts> {
  const counts: RotationCounts = { secrets: 0, webhookSecrets: 0, jobSpecs: 0, forgeTokens: 0 };
  for (const r of await tx.secrets.all()) {
    const clear = decryptSecret(from, { ciphertext: r.ciphertext, keyId: r.keyId }, r);
    const e = encryptSecret(to, clear, r);
    clear.fill(0);
    await tx.secrets.reseal({ name: r.name, repo: r.repo, env: r.env, ...e });
    counts.secrets++;
  }
  for (const repo of await tx.repos.list()) {
    const stored = await tx.repos.webhookSecret(repo.id);
    if (stored === null || stored === "") continue;
    // A clear one (from before sealing) is sealed now too.
    if (webhookSecretKeyId(stored) === to.fingerprint) continue;
    const clear = openWebhookSecret(from, repo.name, stored);
    await tx.repos.update(repo.id, { webhookSecret: sealWebhookSecret(to, repo.name, clear) });
    counts.webhookSecrets++;
  }
  // Repositories' forge tokens (src/forge), bound to their repository's name.
  for (const t of await tx.forge.tokens()) {
    const repo = await tx.repos.get(t.repoId);
    if (!repo) continue;
    const binding = forgeTokenBinding(repo.name);
    const clear = decryptSecret(from, t, binding);
    await tx.forge.reseal(t.repoId, encryptSecret(to, clear, binding));
    clear.fill(0);
    counts.forgeTokens++;
  }
  // Queued legs carry their secrets sealed (ci: `job-spec:<job key>` bound to the run id).
  const jobs = await tx.db
    .selectFrom("jobs")
    .select(["id", "run_id", "job_key", "spec_json"])
    .where("spec_json", "like", '%"sealedSecrets"%')
    .execute();
  for (const job of jobs) {
    const spec = JSON.parse(job.spec_json ?? "null") as SealedSpec | null;
    if (!spec?.sealedSecrets) continue;
    const binding = { name: `job-spec:${job.job_key}`, repo: String(job.run_id), env: null };
    const clear = decryptSecret(from, spec.sealedSecrets, binding);
    spec.sealedSecrets = encryptSecret(to, clear, binding);
    clear.fill(0);
    await tx.db
      .updateTable("jobs")
      .set({ spec_json: JSON.stringify(spec) })
      .where("id", "=", job.id)
      .execute();
    counts.jobSpecs++;
  }
  await tx.audit.append({
    actor,
    action: "secret.rotate-key",
    subject: "master-key",
    detail: { from: from.fingerprint, to: to.fingerprint, ...counts },
  });
  return counts;
}

/**
 * SQLite keeps replaced rows in free pages and in the write-ahead log until they are reused: after
 * values were re-sealed (or clear ones sealed), their old bytes could still be read from the files.
 * VACUUM rewrites the database without free pages and the checkpoint empties the log. PostgreSQL's
 * dead rows are its own to reclaim (VACUUM there does not promise to overwrite them).
 */
export async function scrubReplacedValues(store: Pick<StoreApi, "db" | "dialect">): Promise<void> {
  if (store.dialect !== "sqlite") return;
  await sql`VACUUM`.execute(store.db);
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
}

function writePrivateFile(file: string, text: string): void {
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export type RotateResult = RotationCounts & {
  from: string;
  to: string;
  /** The new key file and where the old key was kept. */
  keyFile: string;
  oldKeyFile: string;
};

/**
 * Rotates the master key kept in `<dataDir>/master.key`: a new random key is written to
 * `master.key.new` (0600) first, every sealed value is re-encrypted under it in one transaction, then
 * the old key is kept as `master.key.old` (0600, until the operator removes it) and the new one takes
 * the name `master.key`. A crash before the commit leaves the old key in force (`master.key.new` is
 * stale); after the commit and before the renames, the data directory holds both files and a start
 * names the fingerprint it needs. The server must be stopped: it holds the old key in memory.
 */
export async function rotateMasterKeyFile(
  store: Store,
  dataDir: string,
  current: MasterKey,
  actor: string,
): Promise<RotateResult> {
  const keyFile = join(dataDir, masterKeyFileName);
  const oldKeyFile = `${keyFile}.old`;
  const newKeyFile = `${keyFile}.new`;
  if (current.source !== keyFile)
    throw new UserError(
      `the master key comes from ${current.source}, not from ${keyFile}: rotate-key rotates the key file only`,
    );
  if (existsSync(oldKeyFile))
    throw new UserError(
      `${oldKeyFile} exists from an earlier rotation: check that nothing needs it (every secret opens with the current key), remove it, and run rotate-key again`,
    );
  if (existsSync(newKeyFile)) unlinkSync(newKeyFile); // left by a rotation that did not commit
  const bytes = randomBytes(32);
  const next = new MasterKey(bytes, keyFile);
  writePrivateFile(newKeyFile, `${bytes.toString("base64")}\n`);
  bytes.fill(0);
  let counts: RotationCounts;
  try {
    counts = await store.transaction((tx) => resealAll(tx, current, next, actor));
  } catch (err) {
    unlinkSync(newKeyFile);
    if (err instanceof UserError || err instanceof OperationError) throw err;
    throw new OperationError(
      `rotating the master key failed; nothing was changed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  linkSync(keyFile, oldKeyFile);
  renameSync(newKeyFile, keyFile);
  await scrubReplacedValues(store);
  return { ...counts, from: current.fingerprint, to: next.fingerprint, keyFile, oldKeyFile };
}
