// `jobs.<id>.environment.url`, evaluated as GitHub's runner does when it finalises the job
// (JobExtension.FinalizeJob): after every step, post steps included, so it may use the `steps` context
// (`url: ${{ steps.deploy.outputs.url }}`), with every context but `secrets`. A value holding a secret
// is not kept (a warning says so); a value that cannot be evaluated fails the job (a cancelled job
// stays cancelled) with the reason as errors.
import { isMapping, isString } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { coerceToString } from "../expressions/index.js";
import { evaluateToken } from "../workflow/index.js";
import type { JobState } from "./job-state.js";

/** The `environment:` value's parts: a name, or `{ name, url }`. */
function environmentParts(token: TemplateToken): { name?: TemplateToken; url?: TemplateToken } {
  if (!isMapping(token)) return { name: token };
  const out: { name?: TemplateToken; url?: TemplateToken } = {};
  for (const { key, value } of token) {
    if (isString(key) && (key.value === "name" || key.value === "url")) out[key.value] = value;
  }
  return out;
}

export type EnvironmentUrl =
  /** The job has no `environment.url`. */
  | { kind: "none" }
  /** What to report: "" when it evaluated to nothing or held a secret. */
  | { kind: "url"; url: string }
  | { kind: "failed" };

/** Evaluates the job's environment URL with these contexts (the job's, with its steps); logs as GitHub does. */
export function evaluateEnvironmentUrl(state: JobState, contexts: Record<string, unknown>): EnvironmentUrl {
  const token = state.inv.job.environment;
  if (!token) return { kind: "none" };
  const { name, url } = environmentParts(token);
  if (!url) return { kind: "none" };
  const run = state.inv.run;
  const { secrets: _secrets, ...noSecrets } = contexts;
  const opts = state.evalOptions(noSecrets);
  let value: string;
  try {
    const v = evaluateToken(url, opts);
    // A string as the template schema wants it: scalars become their text, collections are refused.
    if (Array.isArray(v)) throw new Error("A sequence was not expected");
    if (v !== null && typeof v === "object") throw new Error("A mapping was not expected");
    value = v === null ? "" : coerceToString(v);
  } catch (err) {
    const message = run.masker.mask((err as Error).message);
    state.log("Failed to evaluate environment url", "error");
    state.log(message, "error");
    state.annotate({ level: "error", message: "Failed to evaluate environment url" });
    state.annotate({ level: "error", message });
    return { kind: "failed" };
  }
  if (value === "") return { kind: "url", url: "" };
  if (run.masker.mask(value) !== value) {
    let envName = "";
    try {
      envName = name ? coerceToString(evaluateToken(name, opts)) : "";
    } catch {
      // Only for the warning's text.
    }
    const warning = run.masker.mask(
      `Skip setting environment url as environment '${envName}' may contain secret.`,
    );
    state.log(warning, "warning");
    state.annotate({ level: "warning", message: warning });
    return { kind: "url", url: "" };
  }
  state.log(`Evaluated environment url: ${value}`);
  return { kind: "url", url: value };
}
