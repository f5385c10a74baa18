// The store: slipway's durable state (repositories, runs, job legs, steps, logs, webhook deliveries,
// tokens, runners, deploy releases and locks) in an embedded SQLite file (`<dataDir>/slipway.db`) or in
// PostgreSQL — one schema, one Kysely query layer, migrations in code applied by `openStore`.
//
// Invariants, on both dialects and across processes:
// - a write has happened once its promise resolves, and survives kill -9 of the process (SQLite: WAL);
// - run numbers per repository are distinct and increasing, also under concurrent creates;
// - a queued job is claimed by exactly one runner; leaving `running` is a compare-and-set, so a job
//   finishes once — by its runner, the lease reaper, crash recovery or a cancel, whichever is first;
// - a runner that stops heartbeating loses its job to `failure` with the reason (never re-queued: its
//   steps may have had side effects); at start the server fails its own runners' in-flight jobs;
// - a (provider, delivery id) is recorded once, so a redelivered webhook starts no second run, and a
//   body is held by one delivery per repository within the replay window (a replay under a new id
//   starts nothing); a delivery stays `pending`, with its event, until its runs exist;
// - an artifact name is live (pending or ready) once per run, and a run's live artifacts stay within the
//   size cap the caller gives, also under concurrent uploads;
// - log chunks are numbered by their writer, so a retried append stores nothing twice;
// - tokens are kept only as SHA-256 hashes; repository webhook secrets are shared HMAC keys, stored as
//   the secrets domain seals them under the master key (readable only through `repos.webhookSecret`).
// - secrets are stored only as AES-256-GCM ciphertexts (encrypted by the secrets domain), and every
//   change to one writes an audit entry in the same transaction;
// - a notification delivery leaves `pending` once, to `delivered` or `failed`;
// - a repository's forge token is stored only sealed, like secrets, and read only through `forge.tokenOf`;
// - release numbers per (app, env) and event seqs per release are distinct and increasing, also under
//   concurrent writers; a release leaves running|paused once (compare-and-set) and is not changed after;
//   a deploy lock per (app, env) has one holder until it is released or expires;
// - an environment gate is opened once per (run, attempt, environment) and leaves `pending` once; every
//   change to an environment's rules and every approval or rejection writes an audit entry with it.
// Times are integer epoch milliseconds; operations take an optional `now` for tests.
export type {
  Artifact,
  ArtifactBegin,
  ArtifactBeginResult,
  Artifacts,
  ArtifactStatus,
} from "./artifacts.js";
export type { Audit, AuditEntry, AuditFilter, AuditInput } from "./audit.js";
export type {
  BeginDeliveryInput,
  BeginDeliveryResult,
  Deliveries,
  Delivery,
  DeliveryInput,
  DeliveryStatus,
  PendingDelivery,
} from "./deliveries.js";
export type { DeployApp, DeployApps } from "./deploy-apps.js";
export {
  checkEnvironmentName,
  type Environment,
  type EnvironmentRules,
  type Environments,
  type Gate,
  type GateStatus,
  gateStatuses,
} from "./environments.js";
export {
  type Forge,
  type ForgeProvider,
  forgeProviders,
  type ForgeSettings,
  type ForgeSettingsPatch,
  type SealedForgeToken,
} from "./forge.js";
export {
  type ClaimRequest,
  type Completion,
  type FinishedBy,
  type FinishedJobStatus,
  finishedJobStatuses,
  type Job,
  type JobInput,
  type JobPatch,
  type Jobs,
  type JobStatus,
  jobStatuses,
} from "./jobs.js";
export {
  type AnnotationLevel,
  annotationLevels,
  type JobReport,
  type JobReports,
  type StoredAnnotation,
} from "./job-reports.js";
export { defaultMaxJobLogBytes, type LogChunk, type LogRead, type Logs } from "./logs.js";
export type { DialectName } from "./migrations.js";
export { maskPassword, openStore, type Store, type StoreApi, type StoreOptions } from "./open.js";
export {
  type NotificationDelivery,
  type NotificationFilter,
  type NotificationInput,
  type NotificationQueue,
  type Notifications,
  type NotificationStatus,
  notificationStatuses,
} from "./notifications.js";
export type { DeployLock, DeployLockRequest, DeployLockResult, DeployLocks } from "./deploy-locks.js";
export {
  type ReleaseEvent,
  type ReleaseEventInput,
  type ReleaseEventLevel,
  releaseEventLevels,
} from "./release-events.js";
export {
  type FinishedReleaseStatus,
  finishedReleaseStatuses,
  type Release,
  type ReleaseFilter,
  type ReleaseFinish,
  type ReleaseImage,
  type ReleaseInput,
  type ReleaseKind,
  type ReleasePatch,
  type Releases,
  type ReleaseStatus,
  releaseKinds,
  releaseStatuses,
} from "./releases.js";
export {
  type ForkPolicy,
  forkPolicies,
  parseForkPolicy,
  type Repo,
  type RepoInput,
  type RepoPatch,
  type Repos,
} from "./repos.js";
export { checkName, shownValue } from "./names.js";
export {
  checkRunnerLabels,
  maxRunnerLabels,
  type Runner,
  type Runners,
  runnerTokenPrefix,
} from "./runners.js";
export {
  type PullRequestRef,
  type Run,
  type RunConclusion,
  type RunFilter,
  type RunInput,
  type RunPatch,
  type Runs,
  type RunStatus,
  type RunTrigger,
  runConclusions,
  runStatuses,
  runTriggers,
} from "./runs.js";
export type { Database } from "./schema.js";
export type {
  SecretFilter,
  SecretMeta,
  SecretPut,
  SecretRecord,
  Secrets,
  SecretScopeKey,
} from "./secrets.js";
export type { Step, StepInput, StepOutcome, Steps } from "./steps.js";
export {
  apiTokenPrefix,
  type IssuedToken,
  LastAdminTokenError,
  type Role,
  roleAllows,
  roles,
  type TokenIdentity,
  type TokenInfo,
  type Tokens,
} from "./tokens.js";
