// The step loop shared by jobs and composite actions: conditions, names, env, continue-on-error,
// timeouts, and the steps context, following GitHub's runner.
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { coerceToString, evaluateExpression, isTruthy, type Json } from "../../expressions/index.js";
import type { StepDef } from "../../workflow/index.js";
import { evaluateToken } from "../../workflow/index.js";
import type { StepOutcome, StepResult } from "../types.js";
import { runActionStep } from "./action.js";
import { scopeContexts, scopeEnv } from "./common.js";
import { runScriptStep } from "./run.js";
import type { PreparedStep, StepRunResult, StepScope } from "./types.js";

function statusOf(scope: StepScope) {
  const st = scope.state;
  const failed = scope.composite ? scope.failed || st.status === "failure" : st.status === "failure";
  return { success: !failed, failure: failed, cancelled: st.cancelled };
}

export function defaultStepName(def: StepDef, evaluated?: string): string {
  if (def.uses) return `Run ${def.uses}`;
  const firstLine = (evaluated ?? "").split("\n").find((l) => l.trim()) ?? "";
  return `Run ${firstLine.trim()}`;
}

function evalScalar(
  token: TemplateToken | undefined,
  scope: StepScope,
  contexts: Record<string, unknown>,
): Json | undefined {
  if (!token) return undefined;
  return evaluateToken(token, { ...scope.state.evalOptions(contexts), status: statusOf(scope) });
}

export async function executeSteps(defs: StepDef[], scope: StepScope): Promise<void> {
  for (const def of defs) {
    await executeStep(def, scope);
  }
}

async function executeStep(def: StepDef, scope: StepScope): Promise<void> {
  const state = scope.state;
  const run = state.inv.run;
  const started = Date.now();
  const baseEnv = scopeEnv(scope);
  let contexts = scopeContexts(scope, baseEnv);
  const status = statusOf(scope);
  let name = def.uses ? defaultStepName(def) : "Run";
  let begun = false;
  const record = (outcome: StepOutcome, conclusion: StepOutcome, outputs: Record<string, string>) => {
    // Results leave the engine (--json, the server): their outputs are masked like every other output.
    const shown = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, run.masker.mask(v)]));
    const result: StepResult = {
      id: def.id,
      name,
      outcome,
      conclusion,
      durationMs: Date.now() - started,
      outputs: shown,
    };
    scope.steps[def.id] = { outputs, outcome, conclusion };
    if (!scope.composite) state.stepResults.push(result);
    if (conclusion === "failure") {
      scope.failed = true;
      state.status = "failure";
    }
    state.stepFinished({ ...result, name: scope.label ? `${scope.label} / ${name}` : name }, begun);
  };

  try {
    if (def.name) name = coerceToString(evalScalar(def.name, scope, contexts) ?? "");
    else if (def.run) name = defaultStepName(def, coerceToString(evalScalar(def.run, scope, contexts) ?? ""));
  } catch {
    // The name is only for display; fall back to the default.
  }
  if (!name) name = defaultStepName(def);
  // Names are built from expressions and may contain secrets like any other output.
  name = run.masker.mask(name);

  let runIt: boolean;
  try {
    runIt = isTruthy(evaluateExpression(def.if, { ...state.evalOptions(contexts), status }));
  } catch (err) {
    state.stepStarted({ id: def.id, name: scope.label ? `${scope.label} / ${name}` : name });
    begun = true;
    state.log(`The step's condition failed to evaluate: ${(err as Error).message}`, "error");
    record("failure", "failure", {});
    return;
  }
  if (!runIt) {
    record("skipped", "skipped", {});
    return;
  }

  state.stepStarted({ id: def.id, name: scope.label ? `${scope.label} / ${name}` : name });
  begun = true;
  let result: StepRunResult;
  let continueOnError = false;
  try {
    const stepEnv = state.evaluateEnv(def.env, { ...state.evalOptions(contexts), status });
    const env = { ...baseEnv, ...stepEnv };
    contexts = scopeContexts(scope, env);
    const coe = def.continueOnError;
    continueOnError =
      typeof coe === "boolean" ? coe : coe ? isTruthy(evalScalar(coe, scope, contexts) ?? false) : false;
    const timeout = evalScalar(def.timeoutMinutes, scope, contexts);
    const timeoutMs = timeout === undefined || timeout === null ? undefined : Number(timeout) * 60_000;
    if (timeoutMs !== undefined && !(timeoutMs > 0))
      throw new Error(`timeout-minutes must be a positive number, got ${JSON.stringify(timeout)}`);
    // Steps that start after cancellation (always(), cancelled()) must be able to run to the end.
    const signal = state.cancelled ? undefined : state.signal;
    const prepared: PreparedStep = { def, id: def.id, name, env, contexts, timeoutMs, signal };
    result = def.uses
      ? await runActionStep(prepared, scope, executeSteps)
      : await runScriptStep(prepared, scope);
  } catch (err) {
    state.log((err as Error).message, "error");
    result = { outcome: "failure", outputs: {}, message: (err as Error).message };
  }
  if (result.outcome === "failure" && result.message) {
    state.annotate({ level: "error", message: run.masker.mask(`${name}: ${result.message}`) });
  }
  const conclusion = result.outcome === "failure" && continueOnError ? "success" : result.outcome;
  record(result.outcome, conclusion, result.outputs);
}
