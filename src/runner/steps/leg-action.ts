// The action a `uses:` step of this leg runs. For an isolated fork leg (runner/isolation.ts): a remote
// action is run from a copy its user can read (the action cache is in the data dir, closed to it), and
// a local action's action.yml is read by the runner only from inside the workspace — a symlink there to
// a file of the runner's would otherwise show that file's content in a parse error.
import { chmodSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { UserError } from "../../lib/errors.js";
import { readableCopy } from "../isolation.js";
import type { JobState } from "../job-state.js";
import { actionCacheOf } from "../actions/resolve.js";
import { type LoadedAction, loadAction, remoteRefOf } from "./action-loader.js";

export async function loadLegAction(uses: string, state: JobState): Promise<LoadedAction> {
  const run = state.inv.run;
  const local = uses.startsWith("./") || uses === ".";
  if (run.runAs && local) {
    // The directory and the file loadAction will read (a symlink to the master key would otherwise be
    // parsed, and quoted in the error).
    const dir = resolve(state.workspace, uses);
    for (const path of [dir, join(dir, "action.yml"), join(dir, "action.yaml")])
      confineToWorkspace(path, state.workspace, uses);
  }
  const cache = actionCacheOf(run);
  // Fetched when the job started; an action named only in a local composite action is fetched here.
  if (!local) await cache.ensure(remoteRefOf(uses), state.signal);
  const action = loadAction(uses, state.workspace, cache);
  if (!run.runAs || local) return action;
  const rel = relative(run.actionsDir, action.dir);
  const dest = join(state.dir, "_actions", rel);
  // Whatever the runner's umask, the way to the copy is open to the leg's user (to enter, not to change).
  for (let d = join(state.dir, "_actions"); ; ) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
    if (d === dirname(dest)) break;
    d = join(d, relative(d, dirname(dest)).split(sep)[0]);
  }
  readableCopy(action.dir, dest);
  return { ...action, dir: dest, file: join(dest, relative(action.dir, action.file)) };
}

function confineToWorkspace(path: string, workspace: string, uses: string): void {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return; // Missing: loadAction says so.
  }
  const root = realpathSync(workspace);
  if (real !== root && !real.startsWith(root + sep))
    throw new UserError(`action ${uses} leads outside the workspace (${path}): not loaded for a fork's job`);
}
