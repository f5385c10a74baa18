// `slipway deploy`, `rollback`, `promote`, `abort`, `releases`, `status`, `up`, `down`: thin commands over
// the deploy domain. A deploy is carried out by the environment's agent (started on demand, it keeps
// the routers and supervises the instances); these commands send it requests and render what it says.
// Progress goes to stderr, results (--json documents) to stdout. This file registers the commands; the
// target and shared options are in deploy-target.ts, a local deploy's work in deploy-run.ts, the agent in
// deploy-agent.ts, the rendering in deploy-render.ts and the --server variants in deploy-remote.ts.
import type { Command } from "@commander-js/extra-typings";
import { agentError, callAgent, ensureAgent, importCompose, strategyNames } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import { restrictUmask } from "../lib/file-modes.js";
import { confirm } from "./confirm.js";
import { runAgent } from "./deploy-agent.js";
import * as remote from "./deploy-remote.js";
import {
  releaseLine,
  releaseView,
  renderers,
  renderImpact,
  renderStatus,
  type StatusView,
} from "./deploy-render.js";
import { type DeployFlags, deployActor, followStream, runDeploy } from "./deploy-run.js";
import { agentCommand, commonOptions, type EnvFlags, requireKnownTarget, target } from "./deploy-target.js";
import { deprecatedOption } from "./flags.js";
import { withLocalStore } from "./secret.js";

// What other modules imported from here before the split: still importable from this module.
export { loadDeploySpec } from "./deploy-run.js";
export { agentCommand, commonOptions, type EnvFlags, type Target, target } from "./deploy-target.js";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerDeploy(program: Command) {
  const deploy = commonOptions(
    program
      .command("deploy")
      .description(
        "deploy slipway.yaml's services: zero-downtime rollout through slipway's router, health-gated, rolled back on failure",
      ),
  )
    .option(
      "--service <name>",
      "deploy only this service (repeatable); the others keep running as they are",
      collect,
    )
    .option("-i, --image <service=ref>", "deploy this image for a service (repeatable)", collect)
    .option("--strategy <name>", `override every deployed service's strategy (${strategyNames.join(", ")})`)
    .option("--version <version>", "the version this release carries (default: SLIPWAY_VERSION)")
    .option("--wait", "wait for a deploy in progress instead of refusing")
    .option("-n, --dry-run", "print the plan (what changes against what runs, and why) and exit")
    .option("--repo <name>", "with --server: the registered repository to deploy")
    .option("--ref <ref>", "with --server: the branch, tag or commit (default: the default branch)")
    .action(async (flags) => {
      if (remote.isRemote(flags)) return remote.deployRemote(flags, renderers);
      process.exitCode = await runDeploy(flags as DeployFlags);
    });
  deprecatedOption(deploy, "-s <name>", "--service", "-s is --secret, as in `slipway run`");

  deploy
    .command("agent", { hidden: true })
    .description("run an environment's deploy agent in the foreground (started by slipway deploy)")
    .requiredOption("--app <name>")
    .requiredOption("-E, --env <name>")
    .requiredOption("--data-dir <dir>")
    .option("--database <url>", "prefer SLIPWAY_DATABASE: argv is visible to every local user")
    .option("--docker-host <url>")
    .action(async (flags) => {
      restrictUmask(); // the agent's sockets, state and logs are private to its user
      await runAgent(flags);
    });

  commonOptions(
    deploy
      .command("owner")
      .description(
        "the repository that owns the app environment on the server (its first deploy claimed it); --bind moves it (admin)",
      ),
  )
    .option("--bind <repo>", "rebind the app environment, and its secrets, to this registered repository")
    .action(async (flags) => {
      if (!remote.isRemote(flags))
        throw new UserError(
          "app owners are recorded by a server: use --server (SLIPWAY_SERVER or `slipway login`'s)",
        );
      await remote.ownerRemote(flags as typeof flags & remote.RemoteFlags);
    });

  deploy
    .command("import-compose")
    .description("print a deploy: section for slipway.yaml from a docker-compose.yml")
    .argument("[file]", "the compose file", "docker-compose.yml")
    .action(async (file) => {
      const { readFileSync } = await import("node:fs");
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const out = importCompose(text, file);
      for (const w of out.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(out.yaml);
    });

  commonOptions(
    program
      .command("rollback")
      .description("deploy an earlier successful release again (default: the one before the current)"),
  )
    .option("--to <number>", "the release number to go back to")
    .option("--wait", "wait for a deploy in progress instead of refusing")
    .action(async (flags) => {
      if (remote.isRemote(flags)) return remote.rollbackRemote(flags, renderers);
      const t = target(flags as EnvFlags, process.env);
      const to = flags.to === undefined ? undefined : Number(flags.to);
      if (to !== undefined && !Number.isInteger(to))
        throw new UserError(`--to: not a release number: ${flags.to}`);
      await requireKnownTarget(t, flags as EnvFlags);
      await ensureAgent(t.paths, agentCommand(t));
      process.exitCode = await followStream(
        t,
        "/rollback",
        { to, actor: deployActor(process.env), trigger: "cli", wait: flags.wait },
        flags as EnvFlags,
      );
    });

  for (const [name, what] of [
    ["promote", "let a paused canary continue to 100%"],
    ["abort", "stop the deploy in progress and roll it back"],
  ] as const) {
    commonOptions(program.command(name).description(what)).action(async (flags) => {
      if (remote.isRemote(flags)) return remote.controlRemote(name, flags);
      const t = target(flags as EnvFlags, process.env);
      const reply = await callAgent(t.paths.socketPath, "POST", `/${name}`);
      if (!reply)
        throw new UserError(`no deploy agent runs for ${t.app}/${t.env}, so no deploy is in progress`);
      if (reply.status !== 200) throw agentError(reply.body, reply.status);
      const r = reply.body as { release: number };
      if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stderr.write(`${name === "promote" ? "promoted" : "aborting"} release #${r.release}\n`);
    });
  }

  const releases = commonOptions(
    program.command("releases").description("list an environment's releases, newest first"),
  )
    .option("-L, --limit <n>", "how many", "20")
    .action(async (flags) => {
      if (remote.isRemote(flags)) return remote.releasesRemote(flags, renderers);
      const t = target(flags as EnvFlags, process.env);
      await withLocalStore(flags as EnvFlags, process.env, async (store) => {
        const list = await store.releases.list({ app: t.app, env: t.env, limit: Number(flags.limit) || 20 });
        if (flags.json)
          return void process.stdout.write(`${JSON.stringify(list.map(releaseView), null, 2)}\n`);
        if (list.length === 0) return void process.stderr.write(`no releases of ${t.app}/${t.env} yet\n`);
        for (const r of list) process.stdout.write(`${releaseLine(r)}\n`);
      });
    });
  deprecatedOption(releases, "-n <n>", "--limit", "-n is --dry-run everywhere");
  commonOptions(releases.command("show").description("one release with its events and measured impact"))
    .argument("<number>", "the release number")
    .action(async (number, flags) => {
      if (remote.isRemote(flags)) return remote.releaseShowRemote(number, flags, renderers);
      const t = target(flags as EnvFlags, process.env);
      await withLocalStore(flags as EnvFlags, process.env, async (store) => {
        const r = await store.releases.byNumber(t.app, t.env, Number(number));
        if (!r) throw new UserError(`${t.app}/${t.env} has no release #${number}`);
        const events = await store.releases.events(r.id, { limit: 10_000 });
        if (flags.json)
          return void process.stdout.write(`${JSON.stringify({ ...releaseView(r), events }, null, 2)}\n`);
        process.stdout.write(`${releaseLine(r)}\n`);
        if (r.error) process.stdout.write(`error: ${r.error}\n`);
        for (const e of events)
          process.stdout.write(
            `  ${new Date(e.at).toISOString().slice(11, 23)} ${e.level.padEnd(5)} ${e.message}\n`,
          );
        process.stdout.write(renderImpact(r.impact));
      });
    });

  commonOptions(
    program.command("status").description("services, instances, versions, health and traffic weights"),
  ).action(async (flags) => {
    if (remote.isRemote(flags)) return remote.statusRemote(flags, renderers);
    const t = target(flags as EnvFlags, process.env);
    const reply = await callAgent(t.paths.socketPath, "GET", "/status");
    if (!reply) {
      const current = await withLocalStore(flags as EnvFlags, process.env, (s) =>
        s.releases.current(t.app, t.env),
      );
      const doc = { app: t.app, env: t.env, agent: null, current: current ? releaseView(current) : null };
      if (flags.json) return void process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      process.stdout.write(
        `${t.app}/${t.env}: the deploy agent is not running${current ? ` (current release #${current.number}; \`slipway up\` re-adopts its instances)` : ""}\n`,
      );
      return;
    }
    if (flags.json) return void process.stdout.write(`${JSON.stringify(reply.body, null, 2)}\n`);
    process.stdout.write(renderStatus(reply.body as StatusView));
  });

  commonOptions(
    program
      .command("up")
      .description(
        "start the environment's agent: re-adopt running instances and converge to the current release",
      ),
  ).action(async (flags) => {
    if (remote.isRemote(flags)) remote.localOnly("up");
    const t = target(flags as EnvFlags, process.env);
    await requireKnownTarget(t, flags as EnvFlags);
    const how = await ensureAgent(t.paths, agentCommand(t));
    const reply = await callAgent(t.paths.socketPath, "GET", "/status");
    if (flags.json) return void process.stdout.write(`${JSON.stringify(reply?.body, null, 2)}\n`);
    process.stderr.write(
      `agent ${how === "started" ? "started" : "already running"} for ${t.app}/${t.env}\n`,
    );
    process.stdout.write(renderStatus(reply?.body as StatusView));
  });

  commonOptions(program.command("down").description("stop the environment's agent and its instances"))
    .option(
      "--keep-instances",
      "stop only the agent (and routers); instances keep running for the next `slipway up`",
    )
    .option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)")
    .action(async (flags) => {
      if (remote.isRemote(flags)) remote.localOnly("down");
      const t = target(flags as EnvFlags, process.env);
      await confirm(
        flags.keepInstances
          ? `Stop the deploy agent of ${t.app}/${t.env} (instances keep running)?`
          : `Stop ${t.app}/${t.env}: its deploy agent and every instance?`,
        flags,
      );
      const reply = await callAgent(t.paths.socketPath, "POST", "/shutdown", {
        stopInstances: !flags.keepInstances,
      });
      if (!reply) return void process.stderr.write(`no deploy agent runs for ${t.app}/${t.env}\n`);
      if (reply.status !== 200) throw agentError(reply.body, reply.status);
      process.stderr.write(
        `stopped ${t.app}/${t.env}${flags.keepInstances ? " (instances left running)" : ""}\n`,
      );
    });
}
