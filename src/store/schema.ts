// The tables as Kysely sees them: one interface per table, columns in snake_case as in the database.
// Portable types only: ids are integers (bigserial / integer autoincrement), times are integer epoch
// milliseconds, JSON is text. The migrations in migrations.ts create exactly these columns.
import type { Generated } from "kysely";

export type ReposTable = {
  id: Generated<number>;
  name: string;
  url: string;
  branch: string;
  mirror_path: string | null;
  /** Shared secret for webhook HMACs; must be readable, so it is not hashed (it is not a password). */
  webhook_secret: string | null;
  poll_interval_s: number | null;
  last_polled_at: number | null;
  last_seen_sha: string | null;
  /** The last run number handed out for this repository (see runs.create). */
  run_counter: Generated<number>;
  created_at: number;
  /** run-without-secrets | require-approval | off (migration 0101). */
  fork_pull_requests: Generated<string>;
};

export type RunsTable = {
  id: Generated<number>;
  repo_id: number;
  number: number;
  workflow_file: string;
  workflow_name: string;
  event_name: string;
  event_json: string;
  sha: string;
  ref: string;
  trigger: string;
  pr_number: number | null;
  pr_title: string | null;
  pr_author: string | null;
  pr_url: string | null;
  status: string;
  conclusion: string | null;
  attempt: number;
  concurrency_group: string | null;
  reason: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  delivery_id: string | null;
  /** 1 for a run of a pull request from a fork (migration 0101). */
  fork: Generated<number>;
};

export type JobsTable = {
  id: Generated<number>;
  run_id: number;
  attempt: number;
  job_key: string;
  job_id: string;
  name: string;
  matrix_json: string | null;
  labels_json: string;
  status: string;
  outputs_json: string | null;
  spec_json: string | null;
  runner_id: string | null;
  lease_expires_at: number | null;
  heartbeat_at: number | null;
  claimed_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  reason: string | null;
  finished_by: string | null;
  reused_from: number | null;
  created_at: number;
  /** 1: a fork's leg, offered only to runners that isolate forks. */
  untrusted: number;
};

export type StepsTable = {
  id: Generated<number>;
  job_row_id: number;
  idx: number;
  step_id: string;
  name: string;
  outcome: string | null;
  conclusion: string | null;
  started_at: number | null;
  finished_at: number | null;
};

export type LogChunksTable = {
  id: Generated<number>;
  job_row_id: number;
  seq: number;
  content: string;
  created_at: number;
};

export type JobReportsTable = {
  job_row_id: number;
  annotations_json: string;
  summary: string;
  /** Migration 0180: what the runner reported for `environment.url`; null: nothing reported. */
  environment_url: string | null;
};

export type ArtifactsTable = {
  id: Generated<number>;
  run_id: number;
  job_row_id: number | null;
  name: string;
  status: string;
  size: number;
  files: number;
  digest: string;
  created_at: number;
  expires_at: number;
};

export type DeliveriesTable = {
  provider: string;
  delivery_id: string;
  event: string;
  repo_id: number | null;
  run_ids_json: string;
  received_at: number;
  /** `pending` until the delivery's runs exist, then `processed` (0103_webhook_intake). */
  status: Generated<string>;
  body_sha256: string | null;
  /** A pending delivery's event (name, payload, changed files), to finish it after a restart; null once processed. */
  event_json: string | null;
};

export type DeliveryBodiesTable = {
  repo_id: number;
  body_sha256: string;
  provider: string;
  delivery_id: string;
  received_at: number;
};

export type TokensTable = {
  id: Generated<number>;
  name: string;
  role: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
};

export type SessionsTable = {
  id: Generated<number>;
  hash: string;
  token_id: number;
  created_at: number;
  expires_at: number;
};

export type RunnersTable = {
  id: string;
  name: string;
  labels_json: string;
  token_hash: string;
  last_heartbeat_at: number | null;
  created_at: number;
  /** Set while an admin has disabled the runner: its token is refused. */
  disabled_at: number | null;
};

/**
 * One encrypted secret per (name, repo, env); '' in repo/env means "any" (NULLs would not be unique).
 * `ciphertext` is `v1:` + base64(iv ‖ tag ‖ AES-256-GCM ciphertext); never the clear value.
 */
export type SecretsTable = {
  id: Generated<number>;
  name: string;
  repo: string;
  env: string;
  ciphertext: string;
  /** Fingerprint of the master key that encrypted it, so another key is named as such, not as garbage. */
  key_id: string;
  created_at: number;
  created_by: string;
  updated_at: number;
  updated_by: string;
};

/** Who changed what, when (never a value). */
export type AuditLogTable = {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  /** What the action was on, e.g. the secret's name. */
  subject: string;
  repo: string | null;
  env: string | null;
  detail_json: string | null;
};

/** Outgoing notifications, one row per (event, channel): the delivery log and the durable queue. */
export type NotificationDeliveriesTable = {
  id: Generated<number>;
  channel: string;
  /** The repository whose slipway.yaml defined the channel; '' for the server's own channels. */
  scope: string;
  /** The channel definition (URLs and secret *names*, never secret values), so a restart can resume. */
  target_json: string;
  event_type: string;
  event_id: string;
  /** The rendered body (Slack message or webhook JSON). */
  payload: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
  /** The notifier attempting this row, and until when its claim holds (a crashed one's expires). */
  claimed_by: string | null;
  claimed_until: number | null;
};

/** The last release number handed out per (app, env) (see releases.create). */
export type ReleaseCountersTable = {
  app: string;
  env: string;
  last_number: number;
};

/** One deploy (or rollback) of an app to an environment, numbered per (app, env). */
export type ReleasesTable = {
  id: Generated<number>;
  app: string;
  env: string;
  number: number;
  kind: string;
  /** A rollback: the number of the release it went back to. */
  rollback_of: number | null;
  version: string | null;
  /** Service → strategy name. */
  strategy_json: string | null;
  spec_hash: string;
  /** The fully resolved spec, so a rollback can redeploy exactly this release. */
  spec_json: string;
  /** Service → { image, digest }. */
  images_json: string;
  trigger: string;
  actor: string;
  status: string;
  phase: string;
  error: string | null;
  impact_json: string | null;
  /** The last event seq handed out for this release (see releases.addEvent). */
  event_seq: Generated<number>;
  created_at: number;
  started_at: number;
  finished_at: number | null;
  updated_at: number;
};

export type ReleaseEventsTable = {
  id: Generated<number>;
  release_id: number;
  seq: number;
  at: number;
  level: string;
  type: string;
  service: string | null;
  message: string;
  data_json: string | null;
};

/** The repository that owns a deployed (app, env) (see deploy-apps.ts). */
export type DeployAppsTable = {
  app: string;
  env: string;
  repo: string;
  actor: string;
  created_at: number;
  updated_at: number;
};

/** Per repository: where its forge reports go (migration 0130); the token only sealed. */
export type ForgeSettingsTable = {
  repo_id: number;
  provider: string | null;
  api_url: string | null;
  project: string | null;
  token_ciphertext: string | null;
  token_key_id: string | null;
  public: Generated<number>;
  pr_comment: Generated<number>;
  updated_at: number;
  updated_by: string;
};

/** The GitHub deployment a (repository, release) was reported as. */
export type ForgeDeploymentsTable = {
  repo_id: number;
  deploy_key: string;
  deployment_id: string;
  created_at: number;
};

/** One row per locked (app, env); a row whose expires_at has passed is free to take. */
export type DeployLocksTable = {
  app: string;
  env: string;
  holder: string;
  acquired_at: number;
  expires_at: number;
  release_id: number | null;
};

export type EnvironmentsTable = {
  id: Generated<number>;
  repo_id: number;
  name: string;
  reviewers_json: string;
  wait_timer_s: number;
  branches_json: string | null;
  tags_json: string | null;
  allow_self_review: number;
  vars_json: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
};

/** One per (run, attempt, environment) a job of the run was bound for (migration 0110). */
export type EnvironmentGatesTable = {
  id: Generated<number>;
  run_id: number;
  attempt: number;
  environment: string;
  status: string;
  reviewers_json: string;
  allow_self_review: number;
  wait_until: number | null;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
  url: string | null;
};

export type Database = {
  repos: ReposTable;
  runs: RunsTable;
  jobs: JobsTable;
  steps: StepsTable;
  log_chunks: LogChunksTable;
  job_reports: JobReportsTable;
  artifacts: ArtifactsTable;
  deliveries: DeliveriesTable;
  delivery_bodies: DeliveryBodiesTable;
  tokens: TokensTable;
  sessions: SessionsTable;
  runners: RunnersTable;
  secrets: SecretsTable;
  audit_log: AuditLogTable;
  notification_deliveries: NotificationDeliveriesTable;
  release_counters: ReleaseCountersTable;
  releases: ReleasesTable;
  release_events: ReleaseEventsTable;
  deploy_locks: DeployLocksTable;
  deploy_apps: DeployAppsTable;
  environments: EnvironmentsTable;
  environment_gates: EnvironmentGatesTable;
  forge_settings: ForgeSettingsTable;
  forge_deployments: ForgeDeploymentsTable;
};
