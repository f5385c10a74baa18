// Which app environment a deploy command is about, and the options every such command shares: the
// target (--app, slipway.yaml's deploy.app, else the directory's name), its store and its agent's paths,
// and the command line that starts that agent. Used by deploy.ts and by logs, exec and their helpers.
import { basename } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { loadConfig } from "../config/index.js";
import { type AgentPaths, agentPaths } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import { deprecatedOption } from "./flags.js";
import { localStoreOptions, type StoreFlags, withLocalStore } from "./secret.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";

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
export async function requireKnownTarget(t: Target, flags: EnvFlags): Promise<void> {
  const known = await withLocalStore(flags, process.env, async (store) => {
    if (await store.deployApps.get(t.app, t.env)) return true;
    return (await store.releases.list({ app: t.app, env: t.env, limit: 1 })).length > 0;
  });
  if (!known) throw new UserError(`no app ${t.app}/${t.env}: it was never deployed (no release, no owner)`);
}
