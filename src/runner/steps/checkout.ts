// actions/checkout of the run's own repository, done natively and offline: a shared clone of the
// local repository at the event's sha (or the requested ref) in the workspace.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { relative, resolve } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { git as runGit } from "../../lib/git.js";
import type { JobState } from "../job-state.js";
import type { StepRunResult } from "./types.js";

const exec = promisify(execFile);

/**
 * A command of an isolated fork leg's checkout, run as the leg's user with the leg's environment: the
 * workspace is the leg's, so the runner never runs git in it (a hook or fsmonitor planted by an earlier
 * step would run as the runner) nor follows its symlinks. lib/git cannot switch user, hence execFile.
 */
async function asLegUser(state: JobState, file: string, args: string[], cwd: string): Promise<string> {
  const runAs = state.inv.run.runAs!;
  const { stdout } = await exec(file, args, {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    uid: runAs.uid,
    gid: runAs.gid,
    env: { ...state.hostEnv, GIT_TERMINAL_PROMPT: "0" },
  });
  return stdout.trim();
}

export async function runCheckout(state: JobState, inputs: Record<string, string>): Promise<StepRunResult> {
  const run = state.inv.run;
  const git = async (args: string[], cwd: string) =>
    run.runAs ? asLegUser(state, "git", args, cwd) : (await runGit(cwd, args)).trim();
  const repository = inputs.repository?.trim();
  if (repository && repository.toLowerCase() !== run.repository.toLowerCase()) {
    return {
      outcome: "failure",
      outputs: {},
      message: `actions/checkout of another repository (${repository}) needs the network; slipway checks out the run's own repository (${run.repository}) offline`,
    };
  }
  const dest = resolve(state.workspace, inputs.path || ".");
  const rel = relative(state.workspace, dest);
  if (rel.startsWith("..")) {
    return {
      outcome: "failure",
      outputs: {},
      message: `Repository path '${inputs.path}' is not under '${state.workspace}'`,
    };
  }
  let sha = run.sha;
  const ref = inputs.ref?.trim();
  let branch: string | undefined = run.ref.startsWith("refs/heads/")
    ? run.ref.slice("refs/heads/".length)
    : undefined;
  if (ref) {
    try {
      sha = await git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`],
        run.repoDir,
      );
    } catch {
      return {
        outcome: "failure",
        outputs: {},
        message: `A branch or tag with the name '${ref}' could not be found`,
      };
    }
    branch = ref.replace(/^refs\/heads\//, "");
    try {
      await git(["show-ref", "--verify", "--quiet", `refs/heads/${branch}`], run.repoDir);
    } catch {
      branch = undefined;
    }
  }
  state.log(`Syncing repository: ${run.repository} at ${sha}`);
  if (run.runAs) {
    // The leg's user empties and makes the directory: a symlink planted there leads only where it may go.
    await asLegUser(
      state,
      "sh",
      ["-c", 'mkdir -p -- "$1" && find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +', "sh", dest],
      state.workspace,
    );
    await git(["clone", "--quiet", "--shared", "--no-checkout", "--", run.repoDir, dest], state.workspace);
  } else if (existsSync(resolve(dest, ".git"))) {
    if (inputs.clean !== "false") {
      await git(["reset", "--hard", "--quiet"], dest);
      await git(["clean", "-ffdx", "--quiet"], dest);
    }
    await git(["fetch", "--quiet", "origin"], dest);
  } else {
    if (existsSync(dest) && readdirSync(dest).length > 0) {
      // actions/checkout empties the directory before cloning into it.
      for (const e of readdirSync(dest)) rmSync(resolve(dest, e), { recursive: true, force: true });
    }
    mkdirSync(dest, { recursive: true });
    await git(["clone", "--quiet", "--shared", "--no-checkout", "--", run.repoDir, dest], state.workspace);
  }
  if (branch) await git(["checkout", "--quiet", "--force", "-B", branch, sha], dest);
  else await git(["checkout", "--quiet", "--force", "--detach", sha], dest);
  if (inputs.submodules && inputs.submodules !== "false") {
    state.log("Warning: submodules are not checked out offline", "warning");
  }
  const commit = await git(["rev-parse", "HEAD"], dest);
  return { outcome: "success", outputs: { ref: branch ? `refs/heads/${branch}` : (ref ?? run.ref), commit } };
}
