// JavaScript actions (`runs.using: node12|node16|node20|node24`), run with the local node: main now,
// `post` queued for the end of the job with its `post-if`, state passed as STATE_ variables.
import { join } from "node:path";
import type { ActionRunsNode } from "@actions/workflow-parser/actions/index";
import type { LoadedAction } from "./action-loader.js";
import { processEnv } from "./common.js";
import { inputEnv } from "./inputs.js";
import { runProcessStep } from "./process-step.js";
import type { PreparedStep, StepRunResult, StepScope } from "./types.js";

function stateEnv(state: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
}

async function runEntry(
  entry: string,
  action: LoadedAction,
  inputs: Record<string, string>,
  savedState: Record<string, string>,
  step: PreparedStep,
  scope: StepScope,
  signal: AbortSignal | undefined,
) {
  const env = processEnv(scope.state, step, scope.state.host, {
    ...inputEnv(inputs),
    ...stateEnv(savedState),
    GITHUB_ACTION_PATH: action.dir,
    GITHUB_ACTION_REPOSITORY: action.repository,
    GITHUB_ACTION_REF: action.ref,
  });
  return runProcessStep(scope.state, {
    command: process.execPath,
    args: [join(action.dir, entry)],
    cwd: scope.state.workspace,
    env,
    exec: (o) => scope.state.host.exec(o),
    timeoutMs: step.timeoutMs,
    signal,
  });
}

export async function runNodeAction(
  action: LoadedAction,
  inputs: Record<string, string>,
  step: PreparedStep,
  scope: StepScope,
  preState: Record<string, string> = {},
): Promise<StepRunResult> {
  const runs = action.template.runs as ActionRunsNode;
  const main = await runEntry(runs.main, action, inputs, preState, step, scope, step.signal);
  const savedState = { ...preState, ...main.state };
  if (runs.post) {
    scope.state.postSteps.push({
      name: `Post ${step.name}`,
      condition: runs.postIf || "always()",
      run: async () => {
        const r = await runEntry(runs.post!, action, inputs, savedState, step, scope, undefined);
        return r.outcome === "success" ? "success" : "failure";
      },
    });
  }
  return { outcome: main.outcome, outputs: main.outputs, message: main.message };
}

/** Runs an action's `pre` entry (at job start); returns the state it saved for main and post. */
export async function runNodePre(
  action: LoadedAction,
  inputs: Record<string, string>,
  step: PreparedStep,
  scope: StepScope,
): Promise<{ ok: boolean; state: Record<string, string> }> {
  const runs = action.template.runs as ActionRunsNode;
  if (!runs.pre) return { ok: true, state: {} };
  const r = await runEntry(runs.pre, action, inputs, {}, step, scope, step.signal);
  return { ok: r.outcome === "success", state: r.state };
}
