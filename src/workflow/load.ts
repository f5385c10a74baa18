// Loading workflow files: GitHub's parser validates the schema and expressions; every problem is
// reported with file:line:col before anything runs.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import {
  convertWorkflowTemplate,
  isBasicExpression,
  isMapping,
  isSequence,
  isString,
  NoOperationTraceWriter,
  parseWorkflow,
} from "@actions/workflow-parser";
import { MappingToken, type TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import type { Step, WorkflowJob } from "@actions/workflow-parser/model/workflow-template";
import { type Problem, UserError } from "../lib/errors.js";
import type { InputDef, JobDef, StepDef, WorkflowFile } from "./model.js";
import { registerTemplateStrings, tokenToJson } from "./template.js";

function find(map: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return map && isMapping(map) ? map.find(key) : undefined;
}

function findMapping(map: TemplateToken | undefined, key: string): MappingToken | undefined {
  const t = find(map, key);
  return t && isMapping(t) ? t : undefined;
}

type ErrorLike = { rawMessage: string; range?: { start: { line: number; column: number } } };

function toProblems(relPath: string, errors: ErrorLike[]): Problem[] {
  return errors.map((e) => ({
    file: relPath,
    line: e.range?.start.line,
    col: e.range?.start.column,
    message: e.rawMessage,
  }));
}

/** Steps from the converter, joined with the raw step mappings for the fields it drops. */
export function buildSteps(steps: Step[], rawSteps: TemplateToken | undefined): StepDef[] {
  const raws = rawSteps && isSequence(rawSteps) ? [...rawSteps] : [];
  return steps.map((s, i) => {
    const raw = raws[i];
    const st = s as Step & Record<string, unknown>;
    return {
      id: s.id,
      explicitId: !s.id.startsWith("__"),
      name: s.name,
      if: (st.if as { expression?: string } | undefined)?.expression ?? "success()",
      continueOnError: s["continue-on-error"],
      env: find(raw, "env") ?? (st.env as TemplateToken | undefined),
      run: st.run as TemplateToken | undefined,
      uses: (st.uses as { value: string } | undefined)?.value,
      with: find(raw, "with"),
      shell: find(raw, "shell"),
      workingDirectory: find(raw, "working-directory"),
      timeoutMinutes: find(raw, "timeout-minutes"),
      token: raw ?? (st.run as TemplateToken) ?? (st.uses as TemplateToken),
    };
  });
}

function buildJob(job: WorkflowJob, rawJobs: MappingToken | undefined): JobDef {
  const raw = findMapping(rawJobs, job.id.value);
  const base = {
    id: job.id.value,
    name: job.name,
    needs: (job.needs ?? []).map((n) => n.value),
    if: job.if?.expression ?? "success()",
    strategy: job.strategy,
    outputs: job.outputs,
    concurrency: job.concurrency,
    timeoutMinutes: find(raw, "timeout-minutes"),
    continueOnError: find(raw, "continue-on-error"),
    token: (raw ?? job.id) as TemplateToken,
  };
  if (job.type === "reusableWorkflowJob") {
    return {
      ...base,
      steps: [],
      uses: job.ref.value,
      with: job["input-values"],
      secrets: job["secret-values"],
      inheritSecrets: job["inherit-secrets"],
    };
  }
  return {
    ...base,
    runsOn: job["runs-on"],
    env: find(raw, "env") ?? job.env,
    environment: job.environment,
    container: job.container,
    services: find(raw, "services") ?? job.services,
    defaults: find(raw, "defaults"),
    steps: buildSteps(job.steps, find(raw, "steps")),
  };
}

/**
 * Cycles in `needs`, named job by job. GitHub's converter reports some cycles only as "the workflow
 * must contain at least one job with no dependencies", which does not say which jobs are at fault.
 */
export function checkNeeds(relPath: string, rawJobs: MappingToken | undefined): Problem[] {
  if (!rawJobs) return [];
  const needs = new Map<string, { id: string; token: TemplateToken }[]>();
  for (const { key, value } of rawJobs) {
    if (!isString(key)) continue;
    const n = find(value, "needs");
    const items = n ? (isSequence(n) ? [...n] : [n]) : [];
    needs.set(
      key.value,
      items.filter(isString).map((t) => ({ id: t.value, token: t as TemplateToken })),
    );
  }
  const problems: Problem[] = [];
  const state = new Map<string, "visiting" | "done">();
  const reported = new Set<string>();
  const visit = (id: string, path: string[]) => {
    state.set(id, "visiting");
    for (const dep of needs.get(id) ?? []) {
      if (!needs.has(dep.id)) {
        const start = dep.token.range?.start;
        problems.push({
          file: relPath,
          line: start?.line,
          col: start?.column,
          message: `Job '${id}' depends on unknown job '${dep.id}'.`,
        });
        continue;
      }
      if (state.get(dep.id) === "visiting") {
        const cycle = [...path.slice(path.indexOf(dep.id)), dep.id];
        const key = [...cycle].sort().join(",");
        if (!reported.has(key)) {
          reported.add(key);
          const start = dep.token.range?.start;
          problems.push({
            file: relPath,
            line: start?.line,
            col: start?.column,
            message: `Job '${id}' depends on job '${dep.id}' which creates a cycle in the dependency graph: ${cycle.join(" → ")}`,
          });
        }
      } else if (!state.has(dep.id)) visit(dep.id, [...path, dep.id]);
    }
    state.set(id, "done");
  };
  for (const id of needs.keys()) if (!state.has(id)) visit(id, [id]);
  return problems;
}

/**
 * Where GitHub's schema allows a whole `${{ }}` in place of a mapping (job and step `env`, `services`),
 * the parser accepts it but its converter asserts a mapping and drops the job or step. The runner
 * evaluates these values when the job or step starts, as GitHub does; the converter is shown an empty
 * mapping in their place, and the expressions are put back (where the model reads them) afterwards.
 */
function hideWholeExpressions(rawJobs: MappingToken | undefined): () => void {
  const hidden: { pair: { value: TemplateToken }; value: TemplateToken }[] = [];
  const hide = (map: TemplateToken | undefined, key: string) => {
    if (!map || !isMapping(map)) return;
    for (let i = 0; i < map.count; i++) {
      const pair = map.get(i) as unknown as { key: TemplateToken; value: TemplateToken };
      if (!isString(pair.key) || pair.key.value !== key || !isBasicExpression(pair.value)) continue;
      const value = pair.value;
      hidden.push({ pair, value });
      pair.value = new MappingToken(value.file, value.range, value.definitionInfo);
    }
  };
  for (const { value: job } of rawJobs ?? []) {
    hide(job, "env");
    hide(job, "services");
    const steps = find(job, "steps");
    if (steps && isSequence(steps)) for (const step of steps) hide(step, "env");
  }
  return () => {
    for (const { pair, value } of hidden) pair.value = value;
  };
}

/**
 * Input definitions read from the raw tokens: the converter drops inputs of `type: number`. A default
 * may be an expression (workflow_call), so it stays a token.
 */
function inputDefs(map: MappingToken | undefined): Record<string, InputDef> | undefined {
  if (!map) return undefined;
  const out: Record<string, InputDef> = {};
  for (const { key, value } of map) {
    if (!isString(key)) continue;
    const def: InputDef = { type: "string" };
    if (isMapping(value)) {
      for (const { key: k, value: v } of value) {
        if (!isString(k)) continue;
        if (k.value === "default") def.default = v;
        else if (k.value === "type") def.type = String(tokenToJson(v));
        else if (k.value === "required") def.required = tokenToJson(v) === true;
        else if (k.value === "options" && isSequence(v))
          def.options = [...v].map((o) => String(tokenToJson(o)));
        else if (k.value === "description") def.description = String(tokenToJson(v));
      }
    }
    out[key.value] = def;
  }
  return out;
}

/**
 * YAML reads CRLF and CR as line breaks and gives scalars LF only, but GitHub's parser builds the
 * expressions of block scalars from the raw source text, CRs included; files committed with CRLF are
 * read as YAML says before parsing, so nothing sees a CR. Lines and columns do not move.
 */
export function yamlLineBreaks(content: string): string {
  return content.includes("\r") ? content.replace(/\r\n?/g, "\n") : content;
}

/**
 * Workflows parsed in this process, by name and content: a server reads the same file at its trigger,
 * its orchestration and each of its legs, and parsing is most of the cost of the first two. A parse
 * depends on nothing else, and the result is never changed by its users; only valid ones are kept.
 */
const parsedWorkflows = new Map<string, Promise<WorkflowFile>>();
const maxParsedWorkflows = 256;

/** Parses and validates one workflow file; throws a UserError listing every problem. */
export async function loadWorkflowFile(path: string, repoDir: string): Promise<WorkflowFile> {
  const relPath = relative(repoDir, path) || path;
  let content: string;
  try {
    content = yamlLineBreaks(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new UserError(`cannot read workflow ${relPath}: ${(cause as Error).message}`, [], { cause });
  }
  return parseWorkflowText(relPath, content, path);
}

/**
 * A workflow given as text (a leg spec's, on the server), parsed once per content like the files above;
 * `path` is where it would be (its relPath when there is no file).
 */
export async function parseWorkflowText(
  relPath: string,
  content: string,
  path = relPath,
): Promise<WorkflowFile> {
  const key = `${relPath}\0${createHash("sha256").update(content).digest("hex")}`;
  let parsing = parsedWorkflows.get(key);
  if (parsing) {
    // Most recently used last, so the oldest is the one dropped.
    parsedWorkflows.delete(key);
  } else {
    parsing = parseWorkflowFile(path, relPath, content);
    parsing.catch(() => parsedWorkflows.delete(key));
    if (parsedWorkflows.size >= maxParsedWorkflows)
      parsedWorkflows.delete(parsedWorkflows.keys().next().value as string);
  }
  parsedWorkflows.set(key, parsing);
  const wf = await parsing;
  return wf.path === path ? wf : { ...wf, path };
}

async function parseWorkflowFile(path: string, relPath: string, content: string): Promise<WorkflowFile> {
  const parsed = parseWorkflow({ name: relPath, content }, new NoOperationTraceWriter());
  const parseErrors = parsed.context.errors.getErrors() as unknown as ErrorLike[];
  if (parseErrors.length > 0 || !parsed.value) {
    const problems = toProblems(relPath, parseErrors);
    if (problems.length === 0) problems.push({ file: relPath, message: "the workflow is empty" });
    throw new UserError(`invalid workflow ${relPath}`, problems);
  }
  const restore = hideWholeExpressions(findMapping(parsed.value, "jobs"));
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  restore();
  const convertErrors = parsed.context.errors.getErrors() as unknown as ErrorLike[];
  if (convertErrors.length > 0) {
    const cycles = checkNeeds(relPath, findMapping(parsed.value, "jobs"));
    // Our own needs problems name the jobs; drop the converter's vaguer or identical ones.
    const mine = new Set(cycles.map((p) => p.message));
    const problems = toProblems(relPath, convertErrors).filter(
      (p) =>
        !mine.has(p.message) &&
        !(
          cycles.length &&
          (/cycle/.test(p.message) || /at least one job with no dependencies/.test(p.message))
        ),
    );
    throw new UserError(`invalid workflow ${relPath}`, [...problems, ...cycles]);
  }
  const root = parsed.value;
  registerTemplateStrings(root, content, relPath);
  const rawJobs = findMapping(root, "jobs");
  const nameToken = find(root, "name");
  const jobs = template.jobs.map((j) => buildJob(j, rawJobs));
  const workflowCall = findMapping(find(root, "on"), "workflow_call");
  return {
    path,
    relPath,
    name: nameToken && isString(nameToken) ? nameToken.value : relPath,
    events: template.events,
    jobs,
    env: find(root, "env"),
    defaults: find(root, "defaults"),
    concurrency: find(root, "concurrency"),
    runName: find(root, "run-name"),
    callOutputs: findMapping(workflowCall, "outputs"),
    dispatchInputs: inputDefs(findMapping(findMapping(find(root, "on"), "workflow_dispatch"), "inputs")),
    callInputs: inputDefs(findMapping(workflowCall, "inputs")),
  };
}

/** The workflow files named by `-W` (a file or a directory), or `.github/workflows` by default. */
export function listWorkflowFiles(repoDir: string, workflowsPath?: string): string[] {
  const target = workflowsPath
    ? isAbsolute(workflowsPath)
      ? workflowsPath
      : resolve(repoDir, workflowsPath)
    : join(repoDir, ".github", "workflows");
  let st: import("node:fs").Stats;
  try {
    st = statSync(target);
  } catch {
    if (!workflowsPath) return [];
    throw new UserError(`workflow path not found: ${target}`);
  }
  if (st.isFile()) return [target];
  return readdirSync(target)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => join(target, f));
}

/** Loads every workflow; all problems of all files are reported together. */
export async function loadWorkflows(repoDir: string, files: string[]): Promise<WorkflowFile[]> {
  const out: WorkflowFile[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    try {
      out.push(await loadWorkflowFile(f, repoDir));
    } catch (err) {
      if (err instanceof UserError)
        problems.push(...(err.problems.length ? err.problems : [{ file: f, message: err.message }]));
      else throw err;
    }
  }
  if (problems.length) throw new UserError("invalid workflows", problems);
  return out;
}
