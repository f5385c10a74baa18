// `run:` steps: the script is written to a file in RUNNER_TEMP and run with the step's shell.
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { coerceToString } from "../../expressions/index.js";
import { evaluateToken } from "../../workflow/index.js";
import { writeLegFile } from "../isolation.js";
import type { JobState } from "../job-state.js";
import type { PreparedStep, StepRunResult, StepScope } from "./execute.js";
import { runProcessStep, stepPath } from "./process-step.js";
import { containerPathWith, execInContainer } from "../env/container.js";
import { resolveShell, shellCommand } from "./shell.js";

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

export async function runScriptStep(step: PreparedStep, scope: StepScope): Promise<StepRunResult> {
  const state = scope.state;
  const opts = state.evalOptions(step.contexts);
  const script = coerceToString(evaluateToken(step.def.run!, opts));
  const shellOpt = step.def.shell
    ? coerceToString(evaluateToken(step.def.shell, opts))
    : scope.defaults.shell;
  const wdOpt = step.def.workingDirectory
    ? coerceToString(evaluateToken(step.def.workingDirectory, opts))
    : scope.defaults["working-directory"];
  const cwd = wdOpt ? resolve(state.workspace, wdOpt) : state.workspace;
  if (!existsSync(cwd)) {
    return {
      outcome: "failure",
      outputs: {},
      message: `working-directory '${wdOpt}' does not exist (${cwd})`,
    };
  }
  const container = state.containers?.jobContainer ? state.containers : undefined;
  const env = processEnv(state, step, {}, !!container);
  const shell =
    container && !shellOpt
      ? { template: container.hasBash ? ["bash", "-e", "{0}"] : ["sh", "-e", "{0}"], extension: ".sh" }
      : resolveShell(shellOpt, container ? "" : env.PATH, !!container);
  const scriptPath = join(state.scriptDir, `${randomUUID()}${shell.extension}`);
  const cmd = shellCommand(shell.template, scriptPath);
  // The script may hold interpolated secrets: only slipway's user may read it. It needs the execute bit
  // only when it is itself the command (`shell: '{0}'`); a shell or interpreter just reads it.
  writeLegFile(scriptPath, script, cmd.command === scriptPath ? 0o700 : 0o600, state.inv.run.runAs);
  try {
    const result = await runProcessStep(state, {
      command: cmd.command,
      args: cmd.args,
      cwd,
      env,
      timeoutMs: step.timeoutMs,
      signal: step.signal,
      exec: container ? (o) => execInContainer(container, o) : undefined,
    });
    return { outcome: result.outcome, outputs: result.outputs, message: result.message };
  } finally {
    rmSync(scriptPath, { force: true });
  }
}
