// `slipway runner`: an agent that runs a server's jobs on this machine. It registers with an admin token
// when given one, reaps what an earlier runner killed with -9 left running, then claims legs until a
// signal (or the server refusing its token) stops it. Registered by registerServe (serve.ts).
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { childEnv, passEnvNames } from "../lib/child-env.js";
import { OperationError, UserError } from "../lib/errors.js";
import { makeDataDirPrivate, restrictUmask } from "../lib/file-modes.js";
import { ProcessLedger, withLedger } from "../lib/process-ledger.js";
import { defaultDataDir, jobLogLimit, killGraceMs, runAgent, untrustedPolicy } from "../runner/index.js";
import { ApiClient } from "./client.js";
import { collect } from "./options.js";
import { registerRunnerAdmin } from "./runner-admin.js";
import { httpTransport } from "./runner-transport.js";
import { actionSettings, positiveInt } from "./serve-flags.js";
import { hiddenTokenOption, resolveTokenHook } from "./token-flags.js";

export function registerRunner(program: Command): void {
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
