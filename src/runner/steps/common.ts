// Helpers every kind of step uses: a scope's env and contexts, a step process's environment and PATH,
// and the `github` fields of an action's scope.
import type { Json } from "../../expressions/index.js";
import type { ProcessEnvRules } from "../env/types.js";
import type { JobState } from "../job-state.js";
import type { LoadedAction } from "./action-loader.js";
import type { PreparedStep, StepScope } from "./types.js";

export function scopeEnv(scope: StepScope): Record<string, string> {
  return { ...scope.env, ...scope.state.fileEnv };
}

export function scopeContexts(scope: StepScope, env: Record<string, string>): Record<string, unknown> {
  return scope.state.contexts({ env, steps: scope.steps, inputs: scope.inputs, github: scope.github });
}

export function actionGithub(action: LoadedAction): Record<string, Json> {
  return { action_path: action.dir, action_repository: action.repository, action_ref: action.ref };
}

/**
 * The environment of a step's process where it runs: what that starts from (the host's variables, or
 * nothing in a container), the user's env, then GitHub's defaults, and PATH with GITHUB_PATH first.
 */
export function processEnv(
  state: JobState,
  step: PreparedStep,
  where: ProcessEnvRules,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...where.baseEnv(), CI: "true", ...step.env, ...extra };
  Object.assign(env, state.defaultEnv(), { GITHUB_ACTION: step.id }, extra);
  if (step.env.CI !== undefined) env.CI = step.env.CI;
  const path = where.stepPath(step.env, state.pathAdditions);
  if (path) env.PATH = path;
  else delete env.PATH;
  return env;
}
