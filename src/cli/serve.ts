// `slipway serve` and `slipway runner`: the CI server, and an agent that runs its jobs elsewhere; the
// runner's subcommands (ls, disable, enable, rm) are the admin's controls over registered runners.
import { hostname } from "node:os";
import { Readable } from "node:stream";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { childEnv, passEnvNames } from "../lib/child-env.js";
import { OperationError, UserError } from "../lib/errors.js";
import { makeDataDirPrivate, restrictUmask } from "../lib/file-modes.js";
import { ProcessLedger, withLedger } from "../lib/process-ledger.js";
import {
  defaultDataDir,
  type JobResult,
  jobLogLimit,
  killGraceMs,
  type RunnerTransport,
  parseSize,
  runAgent,
  type ServerArtifact,
  type StepReport,
  untrustedPolicy,
  actionSource,
  type ActionSourceSettings,
  validateActionsUrl,
} from "../runner/index.js";
import { resetAdminToken, startServer } from "../server/index.js";
import { type ApiFailure, ApiClient, type ClientFlags } from "./client.js";
import { collect } from "./options.js";
import { formatTimestamp, textTable } from "../lib/format.js";
import { confirm, type ConfirmFlags, yesOption } from "./confirm.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";

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

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${flag} must be a whole number, got '${v}'`);
  return n;
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

  const runner = program
    .command("runner")
    .description("run jobs for a slipway server on this machine (subcommands: ls, disable, enable, rm)")
    .option("--server <url>", "the server (env SLIPWAY_SERVER)")
    .addOption(hiddenTokenOption("runner token", "SLIPWAY_RUNNER_TOKEN"))
    .option(
      "--token-file <file>",
      "read the runner token (slwr_…), or an admin token to register this runner, from this file (mode 0600; else env SLIPWAY_RUNNER_TOKEN)",
    )
    .hook("preAction", resolveTokenHook)
    .option("--labels <labels>", "runs-on labels this runner takes", "self-hosted,linux")
    .option("--name <name>", "the runner's name", hostname())
    .option("--concurrency <n>", "legs run at once", "1")
    .option("--data-dir <dir>", "the runner's work and cache directory")
    .option(
      "--untrusted <mode>",
      "fork pull requests on this runner: isolate (default: run them as --untrusted-user, which needs root; without root they wait for a runner that can), same-user (this machine is disposable), refuse (env SLIPWAY_UNTRUSTED)",
    )
    .option(
      "--untrusted-user <user>",
      "the unprivileged user (name or uid) fork pull requests run as (env SLIPWAY_UNTRUSTED_USER; default nobody)",
    )
    .option(
      "--pass-env <NAME>",
      "pass this variable of the runner's environment to jobs (repeatable; env SLIPWAY_PASS_ENV=A,B)",
      collect,
      [] as string[],
    )
    .option(
      "--actions-url <url>",
      "fetch remote actions from this git server rather than the one the server names (env SLIPWAY_ACTIONS_URL; token: env SLIPWAY_ACTIONS_TOKEN)",
    )
    .option("--actions-offline", "use only this runner's action cache (env SLIPWAY_ACTIONS_OFFLINE=1)")
    .action(async (flags) => {
      // Work directories, step scripts and caches are private to the runner's user.
      restrictUmask();
      const hostEnv = childEnv(process.env, passEnvNames(process.env, flags.passEnv));
      const untrusted = untrustedPolicy({ mode: flags.untrusted, user: flags.untrustedUser });
      const actions = actionSettings(flags);
      const logLimit = jobLogLimit();
      const labels = flags.labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean);
      let token = flags.token ?? process.env.SLIPWAY_RUNNER_TOKEN;
      if (!token) throw new UserError("--token is required");
      if (!token.startsWith("slwr_")) {
        const admin = new ApiClient({ server: flags.server, token });
        const reg = await admin.request<{ token: string; runner: { id: string } }>(
          "POST",
          "/api/v1/runners",
          { name: flags.name, labels },
        );
        token = reg.token;
        process.stderr.write(`registered runner ${flags.name} (${reg.runner.id})\n`);
      }
      const api = new ApiClient({ server: flags.server, token });
      const stop = new AbortController();
      const abortLegs = new AbortController();
      let refused = false;
      // A removed or disabled runner stops at once: its legs were already failed on the server.
      const transport = httpTransport(api, labels, untrusted.accepts, () => {
        if (refused) return;
        refused = true;
        process.stderr.write("the server refuses this runner's token (removed or disabled): stopping\n");
        stop.abort();
        abortLegs.abort(new Error("the server refuses this runner's token"));
      });
      let signals = 0;
      const onSignal = () => {
        signals++;
        stop.abort();
        if (signals > 1) abortLegs.abort(new Error("the runner is stopping"));
        process.stderr.write(
          signals > 1
            ? "cancelling running jobs\n"
            : "stopping after the running jobs (signal again to cancel them)\n",
        );
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      const dataDir = resolve(flags.dataDir ?? join(defaultDataDir(), "runner"));
      // What a runner killed with -9 left running is stopped before this one takes jobs (the server
      // fails those jobs when their lease runs out).
      const ledger = new ProcessLedger(join(dataDir, "processes"));
      const reaped = await ledger.reap(killGraceMs);
      if (reaped.groups.length > 0)
        process.stderr.write(
          `stopped ${reaped.groups.length} step process group(s) left by an earlier runner\n`,
        );
      process.stderr.write(`runner ${flags.name} [${labels.join(", ")}] polling ${api.server}\n`);
      process.stderr.write(`runner ${flags.name} ${untrusted.describe}\n`);
      const opened = makeDataDirPrivate(dataDir);
      if (opened.length > 0)
        process.stderr.write(
          `warning: the runner's data directory was readable by other users; narrowed to 0700 (files 0600): ${opened.join(", ")}\n`,
        );
      await withLedger(ledger, () =>
        runAgent(transport, {
          dataDir,
          concurrency: positiveInt("--concurrency", flags.concurrency) || 1,
          signal: stop.signal,
          abortLegs: abortLegs.signal,
          heartbeatMs: Number(process.env.SLIPWAY_HEARTBEAT_MS ?? 5000),
          pollMs: 200,
          hostEnv,
          logLimit,
          untrusted,
          actions,
          log: (line) => process.stderr.write(`${line}\n`),
        }),
      );
      if (refused) throw new OperationError("the server refused this runner's token (removed or disabled)");
    });

  registerRunnerAdmin(runner as unknown as Command);
}

/**
 * The actions settings given by flags (only those given: the environment's apply through actionSource,
 * and a runner's unset ones defer to the server's); checked now, so a bad URL stops the start.
 */
function actionSettings(flags: { actionsUrl?: string; actionsOffline?: boolean }): ActionSourceSettings {
  const settings: ActionSourceSettings = {
    ...(flags.actionsUrl !== undefined ? { url: validateActionsUrl(flags.actionsUrl, "--actions-url") } : {}),
    ...(flags.actionsOffline ? { offline: true } : {}),
  };
  actionSource(settings);
  return settings;
}

// Commander's inferred types cannot follow options added by a helper; the actions declare their flags.
function withClient(cmd: any): any {
  return cmd
    .option("--server <url>", "the slipway server (env SLIPWAY_SERVER)")
    .addOption(hiddenTokenOption("admin API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("admin API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--json", "print JSON");
}

type RunnerView = {
  id: string;
  name: string;
  labels: string[];
  lastHeartbeatAt: number | null;
  createdAt: number;
  disabledAt: number | null;
};

/** `slipway runner ls|disable|enable|rm`: an admin's view and controls of the registered runners. */
function registerRunnerAdmin(runner: Command): void {
  const print = (flags: { json?: boolean }, data: unknown, human: () => string) =>
    process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : human());
  withClient(runner.command("ls").description("list registered runners (admin)")).action(
    async (flags: ClientFlags & { json?: boolean }) => {
      const r = await new ApiClient(flags).request<{ runners: RunnerView[] }>("GET", "/api/v1/runners");
      print(flags, r.runners, () => {
        const rows = [
          ["ID", "NAME", "LABELS", "STATE", "LAST SEEN"],
          ...r.runners.map((x) => [
            x.id,
            x.name,
            x.labels.join(","),
            x.disabledAt ? "disabled" : "enabled",
            formatTimestamp(x.lastHeartbeatAt),
          ]),
        ];
        return textTable(rows);
      });
    },
  );
  const control = (verb: "disable" | "enable" | "rm", description: string) => {
    const cmd = withClient(runner.command(verb).description(description).argument("<runner>", "name or id"));
    // Removing cannot be undone (the runner must register again): ask first, as for tokens.
    return (verb === "rm" ? yesOption(cmd) : cmd).action(
      async (ref: string, flags: ClientFlags & ConfirmFlags) => {
        const path = `/api/v1/runners/${encodeURIComponent(ref)}`;
        if (verb === "rm")
          await confirm(`remove runner ${ref}? its token stops working and its running jobs fail`, flags);
        const r =
          verb === "rm"
            ? await new ApiClient(flags).request<{ failedJobs?: number[] }>("DELETE", path)
            : await new ApiClient(flags).request<{ failedJobs?: number[] }>("POST", `${path}/${verb}`);
        const failed = r.failedJobs?.length ? ` (its ${r.failedJobs.length} running job(s) failed)` : "";
        const done = { disable: "disabled", enable: "enabled", rm: "removed" }[verb];
        print(flags, r, () => `${done} runner ${ref}${failed}\n`);
      },
    );
  };
  control("disable", "refuse a runner's token until it is enabled; its running jobs fail (admin)");
  control("enable", "accept a disabled runner's token again (admin)");
  control("rm", "remove a runner: its token stops working at once and its running jobs fail (admin)");
}

const artifactTransferMs = 60 * 60_000;

/**
 * The runner protocol over the server's HTTP API. `onRefused` is called when the server answers 401:
 * the runner was removed or disabled, and must stop rather than retry.
 */
export function httpTransport(
  api: ApiClient,
  labels: string[],
  untrusted: boolean,
  onRefused?: () => void,
): RunnerTransport {
  const refusedIf401 = (err: unknown): never => {
    if ((err as ApiFailure).status === 401) onRefused?.();
    throw err;
  };
  const waitMs = 20_000;
  return {
    async claim() {
      const r = await api
        .request<{ jobRowId?: string; spec?: unknown }>(
          "POST",
          "/api/v1/runner/claim",
          // Says whether this runner takes forks' legs: the server offers them only then.
          { labels, waitMs, ...(untrusted ? { untrusted } : {}) },
          { extraMs: waitMs },
        )
        .catch(refusedIf401);
      return r.jobRowId ? (r as { jobRowId: string; spec: never }) : null;
    },
    async heartbeat(id) {
      try {
        return (await api.request<{ ok: boolean }>("POST", `/api/v1/runner/jobs/${id}/heartbeat`, {})).ok;
      } catch (err) {
        // Refused: the leg is no longer this runner's; stop it like a lost lease.
        if ((err as ApiFailure).status === 401) {
          onRefused?.();
          return false;
        }
        throw err;
      }
    },
    async appendLog(id, seq, content) {
      await api.request("POST", `/api/v1/runner/jobs/${id}/logs`, { seq, content });
    },
    async step(id, step: StepReport) {
      await api.request("POST", `/api/v1/runner/jobs/${id}/steps`, step);
    },
    artifacts(id) {
      const base = `/api/v1/runner/jobs/${id}/artifacts`;
      return {
        async list(runId) {
          const q = runId === undefined ? "" : `?${new URLSearchParams({ run: runId })}`;
          return (await api.request<{ artifacts: ServerArtifact[] }>("GET", `${base}${q}`)).artifacts;
        },
        async upload(a, tar) {
          const q = new URLSearchParams({ name: a.name, overwrite: String(a.overwrite) });
          if (a.retentionDays !== undefined) q.set("retentionDays", String(a.retentionDays));
          // The answer comes once every byte is in: the deadline is for the whole transfer.
          const res = await api.stream("POST", `${base}?${q}`, tar, {
            contentType: "application/x-tar",
            timeoutMs: artifactTransferMs,
          });
          return ((await res.json()) as { artifact: ServerArtifact }).artifact;
        },
        async download(name, runId) {
          const q = runId === undefined ? "" : `?${new URLSearchParams({ run: runId })}`;
          const res = await api.stream("GET", `${base}/${encodeURIComponent(name)}${q}`);
          if (!res.body) throw new OperationError(`the server sent no content for artifact ${name}`);
          return Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
        },
      };
    },
    async complete(id, result: JobResult) {
      try {
        await api.request("POST", `/api/v1/runner/jobs/${id}/complete`, result);
      } catch (err) {
        // 400: the server could not accept the result as sent and has failed the job with the reason;
        // the runner goes on with other jobs.
        if ((err as ApiFailure).status !== 400) throw err;
        process.stderr.write(
          `runner: the server refused the result of job ${id}: ${(err as Error).message}\n`,
        );
      }
    },
  };
}
