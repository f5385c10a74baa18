// Migrations 0100–0199, in number order: what was added to the schema since (deploy app owners, fork
// policy, runner controls, webhook intake, environments, job reports, artifacts, forge settings,
// dashboard sessions, …). Shipped ones are never edited; append the next number at the end.
import type { Kysely, Migration } from "kysely";
import type { SchemaHelpers } from "./helpers.js";

export function migrations0100to0199(h: SchemaHelpers): Record<string, Migration> {
  const { withId, ref, notNull } = h;
  return {
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
