// Secrets: values encrypted at rest (AES-256-GCM under a master key from SLIPWAY_MASTER_KEY or a 0600
// key file), scoped global < repository < environment < repository + environment (the narrowest wins),
// handed to runs and deploys as SecretValue objects that print "[REDACTED]".
//
// Invariants: a clear value never reaches the database, a log line, an error message or an API response
// (only `reveal()` yields it, for injection); every change is audited with who, what and when, in the
// same transaction as the change; a value written under another master key is an error naming the key
// fingerprints, never garbage; names match [A-Z_][A-Z0-9_]* and do not start with GITHUB_; repository
// webhook secrets are sealed under the same key; rotating the key re-seals every sealed value in one
// transaction.
export {
  listSecretsRequest,
  removeSecretRequest,
  secretScopeQuery,
  setSecretBody,
  setSecretRequest,
} from "./api.js";
export {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  forgeTokenBinding,
  type SecretBinding,
} from "./cipher.js";
export {
  generateMasterKey,
  type LoadMasterKeyOptions,
  loadMasterKey,
  MasterKey,
  masterKeyEnv,
  masterKeyFileName,
  parseMasterKey,
} from "./master-key.js";
export {
  describeScope,
  normalizeScope,
  type SecretScope,
  scopeRank,
  secretNamePattern,
  validateSecretName,
} from "./names.js";
export {
  createSecretStore,
  maxSecretBytes,
  revealSecrets,
  type SecretInfo,
  type SecretStore,
  type SetSecretInput,
} from "./secret-store.js";
export {
  type RotateResult,
  type RotationCounts,
  resealAll,
  rotateMasterKeyFile,
  scrubReplacedValues,
} from "./rotate.js";
export { redacted, SecretValue } from "./value.js";
export {
  isSealedWebhookSecret,
  openWebhookSecret,
  sealClearWebhookSecrets,
  sealWebhookSecret,
} from "./webhook-secret.js";
