// Jobs that call a reusable workflow (`jobs.<id>.uses: ./.github/workflows/x.yml`, or a remote one,
// `owner/repo/.github/workflows/x.yml@ref`, fetched into the action cache like an action): inputs from
// `with` checked against `on.workflow_call.inputs`, secrets mapped or inherited, the called workflow's
// graph run in place, and its `outputs` evaluated from its jobs.
import { resolve } from "node:path";
import { coerceToString, type Json } from "../expressions/index.js";
import type { JobDef, WorkflowFile } from "../workflow/index.js";
import { evaluateToken, loadWorkflowFile } from "../workflow/index.js";
import { actionCacheOf, remoteWorkflowFile } from "./actions/resolve.js";
import type { GraphScope, JobOutcome } from "./graph-scope.js";
import type { MatrixLeg } from "./matrix.js";
import type { JobRef } from "./reporter.js";
import type { JobResult, Status } from "./types.js";

const maxDepth = 4;

function typed(name: string, value: Json, type: string | undefined): Json {
  if (type === "boolean") {
    if (typeof value === "boolean") return value;
    if (value === "true" || value === "false") return value === "true";
    throw new Error(`input '${name}' must be a boolean, got ${JSON.stringify(value)}`);
  }
  if (type === "number") {
    const n = typeof value === "number" ? value : Number(value);
    if (Number.isNaN(n)) throw new Error(`input '${name}' must be a number, got ${JSON.stringify(value)}`);
    return n;
  }
  return typeof value === "string" ? value : coerceToString(value);
}

export async function runReusableJob(
  caller: GraphScope,
  job: JobDef,
  ref: JobRef,
  legCtx: Record<string, unknown>,
  leg: MatrixLeg | null,
  signal: AbortSignal,
  // graph.ts's runGraph, passed in: the graph runs reusable jobs, which run a graph in turn.
  runGraph: (scope: GraphScope) => Promise<Map<string, JobOutcome>>,
): Promise<JobResult> {
  const started = Date.now();
  const fail = (message: string): JobResult => {
    const r: JobResult = {
      id: ref.id,
      name: ref.name,
      workflow: caller.workflow.relPath,
      matrix: leg,
      status: "failure",
      outputs: {},
      durationMs: Date.now() - started,
      steps: [],
      annotations: [{ level: "error", message }],
      summary: "",
      message,
    };
    caller.results.push(r);
    caller.run.reporter.jobFinished(ref, r);
    return r;
  };
  const uses = job.uses!;
  if (caller.depth + 1 > maxDepth)
    return fail(`reusable workflows nest more than ${maxDepth} levels deep at '${uses}'`);
  let callee: WorkflowFile;
  // A local call is read from the repository of the workflow that makes it: the run's, or, inside a
  // remote reusable workflow, that one's (as on GitHub).
  const root = caller.workflowRoot ?? caller.run.workflowRoot;
  let calleeRoot = root;
  try {
    let file: string;
    if (uses.startsWith("./")) file = resolve(root, uses.split("@")[0]);
    else ({ root: calleeRoot, file } = await remoteWorkflowFile(uses, actionCacheOf(caller.run), signal));
    callee = await loadWorkflowFile(file, calleeRoot);
  } catch (err) {
    return fail((err as Error).message);
  }
  const call = callee.events.workflow_call as
    | { secrets?: Record<string, { required?: boolean }> }
    | undefined;
  if (!call && !("workflow_call" in callee.events)) {
    return fail(`${callee.relPath} cannot be called: its 'on' has no workflow_call trigger`);
  }
  const opts = { contexts: legCtx };
  let inputs: Record<string, Json>;
  let secrets: Record<string, string>;
  try {
    const given = (job.with ? evaluateToken(job.with, opts) : {}) as Record<string, Json>;
    const defs = callee.callInputs ?? {};
    inputs = {};
    for (const [k, v] of Object.entries(given)) {
      if (!(k in defs)) throw new Error(`Invalid input, ${k} is not defined in the referenced workflow.`);
      inputs[k] = typed(k, v, defs[k].type);
    }
    for (const [k, d] of Object.entries(defs)) {
      if (k in inputs) continue;
      if (d.default !== undefined) {
        const value = evaluateToken(d.default, {
          contexts: { github: caller.github, inputs: {}, vars: caller.run.vars },
        });
        inputs[k] = typed(k, value, d.type);
      } else if (d.required) throw new Error(`Input ${k} is required, but not provided while calling.`);
      else inputs[k] = d.type === "boolean" ? false : d.type === "number" ? 0 : "";
    }
    if (job.inheritSecrets) secrets = { ...caller.secrets };
    else {
      const givenSecrets = (
        job.secrets ? evaluateToken(job.secrets, { contexts: { ...legCtx, secrets: caller.secrets } }) : {}
      ) as Record<string, Json>;
      secrets = {};
      for (const [k, v] of Object.entries(givenSecrets)) secrets[k] = coerceToString(v);
      for (const [k, d] of Object.entries(call?.secrets ?? {})) {
        if (d?.required && !(k in secrets))
          throw new Error(`Secret ${k} is required, but not provided while calling.`);
      }
    }
    if (caller.secrets.GITHUB_TOKEN && !secrets.GITHUB_TOKEN)
      secrets.GITHUB_TOKEN = caller.secrets.GITHUB_TOKEN;
  } catch (err) {
    return fail((err as Error).message);
  }

  const before = caller.results.length;
  const jobs = await runGraph({
    ...caller,
    workflow: callee,
    inputs,
    secrets,
    idPrefix: `${ref.id}/`,
    onlyJobs: undefined,
    signal,
    depth: caller.depth + 1,
    workflowRoot: calleeRoot,
  });
  const calleeResults = caller.results.slice(before);
  const statuses = [...jobs.values()].map((j) => j.result);
  const status: Status = statuses.includes("failure")
    ? "failure"
    : statuses.includes("cancelled")
      ? "cancelled"
      : statuses.every((s) => s === "skipped")
        ? "skipped"
        : "success";
  const outputs: Record<string, string> = {};
  if (callee.callOutputs) {
    const jobsCtx = Object.fromEntries(
      [...jobs].map(([id, o]) => [id, { result: o.result, outputs: o.outputs }]),
    );
    try {
      const value = evaluateToken(callee.callOutputs, {
        contexts: { github: caller.github, inputs, vars: caller.run.vars, jobs: jobsCtx, secrets },
      }) as Record<string, Json>;
      for (const [k, def] of Object.entries(value ?? {})) {
        const v =
          def && typeof def === "object" && !Array.isArray(def) ? (def as Record<string, Json>).value : def;
        outputs[k] = coerceToString(v ?? "");
      }
    } catch (err) {
      return fail(`outputs of ${callee.relPath}: ${(err as Error).message}`);
    }
  }
  return {
    id: ref.id,
    name: ref.name,
    workflow: callee.relPath,
    matrix: leg,
    status,
    outputs,
    durationMs: Date.now() - started,
    steps: [],
    annotations: calleeResults.flatMap((r) => r.annotations),
    summary: "",
  };
}
