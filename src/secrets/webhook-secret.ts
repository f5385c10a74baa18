// Repository webhook secrets at rest. They are shared HMAC keys (verifying a signature needs the clear
// value, so they cannot be hashed like tokens); anyone holding one can forge signed webhooks, so the
// database holds them only sealed under the master key, like every other secret. Stored as
// `sealed:<key fingerprint>:<ciphertext>` in the repository's row; a value without that prefix is a
// clear value from before sealing, sealed in place by `sealClearWebhookSecrets` at the server's start.
import { OperationError } from "../lib/errors.js";
import type { StoreApi } from "../store/index.js";
import { decryptSecret, type EncryptedSecret, encryptSecret, type SecretBinding } from "./cipher.js";
import type { MasterKey } from "./master-key.js";

const sealedPrefix = "sealed:";

/** The ciphertext is bound to the repository's name: copied onto another repository's row it does not open. */
function bindingOf(repoName: string): SecretBinding {
  return { name: "webhook-secret", repo: repoName, env: null };
}

export function isSealedWebhookSecret(stored: string): boolean {
  return stored.startsWith(sealedPrefix);
}

/** The stored form of a repository's webhook secret. */
export function sealWebhookSecret(key: MasterKey, repoName: string, secret: string): string {
  const e = encryptSecret(key, Buffer.from(secret, "utf8"), bindingOf(repoName));
  return `${sealedPrefix}${e.keyId}:${e.ciphertext}`;
}

function parseSealed(stored: string): EncryptedSecret {
  const rest = stored.slice(sealedPrefix.length);
  const colon = rest.indexOf(":");
  return { keyId: rest.slice(0, colon), ciphertext: rest.slice(colon + 1) };
}

/** The fingerprint of the key a stored webhook secret is sealed with; undefined for a clear one. */
export function webhookSecretKeyId(stored: string): string | undefined {
  return isSealedWebhookSecret(stored) ? parseSealed(stored).keyId : undefined;
}

/**
 * The clear webhook secret from its stored form. A clear (not yet sealed) value is returned as it is;
 * a sealed one without a key, under another key, or altered is an OperationError.
 */
export function openWebhookSecret(key: MasterKey | undefined, repoName: string, stored: string): string {
  if (!isSealedWebhookSecret(stored)) return stored;
  if (!key)
    throw new OperationError(`the webhook secret of ${repoName} is sealed, but no master key was given`);
  return decryptSecret(key, parseSealed(stored), bindingOf(repoName)).toString("utf8");
}

/**
 * Seals every webhook secret still stored in clear (written before secrets were sealed). Returns the
 * names of the repositories whose secret it sealed.
 */
export async function sealClearWebhookSecrets(
  store: Pick<StoreApi, "repos">,
  key: MasterKey,
): Promise<string[]> {
  const sealed: string[] = [];
  for (const repo of await store.repos.list()) {
    const stored = await store.repos.webhookSecret(repo.id);
    if (stored === null || stored === "" || isSealedWebhookSecret(stored)) continue;
    await store.repos.update(repo.id, { webhookSecret: sealWebhookSecret(key, repo.name, stored) });
    sealed.push(repo.name);
  }
  return sealed;
}
