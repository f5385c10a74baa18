// A repository's forge token at rest: sealed under the master key with the secrets domain's cipher, bound
// to the repository (a ciphertext copied onto another repository's row does not open), opened only to
// send a report, and handled as a SecretValue (prints "[REDACTED]") in between.
import { OperationError } from "../lib/errors.js";
import {
  decryptSecret,
  encryptSecret,
  forgeTokenBinding,
  type MasterKey,
  SecretValue,
} from "../secrets/index.js";
import type { SealedForgeToken } from "../store/index.js";

/** Tokens are short; anything longer is a mistake (a file with more than the token in it). */
export const maxForgeTokenBytes = 4096;

export function sealForgeToken(key: MasterKey, repoName: string, token: SecretValue): SealedForgeToken {
  const e = encryptSecret(key, token.revealBytes(), forgeTokenBinding(repoName));
  return { ciphertext: e.ciphertext, keyId: e.keyId };
}

export function openForgeToken(
  key: MasterKey | undefined,
  repoName: string,
  sealed: SealedForgeToken,
): SecretValue {
  if (!key) throw new OperationError(`the forge token of ${repoName} is sealed, but no master key was given`);
  return new SecretValue(decryptSecret(key, sealed, forgeTokenBinding(repoName)));
}
