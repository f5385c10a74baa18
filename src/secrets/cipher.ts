// Secret values at rest: AES-256-GCM under the master key, a fresh 12-byte IV per value, the 16-byte
// tag authenticating both the ciphertext and the secret's name and scope (so a ciphertext copied onto
// another secret's row does not decrypt). Stored as `v1:` + base64(iv ‖ tag ‖ ciphertext), next to the
// key's fingerprint: a value written under another key is reported as exactly that.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { OperationError } from "../lib/errors.js";
import { type MasterKey, masterKeyBytes } from "./master-key.js";

const format = "v1:";
const ivLength = 12;
const tagLength = 16;

/** What a ciphertext is bound to: the secret it belongs to. */
export type SecretBinding = { name: string; repo: string | null; env: string | null };

export type EncryptedSecret = { ciphertext: string; keyId: string };

/** A repository's forge token (src/forge): sealed like a secret, bound to its repository. */
export function forgeTokenBinding(repoName: string): SecretBinding {
  return { name: "forge-token", repo: repoName, env: null };
}

function aad(b: SecretBinding): Buffer {
  return Buffer.from(`slipway secret v1\u0000${b.repo ?? ""}\u0000${b.env ?? ""}\u0000${b.name}`, "utf8");
}

export function encryptSecret(
  key: MasterKey,
  plaintext: Uint8Array,
  binding: SecretBinding,
): EncryptedSecret {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv("aes-256-gcm", masterKeyBytes(key), iv, { authTagLength: tagLength });
  cipher.setAAD(aad(binding));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    ciphertext: format + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64"),
    keyId: key.fingerprint,
  };
}

/**
 * The clear bytes. An OperationError when the value was written under another master key (named by its
 * fingerprint) or when it does not authenticate (altered, corrupted, or moved to another secret).
 */
export function decryptSecret(key: MasterKey, stored: EncryptedSecret, binding: SecretBinding): Buffer {
  if (stored.keyId !== key.fingerprint)
    throw new OperationError(
      `the secret store was written with another master key (fingerprint ${stored.keyId}); the key from ${key.source} has fingerprint ${key.fingerprint}. Use the key the store was written with (SLIPWAY_MASTER_KEY or the master.key file in the data directory).`,
    );
  const what = `secret ${binding.name}`;
  if (!stored.ciphertext.startsWith(format))
    throw new OperationError(`${what} cannot be decrypted: unknown format (written by a newer slipway?)`);
  const raw = Buffer.from(stored.ciphertext.slice(format.length), "base64");
  if (raw.length < ivLength + tagLength)
    throw new OperationError(`${what} cannot be decrypted: the stored value is truncated`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKeyBytes(key), raw.subarray(0, ivLength), {
      authTagLength: tagLength,
    });
    decipher.setAAD(aad(binding));
    decipher.setAuthTag(raw.subarray(ivLength, ivLength + tagLength));
    return Buffer.concat([decipher.update(raw.subarray(ivLength + tagLength)), decipher.final()]);
  } catch (err) {
    throw new OperationError(
      `${what} cannot be decrypted: the stored value does not authenticate (altered or corrupted)`,
      { cause: err },
    );
  }
}
