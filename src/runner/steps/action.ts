// `uses:` steps: built-in actions (checkout, artifacts, cache), JavaScript and composite actions.
import type { ActionRunsDocker } from "@actions/workflow-parser/actions/index";
import { findBuiltinAction } from "../builtin/index.js";
import type { BuiltinAction, BuiltinActionContext } from "../builtin/types.js";
import type { JobState } from "../job-state.js";
import { loadAction } from "./action-loader.js";
import { runCheckout } from "./checkout.js";
import { runCompositeAction } from "./composite.js";
import { runDockerAction } from "./docker-action.js";
import type { PreparedStep, StepRunResult, StepScope } from "./execute.js";
import { evaluateWith, resolveActionInputs } from "./inputs.js";
import { actionGithub, runNodeAction } from "./node-action.js";
import { logLine } from "./process-step.js";
import { processEnv } from "./run.js";

export function isCheckout(uses: string): boolean {
  return /^actions\/checkout@/i.test(uses);
}

/** An action from the local action cache (`owner/repo@ref`): not local, not a container, not built in. */
export function isRemoteAction(uses: string): boolean {
  return (
    !uses.startsWith("./") && !uses.startsWith("docker://") && !isCheckout(uses) && !findBuiltinAction(uses)
  );
}

export async function runActionStep(step: PreparedStep, scope: StepScope): Promise<StepRunResult> {
  const uses = step.def.uses!;
  const state = scope.state;
  const given = evaluateWith(step, scope);
  if (uses.startsWith("docker://")) {
    const { entrypoint, args, ...inputs } = given;
    return runDockerAction(step, scope, {
      image: uses,
      inputs,
      entrypoint: entrypoint || undefined,
      args: args
        ? (args.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []).map((a) => a.replace(/^["']|["']$/g, ""))
        : [],
    });
  }
  if (isCheckout(uses)) return runCheckout(state, given);
  const builtin = findBuiltinAction(uses);
  if (builtin) return runBuiltin(builtin, given, step, state);

  const action = loadAction(uses, state.workspace, state.inv.run.actionsDir);
  const contexts = {
    ...step.contexts,
    github: { ...(step.contexts.github as object), ...actionGithub(action) },
  };
  const inputs = resolveActionInputs(action.template, given, step, scope, state.evalOptions(contexts));
  const using = action.template.runs.using;
  if (using === "composite") return runCompositeAction(action, inputs, step, scope);
  if (using.startsWith("node"))
    return runNodeAction(action, inputs, step, scope, scope.preState?.get(step.id));
  const runs = action.template.runs as ActionRunsDocker;
  return runDockerAction(
    step,
    { ...scope, github: actionGithub(action) },
    { image: runs.image, action, inputs },
  );
}

async function runBuiltin(
  action: BuiltinAction,
  inputs: Record<string, string>,
  step: PreparedStep,
  state: JobState,
): Promise<StepRunResult> {
  const run = state.inv.run;
  const outputs: Record<string, string> = {};
  const saved: Record<string, string> = {};
  const ctx = (st: Record<string, string>, signal: AbortSignal): BuiltinActionContext => ({
    inputs,
    workspace: state.workspace,
    dataDir: run.dataDir,
    repository: run.repository,
    runId: run.runId,
    ref: run.ref,
    defaultBranch: run.defaultBranch,
    env: processEnv(state, step, {}, false),
    home: run.hostEnv.HOME ?? process.env.HOME ?? "/root",
    log: (line) => logLine(state, line),
    warning: (message) => {
      state.annotations.push({ level: "warning", message: run.masker.mask(message) });
      logLine(state, `Warning: ${message}`, "warning");
    },
    setOutput: (name, value) => {
      outputs[name] = value;
    },
    saveState: (name, value) => {
      saved[name] = value;
    },
    state: st,
    jobStatus: state.jobStatus(),
    signal,
    untrusted: run.untrusted === true,
  });
  try {
    await action.main(ctx({}, step.signal ?? new AbortController().signal));
  } catch (err) {
    logLine(state, (err as Error).message, "error");
    return { outcome: "failure", outputs, message: (err as Error).message };
  }
  if (action.post) {
    const post = action.post;
    state.postSteps.push({
      name: `Post ${step.name}`,
      condition: action.postIf ?? "success()",
      run: async () => {
        try {
          await post(ctx({ ...saved }, new AbortController().signal));
          return "success";
        } catch (err) {
          logLine(state, (err as Error).message, "error");
          return "failure";
        }
      },
    });
  }
  return { outcome: "success", outputs };
}
