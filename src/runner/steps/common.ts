// Helpers every kind of step uses: a scope's env and contexts, a step process's environment and PATH,
// and the `github` fields of an action's scope.
import type { Json } from "../../expressions/index.js";
import { containerPathWith } from "../env/container.js";
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

/** The environment of a step's process: the host's, the user's env, then GitHub's defaults. */
export function processEnv(
  state: JobState,
  step: PreparedStep,
  extra: Record<string, string> = {},
  inContainer = false,
): Record<string, string> {
  // A container has its own environment: the host's variables (PATH, HOME, …) do not go in.
  const base = inContainer ? {} : state.hostEnv;
  const env: Record<string, string> = { ...base, CI: "true", ...step.env, ...extra };
  Object.assign(env, state.defaultEnv(), { GITHUB_ACTION: step.id }, extra);
  if (step.env.CI !== undefined) env.CI = step.env.CI;
  if (inContainer) {
    const path = step.env.PATH ?? containerPathWith(state.pathAdditions);
    if (path) env.PATH = path;
    else delete env.PATH;
  } else env.PATH = stepPath(state, step.env);
  return env;
}

/** PATH for a step: GITHUB_PATH additions first, then the job's PATH. */
export function stepPath(state: JobState, env: Record<string, string>): string {
  const base = env.PATH ?? state.hostEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin";
  return [...state.pathAdditions, base].join(":");
}
