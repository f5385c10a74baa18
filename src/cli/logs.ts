// `slipway logs SERVICE`: the output of a deployed service's instances (Kamal's `app logs`), read through
// the environment's agent: process instances' rotated log files, containers' logs from their engine.
// `slipway logs RUN` (a run number) is the log of a CI run on a server (ci.ts), as before.
//
// Only what a run's log needs is imported up front (as light as `slipway logs RUN` was in ci.ts): the deploy
// domain, the store and the config are loaded when the argument is a service.
import type { Command } from "@commander-js/extra-typings";
import { UserError } from "../lib/errors.js";
import { printRunLogs, type RunLogFlags } from "./ci.js";
import type { EnvFlags } from "./deploy-target.js";
import { deprecatedOption } from "./flags.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";

type LogsFlags = EnvFlags & {
  follow?: boolean;
  since?: string;
  instance?: string;
  tail?: string;
  job?: string;
  attempt?: string;
  server?: string | boolean;
  token?: string;
};

/** --since: a duration back from now (10m, 1h30m, 90) or a time (2026-01-02T03:04:05Z); ms since the epoch. */
export function parseSince(value: string, parseDuration: (v: string) => number, now = Date.now()): number {
  try {
    return now - parseDuration(value);
  } catch {
    // not a duration: a time
  }
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new UserError(
      `--since: '${value}' is neither a duration (10m, 1h30m, 90 for seconds) nor a time (2026-01-02T03:04:05Z)`,
    );
  return at;
}

/** --tail: a number of lines or `all`; undefined for all. Default: 100 lines, or all with --since. */
export function parseTail(value: string | undefined, since: boolean): number | undefined {
  if (value === undefined) return since ? undefined : 100;
  if (value === "all") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`--tail: not a number of lines or 'all': ${value}`);
  return n;
}

export function registerLogs(program: Command) {
  // The options of deploy.ts's commonOptions, written out: importing it would load the deploy domain.
  const cmd = program
    .command("logs")
    .description(
      "the output of a deployed service's instances (-f follows it), or with a run number the log of a CI run",
    )
    .option("-c, --config <file>", "slipway.yaml", "slipway.yaml")
    .option("-E, --env <name>", "the environment", "production")
    .option(
      "--app <name>",
      "the application (default: deploy.app of slipway.yaml, else the directory's name)",
    )
    .option(
      "--data-dir <dir>",
      "where the store and the agents' state live (default: ~/.local/share/slipway/server)",
    )
    .option("--database <url>", "a PostgreSQL URL instead of the SQLite file (env SLIPWAY_DATABASE)")
    .option("--server [url]", "run logs: the server (alone: SLIPWAY_SERVER or `slipway login`'s)")
    .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--json", "print JSON documents on stdout")
    .argument("<service|run>", "a service of slipway.yaml's deploy: section, or a CI run number")
    .option("-f, --follow", "keep printing new output (across log rotations) until Ctrl-C")
    .option("--since <duration|time>", "only output since then: 10m, 1h30m, or 2026-01-02T03:04:05Z")
    .option("--instance <id>", "only this instance (default: every running instance of the service)")
    .option("--tail <n>", "the last N lines first, or all (default 100; all with --since)")
    .option("-j, --job <key>", "run log: a job id or job key (e.g. build or build-2)")
    .option("--attempt <n>", "run log: the attempt (default: the latest)")
    .addHelpText(
      "after",
      "\nExamples:\n  slipway logs api -f                  follow every running api instance\n  slipway logs api -E staging --since 10m --instance api-r3-1\n  slipway logs 12 --job build --follow  the log of CI run 12's build job (on --server)\n",
    );
  /** `-e` was the environment in deploy's commands before it meant --eventpath everywhere. */
  deprecatedOption(cmd, "-e <name>", "--env", "-e is --eventpath, as in `slipway run`").action(
    async (what, flags) => {
      const f = flags as LogsFlags;
      if (/^\d+$/.test(what) || f.job !== undefined || f.attempt !== undefined) {
        const server = typeof f.server === "string" ? f.server : undefined;
        return printRunLogs(what, { ...(f as unknown as RunLogFlags), server });
      }
      const [{ parseDuration }, { streamInstanceLogs }, { localOnly }, { instanceTarget }] =
        await Promise.all([
          import("../config/index.js"),
          import("../deploy/index.js"),
          import("./deploy-remote.js"),
          import("./instance-target.js"),
        ]);
      if (f.server !== undefined) localOnly("logs SERVICE");
      const since = f.since === undefined ? undefined : parseSince(f.since, parseDuration);
      const tail = parseTail(f.tail, since !== undefined);
      const t = await instanceTarget(f);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const seen = new Set<string>();
      try {
        await streamInstanceLogs(
          t.paths.socketPath,
          { service: what, instance: f.instance, follow: f.follow, since, tail },
          (r) => {
            if (f.json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
            seen.add(r.instance);
            // Several instances: each line says whose it is.
            process.stdout.write(
              seen.size > 1 || !f.instance ? `${r.instance} | ${r.line}\n` : `${r.line}\n`,
            );
          },
          stop.signal,
        );
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    },
  );
}
