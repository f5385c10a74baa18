// Where one job leg's files live: its directory, workspace, temp dir, tool cache, event file, and the
// private place of its step scripts and file-command files. Laid out once when the leg starts (two
// layouts: the runner's own user, or an isolated fork leg whose user owns only what it may change);
// kept apart from job-state.ts, which holds what changes while the job runs.
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RunContext } from "./context.js";
import { giveTo, writeLegFile } from "./isolation.js";
import { makePrivateDir } from "./private-files.js";

export type JobDirs = {
  dir: string;
  workspace: string;
  temp: string;
  toolCache: string;
  eventPath: string;
  /** Where the runner puts step scripts and file-command files. */
  scriptDir: string;
  commandsDir: string;
  /** The environment host steps start from (the run's, with HOME and USER of an isolated leg's user). */
  hostEnv: Record<string, string>;
};

export type CommandFiles = Record<
  "GITHUB_OUTPUT" | "GITHUB_ENV" | "GITHUB_PATH" | "GITHUB_STEP_SUMMARY" | "GITHUB_STATE",
  string
>;

/** Makes the directories of the job leg `key` in the run's work dir, each with its owner and mode. */
export function makeJobDirs(run: RunContext, key: string): JobDirs {
  const safe = key.replace(/[^A-Za-z0-9._-]+/g, "_");
  const dir = join(run.workDir, safe);
  const repoName = run.repository.split("/").pop() || "repo";
  const workspace = join(dir, repoName);
  const temp = join(dir, "_temp");
  // Scripts with interpolated secrets and GITHUB_ENV files live here: private to slipway's user.
  makePrivateDir(run.workDir);
  makePrivateDir(dir);
  const runAs = run.runAs;
  if (!runAs) {
    const toolCache = join(run.dataDir, "toolcache");
    const commandsDir = join(temp, "_runner_file_commands");
    mkdirSync(workspace, { recursive: true, mode: 0o700 });
    makePrivateDir(temp);
    makePrivateDir(commandsDir);
    makePrivateDir(join(temp, "_github_workflow"));
    mkdirSync(toolCache, { recursive: true });
    const eventPath = join(temp, "_github_workflow", "event.json");
    return { dir, workspace, temp, toolCache, eventPath, scriptDir: temp, commandsDir, hostEnv: run.hostEnv };
  }
  // An isolated fork leg: the job dir is the runner's (the leg's user may enter, not list or
  // change it); in it, the workspace, temp dir, tool cache and HOME are the user's. Scripts and
  // file-command files sit in the runner's _runner dir, each file the user's: the step writes them,
  // but cannot swap one for a symlink to a file of the runner's that the runner would then read.
  const toolCache = join(dir, "_tool");
  const scriptDir = join(dir, "_runner");
  const home = join(dir, "_home");
  chmodSync(run.workDir, 0o711);
  chmodSync(dir, 0o711);
  for (const d of [workspace, temp, toolCache, home]) {
    makePrivateDir(d);
    giveTo(d, runAs);
  }
  makePrivateDir(scriptDir);
  chmodSync(scriptDir, 0o711);
  const hostEnv = {
    ...run.hostEnv,
    HOME: home,
    USER: runAs.name,
    LOGNAME: runAs.name,
    TMPDIR: temp,
  };
  const eventPath = join(scriptDir, "event.json");
  return { dir, workspace, temp, toolCache, eventPath, scriptDir, commandsDir: scriptDir, hostEnv };
}

/** Writes the run's event payload to the job's event file (GITHUB_EVENT_PATH), afresh. */
export function writeEventFile(run: RunContext, eventPath: string): void {
  rmSync(eventPath, { force: true });
  writeLegFile(eventPath, JSON.stringify(run.event.payload, null, 2), 0o600, run.runAs);
}

/**
 * Fresh file-command files for one step (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY,
 * GITHUB_STATE), as GitHub's runner makes them: a step never sees, nor appends to, what an earlier step
 * wrote. Empty, 0600; the caller reads and removes them when the step ends.
 */
export function newCommandFiles(commandsDir: string, run: RunContext): CommandFiles {
  const id = randomUUID();
  const files: CommandFiles = {
    GITHUB_OUTPUT: join(commandsDir, `set_output_${id}`),
    GITHUB_ENV: join(commandsDir, `set_env_${id}`),
    GITHUB_PATH: join(commandsDir, `add_path_${id}`),
    GITHUB_STEP_SUMMARY: join(commandsDir, `step_summary_${id}`),
    GITHUB_STATE: join(commandsDir, `save_state_${id}`),
  };
  for (const f of Object.values(files)) writeLegFile(f, "", 0o600, run.runAs);
  return files;
}
