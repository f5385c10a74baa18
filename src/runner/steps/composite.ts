// Composite actions: their steps run in a scope of their own (own `steps` context, `inputs`,
// action_path), and their outputs are evaluated from that scope.
import type { ActionRunsComposite } from "@actions/workflow-parser/actions/index";
import { isMapping } from "@actions/workflow-parser";
import { coerceToString } from "../../expressions/index.js";
import { buildSteps } from "../../workflow/index.js";
import { evaluateToken } from "../../workflow/index.js";
import type { LoadedAction } from "./action-loader.js";
import { actionGithub, scopeContexts } from "./common.js";
import type { PreparedStep, StepRunResult, StepScope, StepsRunner } from "./types.js";

const maxDepth = 10;

export async function runCompositeAction(
  action: LoadedAction,
  inputs: Record<string, string>,
  step: PreparedStep,
  parent: StepScope,
  executeSteps: StepsRunner,
): Promise<StepRunResult> {
  if (parent.depth >= maxDepth) {
    return {
      outcome: "failure",
      outputs: {},
      message: `composite actions nested more than ${maxDepth} deep`,
    };
  }
  const runs = action.template.runs as ActionRunsComposite;
  const rawRuns = isMapping(action.root) ? action.root.find("runs") : undefined;
  const rawSteps = rawRuns && isMapping(rawRuns) ? rawRuns.find("steps") : undefined;
  const scope: StepScope = {
    state: parent.state,
    steps: {},
    env: { ...step.env, GITHUB_ACTION_PATH: action.dir },
    inputs,
    github: actionGithub(action),
    defaults: {},
    failed: false,
    composite: true,
    depth: parent.depth + 1,
    label: step.name,
  };
  await executeSteps(buildSteps(runs.steps, rawSteps), scope);
  const outputs: Record<string, string> = {};
  const contexts = scopeContexts(scope, scope.env);
  for (const o of action.template.outputs ?? []) {
    if (!o.value) continue;
    try {
      outputs[o.id] = coerceToString(evaluateToken(o.value, parent.state.evalOptions(contexts)));
    } catch (err) {
      return { outcome: "failure", outputs, message: `output '${o.id}': ${(err as Error).message}` };
    }
  }
  if (parent.state.cancelled && !scope.failed) return { outcome: "cancelled", outputs };
  return { outcome: scope.failed ? "failure" : "success", outputs };
}
