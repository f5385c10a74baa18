// What `slipway deploy` and `slipway rollback` do on this machine: load and resolve slipway.yaml's deploy:
// section, print the plan for --dry-run, else hand the release to the environment's agent and follow its
// progress stream until the release has succeeded or failed (exit 0 or 1).
import { basename } from "node:path";
import { loadConfig, type NotifyConfig } from "../config/index.js";
import {
  agentError,
  callAgent,
  type DeployProgress,
  type DeploySpec,
  ensureAgent,
  type ReleaseDocument,
  resolveDeploySpec,
  type StrategyName,
  streamAgent,
} from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import type { Release } from "../store/index.js";
import { checkStrategyFlag, parseImageFlags } from "./deploy-flags.js";
import { dryRunPlan, renderDeployPlan } from "./deploy-plan.js";
import { releaseLine, releaseView, renderEvent, renderImpact } from "./deploy-render.js";
import { agentCommand, type EnvFlags, type Target, target } from "./deploy-target.js";
import { localActor, withLocalStore } from "./secret.js";
import { makeStyle } from "./tty.js";

export type DeployFlags = EnvFlags & {
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
export function deployActor(env: NodeJS.ProcessEnv): string {
  if (env.SLIPWAY_ACTOR) return env.SLIPWAY_ACTOR;
  if (env.GITHUB_ACTOR) return `workflow:${env.GITHUB_ACTOR}`;
  return localActor(env);
}

export async function runDeploy(flags: DeployFlags): Promise<number> {
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
export async function followStream(t: Target, path: string, body: unknown, flags: EnvFlags): Promise<number> {
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
