// `run:` steps: the script is written to a file in RUNNER_TEMP and run with the step's shell.
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { coerceToString } from "../../expressions/index.js";
import { evaluateToken } from "../../workflow/index.js";
import { writeLegFile } from "../isolation.js";
import { processEnv } from "./common.js";
import { runProcessStep } from "./process-step.js";
import { shellCommand } from "../env/shell.js";
import type { PreparedStep, StepRunResult, StepScope } from "./types.js";

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
  const where = state.environment;
  const env = processEnv(state, step, where);
  const shell = where.shell(shellOpt, env);
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
      exec: (o) => where.exec(o),
    });
    return { outcome: result.outcome, outputs: result.outputs, message: result.message };
  } finally {
    rmSync(scriptPath, { force: true });
  }
}
