// `slipway serve` and `slipway runner`: the CI server, and an agent that runs its jobs elsewhere; the
// runner's subcommands (ls, disable, enable, rm) are the admin's controls over registered runners.
// The runner lives in runner.ts (its admin subcommands in runner-admin.ts, its protocol over HTTP in
// runner-transport.ts); the flag checks both commands share are in serve-flags.ts.
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { passEnvNames } from "../lib/child-env.js";
import { UserError } from "../lib/errors.js";
import { restrictUmask } from "../lib/file-modes.js";
import { defaultDataDir, jobLogLimit, parseSize, untrustedPolicy } from "../runner/index.js";
import { resetAdminToken, startServer } from "../server/index.js";
import { collect } from "./options.js";
import { registerRunner } from "./runner.js";
import { actionSettings, positiveInt } from "./serve-flags.js";

// What other modules could import from here before the split: still importable from this module.
export { httpTransport } from "./runner-transport.js";

/**
 * `--pass-env` of `slipway serve`: checked, then merged into SLIPWAY_PASS_ENV of this process, which is
 * where the server's own runner and the deploy agents it starts read the names from (lib/child-env).
 * The job log cap is checked here too, so a bad SLIPWAY_JOB_LOG_LIMIT stops the server at start.
 */
function passEnvSetting(flags: string[]): void {
  const names = passEnvNames(process.env, flags);
  if (names.length) process.env.SLIPWAY_PASS_ENV = names.join(",");
  jobLogLimit();
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the CI server: webhooks, runs, re-runs, runners, API")
    .option(
      "--listen <host:port>",
      "address to listen on (env SLIPWAY_LISTEN)",
      process.env.SLIPWAY_LISTEN ?? "127.0.0.1:8420",
    )
    .option("--data-dir <dir>", "where the database, mirrors and logs live (env SLIPWAY_DATA_DIR)")
    .option(
      "--database <url>",
      "postgres://… to use PostgreSQL instead of the embedded SQLite (env SLIPWAY_DATABASE)",
    )
    .option("--max-jobs <n>", "job legs queued or running at once over all repositories")
    .option("--max-jobs-per-repo <n>", "job legs queued or running at once per repository")
    .option("--local-runners <n>", "legs the server runs itself at once (0: only remote runners)")
    .option("--local-labels <labels>", "runs-on labels the server's own runner takes (default: any)")
    .option("--shutdown-grace <seconds>", "on SIGTERM, how long running steps may finish", "30")
    .option(
      "--notify-config <file>",
      "the server's notification channels and rules: YAML shaped like slipway.yaml's notify: section (env SLIPWAY_NOTIFY_CONFIG)",
    )
    .option(
      "--public-url <url>",
      "the URL people reach this server at, for links in notifications (env SLIPWAY_PUBLIC_URL; default: the listen URL)",
    )
    .option(
      "--pass-env <NAME>",
      "pass this variable of the server's environment to jobs and deployed instances (repeatable; env SLIPWAY_PASS_ENV=A,B)",
      collect,
      [] as string[],
    )
    .option(
      "--webhook-max-inflight <bytes>",
      "webhook body bytes held in memory at once; beyond it deliveries get 503 + Retry-After (env SLIPWAY_WEBHOOK_MAX_INFLIGHT; default 64 MiB)",
    )
    .option(
      "--webhook-legacy-max-body <bytes>",
      "the largest body the legacy URL /hooks/<provider> takes (env SLIPWAY_WEBHOOK_LEGACY_MAX_BODY; default 5 MiB)",
    )
    .option(
      "--webhook-replay-window <seconds>",
      "how long a webhook body is remembered, so a replay under a new delivery id starts nothing (env SLIPWAY_WEBHOOK_REPLAY_WINDOW; default 86400)",
    )
    .option(
      "--max-event-streams <n>",
      "event streams (runs/ID/events) open at once; more are answered 503 (env SLIPWAY_MAX_EVENT_STREAMS)",
      process.env.SLIPWAY_MAX_EVENT_STREAMS ?? "256",
    )
    .option(
      "--artifact-retention-days <days>",
      "days artifacts of server runs are kept, and the most an upload's retention-days may ask (env SLIPWAY_ARTIFACT_RETENTION_DAYS)",
      process.env.SLIPWAY_ARTIFACT_RETENTION_DAYS ?? "90",
    )
    .option(
      "--max-run-artifacts <size>",
      "bytes all artifacts of one run may hold, e.g. 10G; an upload past it fails its step (env SLIPWAY_MAX_RUN_ARTIFACTS)",
      process.env.SLIPWAY_MAX_RUN_ARTIFACTS ?? "10G",
    )
    .option(
      "--max-job-log <bytes>",
      "a job's stored log stops at this size, with one truncation marker (env SLIPWAY_MAX_JOB_LOG_BYTES)",
      process.env.SLIPWAY_MAX_JOB_LOG_BYTES ?? String(64 * 1024 * 1024),
    )
    .option(
      "--untrusted <mode>",
      "fork pull requests on the server's own runner: isolate (default: run them as --untrusted-user, which needs root; without root they wait for a runner that can), same-user (this machine is disposable), refuse (env SLIPWAY_UNTRUSTED)",
    )
    .option(
      "--untrusted-user <user>",
      "the unprivileged user (name or uid) fork pull requests run as (env SLIPWAY_UNTRUSTED_USER; default nobody)",
    )
    .option(
      "--actions-url <url>",
      "fetch remote actions and reusable workflows from this git server; runners without their own setting use it too (env SLIPWAY_ACTIONS_URL; default https://github.com; token: env SLIPWAY_ACTIONS_TOKEN)",
    )
    .option("--actions-offline", "runs use only the action cache (env SLIPWAY_ACTIONS_OFFLINE=1)")
    .option(
      "--reset-admin-token",
      "create a new admin token, write it to <data-dir>/admin-token (0600), print it and exit; revokes nothing (the server may be stopped)",
    )
    .action(async (flags) => {
      // Everything the server creates (database, keys, mirrors, logs) is private to its user.
      restrictUmask();
      passEnvSetting(flags.passEnv);
      const replayWindowS = positiveInt(
        "--webhook-replay-window",
        flags.webhookReplayWindow ?? (process.env.SLIPWAY_WEBHOOK_REPLAY_WINDOW || undefined),
      );
      const dataDir = resolve(flags.dataDir ?? join(defaultDataDir(), "server"));
      const database = flags.database ?? process.env.SLIPWAY_DATABASE;
      // What the server's own processes start use the server's store: a run's `slipway/deploy` step runs
      // `slipway deploy`, whose release must be the one the dashboard shows and the forge is told of. Only
      // slipway's own children get SLIPWAY_* (lib/child-env.ts): never a job's steps.
      process.env.SLIPWAY_DATA_DIR_SERVER = dataDir;
      if (database) process.env.SLIPWAY_DATABASE = database;
      if (flags.resetAdminToken) {
        const r = await resetAdminToken({ dataDir, database });
        process.stderr.write(`new admin token ${r.id} (also in ${r.file}, mode 0600):\n`);
        process.stdout.write(`${r.token}\n`);
        return;
      }
      const untrusted = untrustedPolicy({ mode: flags.untrusted, user: flags.untrustedUser });
      const actions = actionSettings(flags);
      const maxEventStreams = positiveInt("--max-event-streams", flags.maxEventStreams);
      const maxJobLogBytes = positiveInt("--max-job-log", flags.maxJobLog);
      if (!maxEventStreams) throw new UserError("--max-event-streams must be at least 1");
      if (!maxJobLogBytes || maxJobLogBytes < 1024)
        throw new UserError("--max-job-log must be at least 1024");
      const retentionDays = positiveInt("--artifact-retention-days", flags.artifactRetentionDays);
      if (!retentionDays) throw new UserError("--artifact-retention-days must be at least 1");
      const server = await startServer({
        listen: flags.listen,
        dataDir,
        database,
        maxEventStreams,
        maxJobLogBytes,
        artifacts: {
          retentionDays,
          maxRunBytes: parseSize(flags.maxRunArtifacts, "--max-run-artifacts"),
        },
        maxJobs: positiveInt("--max-jobs", flags.maxJobs),
        maxJobsPerRepo: positiveInt("--max-jobs-per-repo", flags.maxJobsPerRepo),
        localRunners: positiveInt("--local-runners", flags.localRunners),
        localLabels: flags.localLabels
          ?.split(",")
          .map((l) => l.trim())
          .filter(Boolean),
        untrusted,
        actions,
        leaseMs: positiveInt("SLIPWAY_LEASE_MS", process.env.SLIPWAY_LEASE_MS),
        notifyConfig: flags.notifyConfig ?? (process.env.SLIPWAY_NOTIFY_CONFIG || undefined),
        publicUrl: flags.publicUrl ?? (process.env.SLIPWAY_PUBLIC_URL || undefined),
        notifyTimeoutMs: positiveInt("SLIPWAY_NOTIFY_TIMEOUT_MS", process.env.SLIPWAY_NOTIFY_TIMEOUT_MS),
        notifyRetryMs: positiveInt("SLIPWAY_NOTIFY_RETRY_MS", process.env.SLIPWAY_NOTIFY_RETRY_MS),
        notifyMaxAttempts: positiveInt(
          "SLIPWAY_NOTIFY_MAX_ATTEMPTS",
          process.env.SLIPWAY_NOTIFY_MAX_ATTEMPTS,
        ),
        webhooks: {
          maxInflightBytes: positiveInt(
            "--webhook-max-inflight",
            flags.webhookMaxInflight ?? (process.env.SLIPWAY_WEBHOOK_MAX_INFLIGHT || undefined),
          ),
          legacyMaxBody: positiveInt(
            "--webhook-legacy-max-body",
            flags.webhookLegacyMaxBody ?? (process.env.SLIPWAY_WEBHOOK_LEGACY_MAX_BODY || undefined),
          ),
          replayWindowMs: replayWindowS === undefined ? undefined : replayWindowS * 1000,
        },
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stderr.write(
        `slipway server listening on ${server.url} (data: ${dataDir}, database: ${server.store.location}); dashboard at ${server.url}/\n`,
      );
      process.stderr.write(`the server's own runner ${untrusted.describe}\n`);
      if (server.adminToken) {
        process.stderr.write(
          `admin token (shown once; also in ${join(dataDir, "admin-token")}, mode 0600):\n${server.adminToken}\n`,
        );
      }
      process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
      const grace = Number(flags.shutdownGrace) * 1000;
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) {
            process.stderr.write(`${sig} again: stopping now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(
            `${sig}: stopping — no new jobs; running steps get up to ${flags.shutdownGrace}s\n`,
          );
          void server.stop(grace).then(done);
        };
        process.on("SIGTERM", () => stop("SIGTERM"));
        process.on("SIGINT", () => stop("SIGINT"));
      });
    });

  registerRunner(program);
}
