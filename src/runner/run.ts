// A run: plan (which workflows the event triggers, which jobs, what is missing) and then execute
// every triggered workflow's graph with shared job slots, secrets and masking.
import { setMaxListeners } from "node:events";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { Json } from "../expressions/index.js";
import { hostChildEnv } from "../lib/child-env.js";
import { UserError } from "../lib/errors.js";
import { eventRef as eventRefOf, eventSha as eventShaOf } from "../workflow/index.js";
import type { WorkflowFile } from "../workflow/index.js";
import { evaluateToken, tokenToJson } from "../workflow/index.js";
import { matchWorkflowTrigger, type TriggerEvent } from "../workflow/index.js";
import { ConcurrencyGroups, concurrencySetting } from "./concurrency.js";
import { githubContext, type RunContext, Semaphore } from "./context.js";
import { runGraph, withNeeds } from "./graph.js";
import { type LegExecutor, newGraphScope } from "./graph-scope.js";
import { jobLogLimit } from "./log-limit.js";
import { Masker } from "./masker.js";
import type { Reporter } from "./reporter.js";
import { locateAction } from "./steps/action-loader.js";
import { isRemoteAction } from "./steps/remote.js";
import { ActionCache } from "./actions/cache.js";
import { actionSource, type ActionSource } from "./actions/source.js";
import type { JobResult, RunResult, Status } from "./types.js";

export type PlannedWorkflow = { workflow: WorkflowFile; matched: boolean; reason: string; jobs: string[] };

export type RunPlan = { event: TriggerEvent; workflows: PlannedWorkflow[] };

/** Which workflows the event triggers and which of their jobs run (`-j` selects a job and its needs). */
export function planRun(
  workflows: WorkflowFile[],
  event: TriggerEvent,
  opts: { job?: string; workflowsGiven?: boolean } = {},
): RunPlan {
  const planned: PlannedWorkflow[] = workflows.map((wf) => {
    const m = matchWorkflowTrigger(wf.events, event);
    let jobs = wf.jobs.map((j) => j.id);
    if (opts.job) jobs = wf.jobs.some((j) => j.id === opts.job) ? [...withNeeds(wf, [opts.job])] : [];
    return { workflow: wf, matched: m.matched && jobs.length > 0, reason: m.reason, jobs };
  });
  if (opts.job && !workflows.some((wf) => wf.jobs.some((j) => j.id === opts.job))) {
    const known = workflows.flatMap((wf) => wf.jobs.map((j) => j.id));
    throw new UserError(`no job '${opts.job}' in the workflows (jobs: ${known.join(", ") || "none"})`);
  }
  return { event, workflows: planned };
}

/**
 * Remote actions the planned jobs use that are not in the action cache already (added, or fetched and
 * resolved in this process): an error before anything runs. Nothing is fetched; `slipway run` uses
 * checkRunNeeds, which fetches.
 */
export function checkActions(plan: RunPlan, actionsDir: string): void {
  const cache = new ActionCache(actionsDir, actionSource({ offline: true }));
  const missing = new Set<string>();
  for (const p of plan.workflows.filter((w) => w.matched)) {
    for (const job of p.workflow.jobs.filter((j) => p.jobs.includes(j.id))) {
      for (const step of job.steps) {
        const uses = step.uses;
        if (!uses || !isRemoteAction(uses)) continue;
        try {
          locateAction(uses, "/", cache);
        } catch (err) {
          missing.add((err as Error).message);
        }
      }
    }
  }
  if (missing.size) throw new UserError([...missing].join("\n"));
}

export type ExecuteOptions = {
  repoDir: string;
  dataDir: string;
  repository: string;
  defaultBranch: string;
  actor: string;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  inputs: Record<string, Json>;
  reporter: Reporter;
  signal: AbortSignal;
  jobs?: number;
  verbose?: boolean;
  /** The environment steps on the host start from (lib/child-env); default: built from this process's. */
  hostEnv?: Record<string, string>;
  /** Bytes of log a job leg may write before the rest is dropped; default: jobLogLimit(). */
  logLimit?: number;
  /** runs-on labels mapped to images (`-P ubuntu-latest=node:20`); `-self-hosted` keeps a label on the host. */
  platforms?: Record<string, string>;
  /** Where remote actions are fetched from; default: the environment's settings. */
  actionSource?: ActionSource;
};

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLIPWAY_DATA_DIR) return env.SLIPWAY_DATA_DIR;
  const base = env.XDG_DATA_HOME || join(env.HOME || "/tmp", ".local", "share");
  return join(base, "slipway");
}

/** The next run number for a repository, kept in the data directory. */
function nextRunNumber(dataDir: string, repository: string): number {
  const dir = join(dataDir, "runs", repository.replace(/[^A-Za-z0-9._-]+/g, "_"));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "counter");
  let n = 0;
  try {
    n = Number(readFileSync(file, "utf8")) || 0;
  } catch {
    n = 0;
  }
  n += 1;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, String(n));
  renameSync(tmp, file);
  return n;
}

export async function executeRun(plan: RunPlan, opts: ExecuteOptions): Promise<RunResult> {
  const started = Date.now();
  const runNumber = nextRunNumber(opts.dataDir, opts.repository);
  const runId = `${Date.now()}${String(runNumber).padStart(4, "0")}`.slice(-12);
  const workDir = join(opts.dataDir, "work", runId);
  mkdirSync(workDir, { recursive: true });
  const masker = new Masker();
  for (const v of Object.values(opts.secrets)) masker.add(v);
  const event = plan.event;
  const run: RunContext = {
    repoDir: opts.repoDir,
    workflowRoot: opts.repoDir,
    dataDir: opts.dataDir,
    workDir,
    runId,
    runNumber,
    runAttempt: 1,
    event,
    sha: eventShaOf(event),
    ref: eventRefOf(event),
    repository: opts.repository,
    defaultBranch: opts.defaultBranch,
    actor: opts.actor,
    secrets: opts.secrets,
    vars: opts.vars,
    masker,
    reporter: opts.reporter,
    signal: opts.signal,
    slots: new Semaphore(Math.max(1, opts.jobs ?? cpus().length)),
    actionsDir: join(opts.dataDir, "actions"),
    ...(opts.actionSource ? { actionSource: opts.actionSource } : {}),
    verbose: !!opts.verbose,
    platforms: opts.platforms ?? {},
    cleanJobDirs: false,
    hostEnv: opts.hostEnv ?? hostChildEnv(),
    logLimit: opts.logLimit ?? jobLogLimit(),
  };
  try {
    const result = await driveRun(run, plan.workflows, { inputs: opts.inputs });
    return { ...result, durationMs: Date.now() - started };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

export type DriveOptions = {
  inputs: Record<string, Json>;
  /** How legs execute; default: here, with runJobLeg. */
  executeLeg?: LegExecutor;
  /** Concurrency groups shared with other runs (the server's); default: this run's own. */
  groups?: ConcurrencyGroups;
};

/**
 * Runs the graphs of the triggered workflows in a prepared run context. `slipway run` and the server
 * both come through here; they differ in how a leg executes.
 */
export async function driveRun(
  run: RunContext,
  workflows: PlannedWorkflow[],
  opts: DriveOptions,
): Promise<RunResult> {
  const started = Date.now();
  const groups = opts.groups ?? new ConcurrencyGroups();
  const results: JobResult[] = [];
  const matched = workflows.filter((w) => w.matched);
  await Promise.all(
    matched.map(async (p) => {
      const controller = new AbortController();
      setMaxListeners(0, controller.signal);
      const onAbort = () => controller.abort(run.signal.reason);
      if (run.signal.aborted) onAbort();
      else run.signal.addEventListener("abort", onAbort, { once: true });
      const scope = newGraphScope(run, p.workflow, groups, results, opts.inputs, controller.signal);
      scope.onlyJobs = new Set(p.jobs);
      if (opts.executeLeg) scope.executeLeg = opts.executeLeg;
      let ticket: { cancelled: boolean; release: () => void } | undefined;
      if (p.workflow.concurrency) {
        const { group, cancelInProgress } = concurrencySetting(
          evaluateToken(p.workflow.concurrency, {
            contexts: { github: githubContext(run, p.workflow), inputs: opts.inputs, vars: run.vars },
          }),
        );
        if (group) {
          ticket = await groups.enter(`workflow:${group}`, cancelInProgress, () =>
            controller.abort(new Error("concurrency")),
          );
        }
      }
      try {
        if (ticket?.cancelled) controller.abort(new Error("concurrency"));
        await runGraph(scope);
      } finally {
        ticket?.release();
        run.signal.removeEventListener("abort", onAbort);
      }
    }),
  );
  return {
    status: overallStatus(results, run.signal.aborted),
    runId: run.runId,
    workflows: matched.map((m) => m.workflow.relPath),
    jobs: results,
    durationMs: Date.now() - started,
  };
}

/** workflow_dispatch inputs typed by the workflows' input definitions (boolean, number, choice). */
export function dispatchInputValues(
  workflows: WorkflowFile[],
  given: Record<string, string>,
): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const wf of workflows) {
    for (const [name, d] of Object.entries(wf.dispatchInputs ?? {})) {
      const raw = name in given ? given[name] : d.default ? tokenToJson(d.default) : undefined;
      if (raw === undefined) {
        if (d.required)
          throw new UserError(
            `workflow_dispatch input '${name}' is required: pass --input ${name}=VALUE or give it in the event's inputs`,
          );
        out[name] = d.type === "boolean" ? false : "";
        continue;
      }
      if (d.type === "boolean") {
        const s = String(raw);
        if (s !== "true" && s !== "false")
          throw new UserError(`input '${name}' must be true or false, got '${s}'`);
        out[name] = s === "true";
      } else if (d.type === "number") {
        const n = Number(raw);
        if (Number.isNaN(n)) throw new UserError(`input '${name}' must be a number, got '${raw}'`);
        out[name] = n;
      } else if (d.type === "choice" && d.options && !d.options.includes(String(raw))) {
        throw new UserError(`input '${name}' must be one of ${d.options.join(", ")}, got '${raw}'`);
      } else out[name] = String(raw);
    }
  }
  for (const [k, v] of Object.entries(given)) if (!(k in out)) out[k] = v;
  return out;
}

function overallStatus(jobs: JobResult[], cancelled: boolean): Status {
  if (jobs.length === 0) return "skipped";
  if (jobs.some((j) => j.status === "failure" && !j.continueOnError)) return "failure";
  if (cancelled || jobs.some((j) => j.status === "cancelled")) return "cancelled";
  if (jobs.every((j) => j.status === "skipped")) return "skipped";
  return "success";
}
