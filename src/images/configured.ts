// A build as slipway.yaml describes it: load the config, read the git state, plan, and build. The CLI
// (`slipway build`) and the workflow step (`uses: slipway/build@v1`) both come through here.
import { posix, relative, resolve, sep } from "node:path";
import { loadConfig } from "../config/index.js";
import { connectEngine } from "../engines/index.js";
import { UserError } from "../lib/errors.js";
import { applyBuild, type BuildEvent, type BuildResult } from "./apply.js";
import { readGitState } from "./git.js";
import { type BuildPlan, planBuild } from "./plan.js";

export type ConfiguredBuildOptions = {
  /** The directory the config path is relative to. */
  dir: string;
  config: string;
  all?: boolean;
  push?: boolean;
  version?: string;
  since?: string;
  concurrency?: number;
  noCache?: boolean;
  /** No registry credentials at all (a fork's pull request builds, and must not read private images). */
  anonymous?: boolean;
  resultFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Where `env:` build secrets are read (default `env`, else process.env). */
  secretsEnv?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onPlan?: (plan: BuildPlan, since: string) => void;
  onLog?: (service: string, line: string) => void;
  onEvent?: (e: BuildEvent) => void;
  /** Plan only. */
  dryRun?: boolean;
};

export async function planConfiguredBuild(
  opts: ConfiguredBuildOptions,
): Promise<{ plan: BuildPlan; root: string; git: Awaited<ReturnType<typeof readGitState>>; since: string }> {
  const configPath = resolve(opts.dir, opts.config);
  // Problems name the file relative to the working directory when it is below it.
  const shown = relative(process.cwd(), configPath);
  const loaded = loadConfig(shown && !shown.startsWith("..") ? shown : configPath);
  const build = loaded.config.build;
  if (!build) {
    throw new UserError(`${opts.config} has no build section`, [
      { file: loaded.file, message: "no `build:` section: nothing to build (see docs/slipway-yaml.md)" },
    ]);
  }
  const git = await readGitState(loaded.dir, { since: opts.since, env: opts.env, signal: opts.signal });
  const version = opts.version ?? git.headVersion ?? git.sha.slice(0, 7);
  const base = relative(git.root, loaded.dir).split(sep).join(posix.sep);
  const plan = planBuild({
    config: build,
    base,
    changedFiles: git.changedFiles,
    all: opts.all,
    version,
    git,
    previous: git.previous,
    releases: git.releases,
  });
  const since = git.since ? `changes since ${git.since}` : "no previous release";
  return { plan, root: loaded.dir, git, since };
}

export async function runConfiguredBuild(
  opts: ConfiguredBuildOptions,
): Promise<{ plan: BuildPlan; result?: BuildResult }> {
  const { plan, root, git, since } = await planConfiguredBuild(opts);
  opts.onPlan?.(plan, since);
  if (opts.dryRun) return { plan };
  const result = await applyBuild(plan, {
    engine: connectEngine({ env: opts.env }),
    root,
    push: opts.push,
    concurrency: opts.concurrency,
    noCache: opts.noCache,
    ...(opts.anonymous ? { auth: () => undefined } : {}),
    env: opts.secretsEnv ?? opts.env,
    resultFile: opts.resultFile,
    git,
    signal: opts.signal,
    onLog: opts.onLog,
    onEvent: opts.onEvent,
  });
  return { plan, result };
}
