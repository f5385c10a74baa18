// The schema, as migrations defined in code. One schema for both dialects: the only difference is how
// an auto-increment id is spelled. Migrations are append-only: never edit one that has shipped; add the
// next `000N_…` after the last. Names sort lexically, so keep the prefix.
import type {
  ColumnDefinitionBuilder,
  CreateTableBuilder,
  Kysely,
  Migration,
  MigrationProvider,
} from "kysely";

export type DialectName = "sqlite" | "postgres";

type Table = CreateTableBuilder<string, never>;

export function migrations(dialect: DialectName): Record<string, Migration> {
  // Ids: bigserial on PostgreSQL; on SQLite `integer primary key autoincrement` (the rowid, never reused).
  const withId = (t: Table): Table =>
    dialect === "postgres"
      ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
      : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
  const ref =
    (target: string, onDelete: "cascade" | "set null") =>
    (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
      c.references(target).onDelete(onDelete);
  const notNull = (c: ColumnDefinitionBuilder) => c.notNull();

  return {
    "0001_initial": {
      async up(db: Kysely<any>) {
        await withId(db.schema.createTable("repos"))
          .addColumn("name", "text", notNull)
          .addColumn("url", "text", notNull)
          .addColumn("branch", "text", notNull)
          .addColumn("mirror_path", "text")
          .addColumn("webhook_secret", "text")
          .addColumn("poll_interval_s", "integer")
          .addColumn("last_polled_at", "bigint")
          .addColumn("last_seen_sha", "text")
          .addColumn("run_counter", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", "bigint", notNull)
          .addUniqueConstraint("repos_name_unique", ["name"])
          .execute();

        await withId(db.schema.createTable("runs"))
          .addColumn("repo_id", "bigint", (c) => ref("repos.id", "cascade")(c.notNull()))
          .addColumn("number", "integer", notNull)
          .addColumn("workflow_file", "text", notNull)
          .addColumn("workflow_name", "text", notNull)
          .addColumn("event_name", "text", notNull)
          .addColumn("event_json", "text", notNull)
          .addColumn("sha", "text", notNull)
          .addColumn("ref", "text", notNull)
          .addColumn("trigger", "text", notNull)
          .addColumn("pr_number", "integer")
          .addColumn("pr_title", "text")
          .addColumn("pr_author", "text")
          .addColumn("pr_url", "text")
          .addColumn("status", "text", notNull)
          .addColumn("conclusion", "text")
          .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(1))
          .addColumn("concurrency_group", "text")
          .addColumn("reason", "text")
          .addColumn("created_at", "bigint", notNull)
          .addColumn("started_at", "bigint")
          .addColumn("finished_at", "bigint")
          .addColumn("delivery_id", "text")
          .addUniqueConstraint("runs_repo_number_unique", ["repo_id", "number"])
          .execute();
        await db.schema.createIndex("runs_status_idx").on("runs").columns(["status", "id"]).execute();
        await db.schema
          .createIndex("runs_group_idx")
          .on("runs")
          .columns(["concurrency_group", "id"])
          .execute();

        await withId(db.schema.createTable("jobs"))
          .addColumn("run_id", "bigint", (c) => ref("runs.id", "cascade")(c.notNull()))
          .addColumn("attempt", "integer", notNull)
          .addColumn("job_key", "text", notNull)
          .addColumn("job_id", "text", notNull)
          .addColumn("name", "text", notNull)
          .addColumn("matrix_json", "text")
          .addColumn("labels_json", "text", notNull)
          .addColumn("status", "text", notNull)
          .addColumn("outputs_json", "text")
          .addColumn("spec_json", "text")
          .addColumn("runner_id", "text")
          .addColumn("lease_expires_at", "bigint")
          .addColumn("heartbeat_at", "bigint")
          .addColumn("claimed_at", "bigint")
          .addColumn("started_at", "bigint")
          .addColumn("finished_at", "bigint")
          .addColumn("reason", "text")
          .addColumn("finished_by", "text")
          .addColumn("reused_from", "bigint", ref("jobs.id", "set null"))
          .addColumn("created_at", "bigint", notNull)
          .addUniqueConstraint("jobs_run_attempt_key_unique", ["run_id", "attempt", "job_key"])
          .execute();
        await db.schema.createIndex("jobs_status_idx").on("jobs").columns(["status", "id"]).execute();
        await db.schema.createIndex("jobs_runner_idx").on("jobs").columns(["runner_id", "status"]).execute();

        await withId(db.schema.createTable("steps"))
          .addColumn("job_row_id", "bigint", (c) => ref("jobs.id", "cascade")(c.notNull()))
          .addColumn("idx", "integer", notNull)
          .addColumn("step_id", "text", notNull)
          .addColumn("name", "text", notNull)
          .addColumn("outcome", "text")
          .addColumn("conclusion", "text")
          .addColumn("started_at", "bigint")
          .addColumn("finished_at", "bigint")
          .addUniqueConstraint("steps_job_idx_unique", ["job_row_id", "idx"])
          .execute();

        await withId(db.schema.createTable("log_chunks"))
          .addColumn("job_row_id", "bigint", (c) => ref("jobs.id", "cascade")(c.notNull()))
          .addColumn("seq", "integer", notNull)
          .addColumn("content", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addUniqueConstraint("log_chunks_job_seq_unique", ["job_row_id", "seq"])
          .execute();

        await db.schema
          .createTable("deliveries")
          .addColumn("provider", "text", notNull)
          .addColumn("delivery_id", "text", notNull)
          .addColumn("event", "text", notNull)
          .addColumn("repo_id", "bigint", ref("repos.id", "set null"))
          .addColumn("run_ids_json", "text", notNull)
          .addColumn("received_at", "bigint", notNull)
          .addPrimaryKeyConstraint("deliveries_pk", ["provider", "delivery_id"])
          .execute();

        await withId(db.schema.createTable("tokens"))
          .addColumn("name", "text", notNull)
          .addColumn("role", "text", notNull)
          .addColumn("hash", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("last_used_at", "bigint")
          .addColumn("revoked_at", "bigint")
          .addUniqueConstraint("tokens_hash_unique", ["hash"])
          .execute();

        await db.schema
          .createTable("runners")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", notNull)
          .addColumn("labels_json", "text", notNull)
          .addColumn("token_hash", "text", notNull)
          .addColumn("last_heartbeat_at", "bigint")
          .addColumn("created_at", "bigint", notNull)
          .addUniqueConstraint("runners_token_hash_unique", ["token_hash"])
          .execute();
      },
      async down(db: Kysely<any>) {
        for (const t of ["runners", "tokens", "deliveries", "log_chunks", "steps", "jobs", "runs", "repos"]) {
          await db.schema.dropTable(t).execute();
        }
      },
    },
    "0002_secrets_notifications": {
      async up(db: Kysely<any>) {
        await withId(db.schema.createTable("secrets"))
          .addColumn("name", "text", notNull)
          .addColumn("repo", "text", (c) => c.notNull().defaultTo(""))
          .addColumn("env", "text", (c) => c.notNull().defaultTo(""))
          .addColumn("ciphertext", "text", notNull)
          .addColumn("key_id", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("created_by", "text", notNull)
          .addColumn("updated_at", "bigint", notNull)
          .addColumn("updated_by", "text", notNull)
          .addUniqueConstraint("secrets_scope_name_unique", ["repo", "env", "name"])
          .execute();

        await withId(db.schema.createTable("audit_log"))
          .addColumn("at", "bigint", notNull)
          .addColumn("actor", "text", notNull)
          .addColumn("action", "text", notNull)
          .addColumn("subject", "text", notNull)
          .addColumn("repo", "text")
          .addColumn("env", "text")
          .addColumn("detail_json", "text")
          .execute();
        await db.schema.createIndex("audit_log_at_idx").on("audit_log").columns(["at", "id"]).execute();

        await withId(db.schema.createTable("notification_deliveries"))
          .addColumn("channel", "text", notNull)
          .addColumn("scope", "text", (c) => c.notNull().defaultTo(""))
          .addColumn("target_json", "text", notNull)
          .addColumn("event_type", "text", notNull)
          .addColumn("event_id", "text", notNull)
          .addColumn("payload", "text", notNull)
          .addColumn("status", "text", notNull)
          .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("last_error", "text")
          .addColumn("next_attempt_at", "bigint", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("updated_at", "bigint", notNull)
          .addColumn("delivered_at", "bigint")
          .execute();
        await db.schema
          .createIndex("notification_deliveries_queue_idx")
          .on("notification_deliveries")
          .columns(["status", "scope", "channel", "id"])
          .execute();
      },
      async down(db: Kysely<any>) {
        for (const t of ["notification_deliveries", "audit_log", "secrets"]) {
          await db.schema.dropTable(t).execute();
        }
      },
    },
    "0003_releases": {
      async up(db: Kysely<any>) {
        // The last release number handed out per (app, env): an upsert … RETURNING on it allocates the
        // next number (see releases.create). Kept apart from `releases` so the first release of an
        // environment has a row to lock.
        await db.schema
          .createTable("release_counters")
          .addColumn("app", "text", notNull)
          .addColumn("env", "text", notNull)
          .addColumn("last_number", "integer", notNull)
          .addPrimaryKeyConstraint("release_counters_pk", ["app", "env"])
          .execute();

        await withId(db.schema.createTable("releases"))
          .addColumn("app", "text", notNull)
          .addColumn("env", "text", notNull)
          .addColumn("number", "integer", notNull)
          .addColumn("kind", "text", notNull)
          .addColumn("rollback_of", "integer")
          .addColumn("version", "text")
          .addColumn("strategy_json", "text")
          .addColumn("spec_hash", "text", notNull)
          .addColumn("spec_json", "text", notNull)
          .addColumn("images_json", "text", notNull)
          .addColumn("trigger", "text", notNull)
          .addColumn("actor", "text", notNull)
          .addColumn("status", "text", notNull)
          .addColumn("phase", "text", notNull)
          .addColumn("error", "text")
          .addColumn("impact_json", "text")
          .addColumn("event_seq", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", "bigint", notNull)
          .addColumn("started_at", "bigint", notNull)
          .addColumn("finished_at", "bigint")
          .addColumn("updated_at", "bigint", notNull)
          .addUniqueConstraint("releases_app_env_number_unique", ["app", "env", "number"])
          .execute();
        await db.schema.createIndex("releases_status_idx").on("releases").columns(["status", "id"]).execute();

        await withId(db.schema.createTable("release_events"))
          .addColumn("release_id", "bigint", (c) => ref("releases.id", "cascade")(c.notNull()))
          .addColumn("seq", "integer", notNull)
          .addColumn("at", "bigint", notNull)
          .addColumn("level", "text", notNull)
          .addColumn("type", "text", notNull)
          .addColumn("service", "text")
          .addColumn("message", "text", notNull)
          .addColumn("data_json", "text")
          .addUniqueConstraint("release_events_release_seq_unique", ["release_id", "seq"])
          .execute();

        await db.schema
          .createTable("deploy_locks")
          .addColumn("app", "text", notNull)
          .addColumn("env", "text", notNull)
          .addColumn("holder", "text", notNull)
          .addColumn("acquired_at", "bigint", notNull)
          .addColumn("expires_at", "bigint", notNull)
          .addColumn("release_id", "bigint")
          .addPrimaryKeyConstraint("deploy_locks_pk", ["app", "env"])
          .execute();
      },
      async down(db: Kysely<any>) {
        for (const t of ["deploy_locks", "release_events", "releases", "release_counters"]) {
          await db.schema.dropTable(t).execute();
        }
      },
    },
    "0100_deploy_app_owner": {
      async up(db: Kysely<any>) {
        // The repository that owns each deployed (app, env): deploys from others are refused, and secrets
        // are resolved for the owner only (src/store/deploy-apps.ts).
        await db.schema
          .createTable("deploy_apps")
          .addColumn("app", "text", notNull)
          .addColumn("env", "text", notNull)
          .addColumn("repo", "text", notNull)
          .addColumn("actor", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("updated_at", "bigint", notNull)
          .addPrimaryKeyConstraint("deploy_apps_pk", ["app", "env"])
          .execute();
        // Per-row delivery claims: any number of notifiers (the server, deploy agents) share one queue,
        // and a row is attempted by one of them at a time (src/store/notifications.ts).
        await db.schema.alterTable("notification_deliveries").addColumn("claimed_by", "text").execute();
        await db.schema.alterTable("notification_deliveries").addColumn("claimed_until", "bigint").execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable("notification_deliveries").dropColumn("claimed_until").execute();
        await db.schema.alterTable("notification_deliveries").dropColumn("claimed_by").execute();
        await db.schema.dropTable("deploy_apps").execute();
      },
    },
    "0101_fork_policy": {
      async up(db: Kysely<any>) {
        // What a pull request from a fork may do (see repos.ts forkPolicies); the default withholds secrets.
        await db.schema
          .alterTable("repos")
          .addColumn("fork_pull_requests", "text", (c) => c.notNull().defaultTo("run-without-secrets"))
          .execute();
        // 1 when the run is of a pull request from a fork (its secrets are withheld unless it runs the
        // base branch's workflow, as pull_request_target does).
        await db.schema
          .alterTable("runs")
          .addColumn("fork", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable("runs").dropColumn("fork").execute();
        await db.schema.alterTable("repos").dropColumn("fork_pull_requests").execute();
      },
    },
    // Webhook intake: a delivery is `pending` (with the event it carries, so a restart can finish it)
    // until its runs exist, then `processed`; bodies are remembered per repository by sha256, so a
    // replay under a new delivery id is recognised within the dedupe window.
    "0103_webhook_intake": {
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable("deliveries")
          .addColumn("status", "text", (c) => c.notNull().defaultTo("processed"))
          .execute();
        await db.schema.alterTable("deliveries").addColumn("body_sha256", "text").execute();
        await db.schema.alterTable("deliveries").addColumn("event_json", "text").execute();
        await db.schema
          .createIndex("deliveries_status_idx")
          .on("deliveries")
          .columns(["status", "received_at"])
          .execute();
        await db.schema
          .createTable("delivery_bodies")
          .addColumn("repo_id", "bigint", (c) => ref("repos.id", "cascade")(c.notNull()))
          .addColumn("body_sha256", "text", notNull)
          .addColumn("provider", "text", notNull)
          .addColumn("delivery_id", "text", notNull)
          .addColumn("received_at", "bigint", notNull)
          .addPrimaryKeyConstraint("delivery_bodies_pk", ["repo_id", "body_sha256"])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("delivery_bodies").execute();
        await db.schema.dropIndex("deliveries_status_idx").execute();
        for (const c of ["event_json", "body_sha256", "status"])
          await db.schema.alterTable("deliveries").dropColumn(c).execute();
      },
    },
    // A fork's leg is offered only to runners that said they isolate forks (or were told the machine
    // is disposable): the claim filters on this column rather than opening each leg's spec.
    "0104_untrusted_jobs": {
      async up(db: Kysely<any>) {
        await db.schema
          .alterTable("jobs")
          .addColumn("untrusted", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable("jobs").dropColumn("untrusted").execute();
      },
    },
    "0102_runner_controls": {
      async up(db: Kysely<any>) {
        // An admin can disable a runner (its token is refused until it is enabled again) without
        // losing its registration; removal deletes the row.
        await db.schema.alterTable("runners").addColumn("disabled_at", "bigint").execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable("runners").dropColumn("disabled_at").execute();
      },
    },
    // Deployment environments per repository (protection rules and vars) and the gates runs wait at,
    // so a job waiting for approval or its timer survives a restart.
    "0110_environments": {
      async up(db: Kysely<any>) {
        await withId(db.schema.createTable("environments"))
          .addColumn("repo_id", "bigint", (c) => ref("repos.id", "cascade")(c.notNull()))
          .addColumn("name", "text", notNull)
          .addColumn("reviewers_json", "text", notNull)
          .addColumn("wait_timer_s", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("branches_json", "text")
          .addColumn("tags_json", "text")
          .addColumn("allow_self_review", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("vars_json", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("updated_at", "bigint", notNull)
          .addColumn("updated_by", "text", notNull)
          .addUniqueConstraint("environments_repo_name_unique", ["repo_id", "name"])
          .execute();
        await withId(db.schema.createTable("environment_gates"))
          .addColumn("run_id", "bigint", (c) => ref("runs.id", "cascade")(c.notNull()))
          .addColumn("attempt", "integer", notNull)
          .addColumn("environment", "text", notNull)
          .addColumn("status", "text", notNull)
          .addColumn("reviewers_json", "text", notNull)
          .addColumn("allow_self_review", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("wait_until", "bigint")
          .addColumn("requested_at", "bigint", notNull)
          .addColumn("decided_by", "text")
          .addColumn("decided_at", "bigint")
          .addColumn("reason", "text")
          .addColumn("url", "text")
          .addUniqueConstraint("environment_gates_unique", ["run_id", "attempt", "environment"])
          .execute();
        await db.schema
          .createIndex("environment_gates_status_idx")
          .on("environment_gates")
          .columns(["status", "run_id"])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("environment_gates").execute();
        await db.schema.dropTable("environments").execute();
      },
    },
    // Forge feedback (src/forge): per repository, which forge and API to report to, the token sealed
    // under the master key like every secret, and whether badges are public and PRs get a comment;
    // and the GitHub deployment each deployed release was reported as (its statuses need the id).
    "0130_forge": {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("forge_settings")
          .addColumn("repo_id", "bigint", (c) => ref("repos.id", "cascade")(c.notNull().primaryKey()))
          .addColumn("provider", "text")
          .addColumn("api_url", "text")
          .addColumn("project", "text")
          .addColumn("token_ciphertext", "text")
          .addColumn("token_key_id", "text")
          .addColumn("public", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("pr_comment", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("updated_at", "bigint", notNull)
          .addColumn("updated_by", "text", notNull)
          .execute();
        await db.schema
          .createTable("forge_deployments")
          .addColumn("repo_id", "bigint", (c) => ref("repos.id", "cascade")(c.notNull()))
          .addColumn("deploy_key", "text", notNull)
          .addColumn("deployment_id", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addPrimaryKeyConstraint("forge_deployments_pk", ["repo_id", "deploy_key"])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("forge_deployments").execute();
        await db.schema.dropTable("forge_settings").execute();
      },
    },
    // What a job shows besides its log: the annotations (::error:: and friends) and the Markdown its
    // steps wrote to $GITHUB_STEP_SUMMARY, as its runner reported them at the end (masked again by the
    // server). A table of its own: jobs are listed often, these are read only when a run is shown.
    "0120_job_reports": {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("job_reports")
          .addColumn("job_row_id", "bigint", (c) => ref("jobs.id", "cascade")(c.primaryKey()))
          .addColumn("annotations_json", "text", notNull)
          .addColumn("summary", "text", notNull)
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("job_reports").execute();
      },
    },
    // Artifacts uploaded by a run's jobs on the server: the files live under <data dir>/artifacts/<id>/,
    // the row says what they are. `pending` while the upload is written (it counts against the run's
    // size cap, so two uploads at once cannot both squeeze under it), `ready` once complete; one ready
    // artifact per (run, name). Expired ones are deleted by the server's sweep.
    "0121_artifacts": {
      async up(db: Kysely<any>) {
        await withId(db.schema.createTable("artifacts"))
          .addColumn("run_id", "bigint", (c) => ref("runs.id", "cascade")(c.notNull()))
          .addColumn("job_row_id", "bigint", (c) => ref("jobs.id", "set null")(c))
          .addColumn("name", "text", notNull)
          .addColumn("status", "text", notNull)
          .addColumn("size", "bigint", notNull)
          .addColumn("files", "integer", notNull)
          .addColumn("digest", "text", notNull)
          .addColumn("created_at", "bigint", notNull)
          .addColumn("expires_at", "bigint", notNull)
          .execute();
        await db.schema
          .createIndex("artifacts_run_idx")
          .on("artifacts")
          .columns(["run_id", "name"])
          .execute();
        await db.schema.createIndex("artifacts_expiry_idx").on("artifacts").columns(["expires_at"]).execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("artifacts").execute();
      },
    },
    // Dashboard sessions (store/sessions.ts): the SHA-256 of the cookie's id, the token it stands for
    // (deleting a token deletes its sessions), and when it expires.
    "0140_web_sessions": {
      async up(db: Kysely<any>) {
        await withId(db.schema.createTable("sessions"))
          .addColumn("hash", "text", notNull)
          .addColumn("token_id", "bigint", (c) => ref("tokens.id", "cascade")(c.notNull()))
          .addColumn("created_at", "bigint", notNull)
          .addColumn("expires_at", "bigint", notNull)
          .addUniqueConstraint("sessions_hash_unique", ["hash"])
          .execute();
        await db.schema.createIndex("sessions_expires_at").on("sessions").column("expires_at").execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable("sessions").execute();
      },
    },
    // The URL a job's `environment.url` gave when its runner finalised it (with its steps' outputs, as
    // GitHub's runner reports it); null: not reported (an older runner, a job that never ran). Reports
    // stored before have none, which reads as "not reported".
    "0180_job_report_environment_url": {
      async up(db: Kysely<any>) {
        await db.schema.alterTable("job_reports").addColumn("environment_url", "text").execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable("job_reports").dropColumn("environment_url").execute();
      },
    },
  };
}

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
