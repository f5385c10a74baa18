// `uses:` steps: built-in actions (checkout, artifacts, cache), JavaScript and composite actions.
import type { ActionRunsDocker } from "@actions/workflow-parser/actions/index";
import { findBuiltinAction } from "../builtin/index.js";
import type { BuiltinAction, BuiltinActionContext } from "../builtin/types.js";
import type { JobState } from "../job-state.js";
import { runCheckout } from "./checkout.js";
import { runCompositeAction } from "./composite.js";
import { runDockerAction } from "./docker-action.js";
import { actionGithub, processEnv } from "./common.js";
import { evaluateWith, resolveActionInputs } from "./inputs.js";
import { loadLegAction } from "./leg-action.js";
import { runNodeAction } from "./node-action.js";
import { isCheckout } from "./remote.js";

export { isCheckout, isRemoteAction } from "./remote.js";
import type { PreparedStep, StepRunResult, StepScope, StepsRunner } from "./types.js";

export async function runActionStep(
  step: PreparedStep,
  scope: StepScope,
  executeSteps: StepsRunner,
): Promise<StepRunResult> {
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
  // slipway/deploy refuses every fork's job itself, before it touches anything.
  if (builtin && state.inv.run.runAs && !/^slipway\/deploy@/i.test(uses)) return isolatedBuiltin(uses, state);
  if (builtin) return runBuiltin(builtin, given, step, state);

  const action = await loadLegAction(uses, state);
  const contexts = {
    ...step.contexts,
    github: { ...(step.contexts.github as object), ...actionGithub(action) },
  };
  const inputs = resolveActionInputs(action.template, given, step, scope, state.evalOptions(contexts));
  const using = action.template.runs.using;
  if (using === "composite") return runCompositeAction(action, inputs, step, scope, executeSteps);
  if (using.startsWith("node"))
    return runNodeAction(action, inputs, step, scope, scope.preState?.get(step.id));
  const runs = action.template.runs as ActionRunsDocker;
  return runDockerAction(
    step,
    { ...scope, github: actionGithub(action) },
    { image: runs.image, action, inputs },
  );
}

/**
 * Built-in actions run inside the runner, as its user, reading and writing the workspace and the data
 * dir: an isolated fork leg cannot have them (a symlink in its workspace would make the runner read or
 * write a file of its own). A cache is only a speed-up, so it is a miss; the others fail the step.
 */
function isolatedBuiltin(uses: string, state: JobState): StepRunResult {
  const name = uses.split("@")[0];
  if (/^actions\/cache(\/(restore|save))?$/i.test(name)) {
    state.log(`${name} is skipped for a fork's job on a runner that isolates forks: no cache`, "warning");
    return { outcome: "success", outputs: { "cache-hit": "false" } };
  }
  const message = `${name} is not available to a fork's job on a runner that isolates forks: it would run as the runner's user`;
  state.log(message, "error");
  return { outcome: "failure", outputs: {}, message };
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
    env: processEnv(state, step, state.host),
    home: run.hostEnv.HOME ?? process.env.HOME ?? "/root",
    log: (line) => state.log(line),
    warning: (message) => {
      state.annotate({ level: "warning", message: run.masker.mask(message) });
      state.log(`Warning: ${message}`, "warning");
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
    ...(run.artifacts ? { artifacts: run.artifacts } : {}),
  });
  try {
    await action.main(ctx({}, step.signal ?? new AbortController().signal));
  } catch (err) {
    state.log((err as Error).message, "error");
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
          state.log((err as Error).message, "error");
          return "failure";
        }
      },
    });
  }
  return { outcome: "success", outputs };
}
