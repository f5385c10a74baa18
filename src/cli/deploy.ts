// `slipway deploy`, `rollback`, `promote`, `abort`, `releases`, `status`, `up`, `down`: thin commands over
// the deploy domain. A deploy is carried out by the environment's agent (started on demand, it keeps
// the routers and supervises the instances); these commands send it requests and render what it says.
// Progress goes to stderr, results (--json documents) to stdout.
import { basename } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { loadConfig, type NotifyConfig } from "../config/index.js";
import {
  type AgentPaths,
  agentError,
  agentPaths,
  callAgent,
  type DeployProgress,
  type DeploySpec,
  deployEventOf,
  ensureAgent,
  importCompose,
  type ReleaseDocument,
  resolveDeploySpec,
  startAgent,
  type StrategyName,
  strategyNames,
  streamAgent,
} from "../deploy/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { restrictUmask } from "../lib/file-modes.js";
import { Notifier } from "../notify/index.js";
import { createSecretStore, revealSecrets } from "../secrets/index.js";
import { openStore, type Release, type Store } from "../store/index.js";
import {
  existingMasterKey,
  localActor,
  localStoreOptions,
  type StoreFlags,
  withLocalStore,
} from "./secret.js";
import * as remote from "./deploy-remote.js";
import { checkStrategyFlag, parseImageFlags } from "./deploy-flags.js";
import { dryRunPlan, renderDeployPlan } from "./deploy-plan.js";
import { makeStyle, type Style } from "./tty.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";
import { confirm } from "./confirm.js";
import { deprecatedOption } from "./flags.js";

export type EnvFlags = StoreFlags & { config: string; env: string; app?: string; json?: boolean };

export const commonOptions = (c: Command) =>
  withOldEnvFlag(
    c
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
      .option("--server [url]", "on a running server instead (alone: SLIPWAY_SERVER or `slipway login`'s)")
      .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
      .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
      .hook("preAction", resolveTokenHook)
      .option("--json", "print JSON documents on stdout"),
  );

/** `-e` was the environment here before it meant --eventpath everywhere, as in `slipway run`. */
const withOldEnvFlag = <C>(c: C) =>
  deprecatedOption(c, "-e <name>", "--env", "-e is --eventpath, as in `slipway run`");

export type Target = { app: string; env: string; dataDir: string; database?: string; paths: AgentPaths };

/** Which app/env a command is about: --app, else slipway.yaml's deploy.app, else the directory's name. */
export function target(flags: EnvFlags, env: NodeJS.ProcessEnv): Target {
  let app = flags.app;
  if (!app) {
    try {
      const loaded = loadConfig(flags.config);
      app = loaded.config.deploy?.app ?? basename(loaded.dir);
    } catch (err) {
      if (flags.config !== "slipway.yaml") throw err;
      app = basename(process.cwd());
    }
  }
  const { dataDir, url } = localStoreOptions(flags, env);
  return { app, env: flags.env, dataDir, database: url, paths: agentPaths(dataDir, app, flags.env) };
}

/**
 * The detached agent's command. The database URL (it may hold a password) goes in its environment, never
 * in argv, which every local user can read in /proc/<pid>/cmdline.
 */
export function agentCommand(t: Target) {
  const args = [process.argv[1], "deploy", "agent", "--app", t.app, "--env", t.env, "--data-dir", t.dataDir];
  const env = { ...process.env };
  if (t.database) env.SLIPWAY_DATABASE = t.database;
  else delete env.SLIPWAY_DATABASE;
  return { file: process.execPath, args, env };
}

/** Controls that start an agent are refused for an app environment that was never deployed. */
async function requireKnownTarget(t: Target, flags: EnvFlags): Promise<void> {
  const known = await withLocalStore(flags, process.env, async (store) => {
    if (await store.deployApps.get(t.app, t.env)) return true;
    return (await store.releases.list({ app: t.app, env: t.env, limit: 1 })).length > 0;
  });
  if (!known) throw new UserError(`no app ${t.app}/${t.env}: it was never deployed (no release, no owner)`);
}

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

type DeployFlags = EnvFlags & {
  service?: string[];
  image?: string[];
  strategy?: string;
  version?: string;
  wait?: boolean;
  dryRun?: boolean;
};

/** Loads slipway.yaml's deploy: section and resolves it for the environment (with its notify: section). */
export function loadDeploySpec(flags: DeployFlags): { spec: DeploySpec; notify?: NotifyConfig } {
  const loaded = loadConfig(flags.config);
  const section = loaded.config.deploy;
  if (!section)
    throw new UserError(`${flags.config} has no deploy: section`, [
      { file: flags.config, message: "no deploy: section (see the README's Deploy section)" },
    ]);
  const images = parseImageFlags(flags.image);
  checkStrategyFlag(flags.strategy);
  const spec = resolveDeploySpec(section, {
    env: flags.env,
    configDir: loaded.dir,
    defaultApp: flags.app ?? basename(loaded.dir),
    images,
    strategy: flags.strategy as StrategyName | undefined,
    services: flags.service,
  });
  return { spec, notify: loaded.config.notify };
}

/** Who a release names: SLIPWAY_ACTOR, else the workflow's actor (GITHUB_ACTOR), else the local user. */
function deployActor(env: NodeJS.ProcessEnv): string {
  if (env.SLIPWAY_ACTOR) return env.SLIPWAY_ACTOR;
  if (env.GITHUB_ACTOR) return `workflow:${env.GITHUB_ACTOR}`;
  return localActor(env);
}

async function runDeploy(flags: DeployFlags): Promise<number> {
  const { spec, notify } = loadDeploySpec(flags);
  if (flags.app && flags.app !== spec.app) spec.app = flags.app;
  const t = target({ ...flags, app: spec.app }, process.env);
  if (flags.dryRun) {
    const plan = await withLocalStore(flags, process.env, (store) =>
      dryRunPlan(store, t.paths, t, { spec, only: flags.service }),
    );
    process.stdout.write(flags.json ? `${JSON.stringify(plan, null, 2)}\n` : renderDeployPlan(plan, t.env));
    return 0;
  }
  await ensureAgent(t.paths, agentCommand(t));
  return followStream(
    t,
    "/deploy",
    {
      spec,
      only: flags.service,
      version: flags.version ?? process.env.SLIPWAY_VERSION,
      trigger: process.env.GITHUB_ACTIONS || process.env.SLIPWAY_RUN ? "workflow" : "cli",
      actor: deployActor(process.env),
      wait: flags.wait,
      notify,
    },
    flags,
  );
}

/** Streams a deploy/rollback; Ctrl-C asks the agent to abort (it rolls back) and keeps following. */
async function followStream(t: Target, path: string, body: unknown, flags: EnvFlags): Promise<number> {
  const style = makeStyle({ json: flags.json });
  const started = Date.now();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      "\ninterrupted: aborting the deploy (it is rolled back); Ctrl-C again to stop watching\n",
    );
    void callAgent(t.paths.socketPath, "POST", "/abort").catch(() => {});
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const last = await streamAgent(t.paths.socketPath, path, body, (line) => {
      const e = line.event as DeployProgress | undefined;
      if (e) process.stderr.write(`${renderEvent(e, started, style)}\n`);
    });
    if (last.error) {
      const rel = (last.error as { release?: Release }).release;
      if (rel && flags.json) process.stdout.write(`${JSON.stringify(releaseView(rel), null, 2)}\n`);
      throw agentError(last);
    }
    const release = last.release as Release;
    if (flags.json) process.stdout.write(`${JSON.stringify(releaseView(release), null, 2)}\n`);
    else {
      process.stdout.write(`${releaseLine(release)}\n`);
      if (release.error) process.stdout.write(`${release.error}\n`);
      process.stdout.write(renderImpact(release.impact));
      const urls = (release.spec as ReleaseDocument).spec.services.filter((s) => s.publish);
      for (const s of urls) process.stdout.write(`${s.name}: http://${s.publish!.host}:${s.publish!.port}\n`);
    }
    return release.status === "succeeded" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function runAgent(flags: {
  app: string;
  env: string;
  dataDir: string;
  database?: string;
  dockerHost?: string;
}) {
  const env = process.env;
  const opts = localStoreOptions({ dataDir: flags.dataDir, database: flags.database }, env);
  let store: Store;
  try {
    store = await openStore(opts);
  } catch (err) {
    throw new OperationError(`deploy agent: cannot open the store: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const paths = agentPaths(opts.dataDir, flags.app, flags.env);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const idleTimeoutMs = agentIdleTimeoutMs(env);
  // Deliveries run in the agent, which lives on after the CLI: retries are not cut short by it exiting.
  const notifier = new Notifier({
    store,
    secret: (name, repo) =>
      createSecretStore(store, existingMasterKey(opts.dataDir, env)).lookup(name, {
        repo: repo ?? undefined,
      }),
    log,
  });
  await notifier.start();
  const agent = await startAgent({
    app: flags.app,
    env: flags.env,
    paths,
    store,
    dockerHost: flags.dockerHost ?? env.SLIPWAY_DOCKER_HOST,
    log,
    idleTimeoutMs,
    notify: (notice) => {
      if (notice.config)
        void notifier.send(deployEventOf(notice), notice.config as NotifyConfig, { scope: flags.app });
    },
    secrets: async (names) => {
      const secrets = createSecretStore(store, existingMasterKey(opts.dataDir, env));
      const all = revealSecrets(await secrets.resolve({ repo: flags.app, env: flags.env }));
      return Object.fromEntries(names.filter((n) => all[n] !== undefined).map((n) => [n, all[n]]));
    },
  });
  const stop = () => void agent.close({ stopInstances: false });
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await agent.closed;
  await notifier.stop();
  await store.close();
  log("agent stopped");
}

/** SLIPWAY_AGENT_IDLE_TIMEOUT: seconds an agent with nothing to supervise lives on (default 600; 0: forever). */
function agentIdleTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.SLIPWAY_AGENT_IDLE_TIMEOUT;
  if (raw === undefined || raw === "") return 600_000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0)
    throw new UserError(`SLIPWAY_AGENT_IDLE_TIMEOUT must be a number of seconds ≥ 0, got '${raw}'`);
  return Math.round(s * 1000);
}

// Rendering -------------------------------------------------------------------------------------------

type StatusView = {
  app: string;
  env: string;
  runtime: string;
  current: { number: number; version: string | null } | null;
  active: { number: number; actor: string } | null;
  services: {
    name: string;
    revision: string | null;
    replicas: number;
    router: { url: string; weights: Record<string, number> } | null;
    instances: { id: string; revision: string; state: string; healthy: boolean; address: string | null }[];
  }[];
};

function renderStatus(s: StatusView | undefined): string {
  if (!s) return "";
  const lines = [
    `${s.app}/${s.env}: current release ${s.current ? `#${s.current.number}${s.current.version ? ` (${s.current.version})` : ""}` : "none"}${s.active ? `, deploying #${s.active.number} (${s.active.actor})` : ""}`,
  ];
  for (const svc of s.services) {
    const weights = svc.router
      ? Object.entries(svc.router.weights)
          .filter(([, w]) => w > 0)
          .map(([v, w]) => `${v} ${w}%`)
          .join(", ") || "no traffic"
      : "";
    lines.push(
      `  ${svc.name}  ${svc.revision ?? "-"}  ${svc.instances.filter((i) => i.state === "ready").length}/${svc.replicas} ready${svc.router ? `  ${svc.router.url}  ${weights}` : ""}`,
    );
    for (const i of svc.instances)
      lines.push(`    ${i.id}  ${i.state}${i.healthy ? "" : " (unhealthy)"}  ${i.address ?? ""}`);
  }
  return `${lines.join("\n")}\n`;
}

function renderEvent(e: DeployProgress, started: number, style: Style): string {
  const t = `${((e.at - started) / 1000).toFixed(1).padStart(6)}s`;
  const msg =
    e.level === "error" ? style.red(e.message) : e.level === "warn" ? style.yellow(e.message) : e.message;
  return `${style.dim(t)} ${msg}`;
}

function releaseView(r: Release) {
  const doc = r.spec as ReleaseDocument | undefined;
  return {
    number: r.number,
    app: r.app,
    env: r.env,
    kind: r.kind,
    rollbackOf: r.rollbackOf,
    version: r.version,
    status: r.status,
    phase: r.phase,
    error: r.error,
    trigger: r.trigger,
    actor: r.actor,
    strategy: r.strategy,
    revisions: doc?.revisions ?? {},
    changed: doc?.changed ?? [],
    images: r.images,
    specHash: r.specHash,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    durationMs: r.finishedAt ? r.finishedAt - r.startedAt : null,
    impact: r.impact,
  };
}

function releaseLine(r: Release): string {
  const took = r.finishedAt ? ` in ${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s` : "";
  const what = r.kind === "rollback" ? ` rollback to #${r.rollbackOf}` : "";
  return `#${r.number}${r.version ? ` ${r.version}` : ""}${what} ${r.status.replace("_", " ")}${r.status === "failed" && r.phase ? ` (${r.phase})` : ""}${took}  ${new Date(r.createdAt).toISOString()}  ${r.actor}`;
}

function renderImpact(impact: unknown): string {
  const services = (
    impact as { services?: Record<string, Record<string, Record<string, number | null>>> } | null
  )?.services;
  if (!services) return "";
  const lines: string[] = [];
  for (const [svc, versions] of Object.entries(services))
    for (const [v, f] of Object.entries(versions))
      lines.push(
        `  ${svc} ${v}: ${f.requests} requests, ${f.failed} failed, ${f.errors5xx} 5xx, p50 ${fmtMs(f.p50Ms)}, p99 ${fmtMs(f.p99Ms)}`,
      );
  return lines.length ? `impact during the rollout (measured by the router):\n${lines.join("\n")}\n` : "";
}

/** The rendering above, for the same commands against a server (deploy-remote.ts). */
const renderers: remote.Renderers = { releaseView, releaseLine, renderImpact, renderEvent, renderStatus };

const fmtMs = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `${v.toFixed(1)} ms`);
