// Migrations 0001–0099: the first schema — runs, jobs, steps, logs, deliveries, tokens and runners
// (0001), secrets, the audit log and notifications (0002), deploy releases and locks (0003). Shipped:
// never edit one; new migrations go at the end of the newest range (see ../migrations.ts).
import type { Kysely, Migration } from "kysely";
import type { SchemaHelpers } from "./helpers.js";

export function migrations0001to0099(h: SchemaHelpers): Record<string, Migration> {
  const { withId, ref, notNull } = h;
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
  };
}
