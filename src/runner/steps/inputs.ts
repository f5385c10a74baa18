// Action inputs: `with:` values, action.yml defaults (which may be expressions), and the INPUT_ variables.
import type { ActionTemplate } from "@actions/workflow-parser/actions/index";
import { coerceToString, type EvaluationOptions } from "../../expressions/index.js";
import { evaluateMapping, evaluateToken } from "../../workflow/index.js";
import type { PreparedStep, StepScope } from "./types.js";

/** The evaluated `with:` mapping of a step. */
export function evaluateWith(step: PreparedStep, scope: StepScope): Record<string, string> {
  if (!step.def.with) return {};
  const value = evaluateMapping(step.def.with, scope.state.evalOptions(step.contexts), "with");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = coerceToString(v);
  return out;
}

/** Inputs with defaults applied; warns about unexpected inputs as GitHub's runner does. */
export function resolveActionInputs(
  template: ActionTemplate,
  given: Record<string, string>,
  step: PreparedStep,
  scope: StepScope,
  opts: EvaluationOptions,
): Record<string, string> {
  const defs = template.inputs ?? [];
  const known = new Map(defs.map((d) => [d.id.toLowerCase(), d]));
  const out: Record<string, string> = {};
  const unexpected: string[] = [];
  for (const [k, v] of Object.entries(given)) {
    const def = known.get(k.toLowerCase());
    if (!def) unexpected.push(k);
    out[def ? def.id : k] = v;
  }
  for (const d of defs) {
    if (Object.keys(out).some((k) => k.toLowerCase() === d.id.toLowerCase())) continue;
    if (d.default !== undefined) out[d.id] = coerceToString(evaluateToken(d.default, opts));
    else if (d.required) {
      // GitHub's runner does not enforce `required`; the action itself decides (core.getInput(..., { required })).
      out[d.id] = "";
    } else out[d.id] = "";
  }
  if (unexpected.length) {
    const valid = defs.map((d) => `'${d.id}'`).join(", ");
    const message = `Unexpected input(s) ${unexpected.map((u) => `'${u}'`).join(", ")}, valid inputs are [${valid}]`;
    scope.state.annotate({ level: "warning", message });
    scope.state.log(`Warning: ${message} (${step.def.uses})`, "warning");
  }
  return out;
}

export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, "_").toUpperCase()}`] = v;
  return env;
}
