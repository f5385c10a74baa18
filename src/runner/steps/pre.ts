// `pre` entries of JavaScript actions run when the job starts, before any step, in step order (as on
// GitHub; local `./` actions have no pre since the repository is not checked out yet).
import type { ActionRunsNode } from "@actions/workflow-parser/actions/index";
import { evaluateExpression, isTruthy } from "../../expressions/index.js";
import type { StepDef } from "../../workflow/index.js";
import type { loadAction } from "./action-loader.js";
import { isRemoteAction } from "./remote.js";
import { loadLegAction } from "./leg-action.js";
import { actionGithub, scopeContexts, scopeEnv } from "./common.js";
import { evaluateWith, resolveActionInputs } from "./inputs.js";
import { runNodePre } from "./node-action.js";
import type { PreparedStep, StepScope } from "./types.js";

/** Runs the pre entries; returns the state each saved, by step id, for its main and post. */
export async function runPreSteps(
  defs: StepDef[],
  scope: StepScope,
): Promise<Map<string, Record<string, string>>> {
  const saved = new Map<string, Record<string, string>>();
  const state = scope.state;
  for (const def of defs) {
    const uses = def.uses;
    if (!uses || !isRemoteAction(uses)) continue;
    let action: ReturnType<typeof loadAction>;
    try {
      action = await loadLegAction(uses, state);
    } catch {
      continue; // Reported when the step itself runs.
    }
    const runs = action.template.runs as ActionRunsNode;
    if (!runs.using.startsWith("node") || !runs.pre) continue;
    const env = scopeEnv(scope);
    const contexts = scopeContexts(scope, env);
    const status = {
      success: state.status === "success",
      failure: state.status === "failure",
      cancelled: state.cancelled,
    };
    if (!isTruthy(evaluateExpression(runs.preIf || "always()", { contexts, status }))) continue;
    const name = `Pre ${uses}`;
    const prepared: PreparedStep = { def, id: def.id, name, env, contexts, signal: state.signal };
    const started = Date.now();
    state.stepStarted({ id: `pre-${def.id}`, name });
    let ok = false;
    try {
      const given = evaluateWith(prepared, scope);
      const ctx = { ...contexts, github: { ...(contexts.github as object), ...actionGithub(action) } };
      const inputs = resolveActionInputs(action.template, given, prepared, scope, state.evalOptions(ctx));
      const r = await runNodePre(action, inputs, prepared, scope);
      ok = r.ok;
      saved.set(def.id, r.state);
    } catch (err) {
      state.log((err as Error).message, "error");
    }
    const result = {
      id: `pre-${def.id}`,
      name,
      outcome: ok ? "success" : "failure",
      conclusion: ok ? "success" : "failure",
      durationMs: Date.now() - started,
      outputs: {},
    } as const;
    state.stepResults.push({ ...result, outputs: {} });
    if (!ok) state.status = "failure";
    state.stepFinished({ ...result, outputs: {} }, true);
  }
  return saved;
}
