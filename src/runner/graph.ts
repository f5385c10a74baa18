// The job graph of one workflow: a job starts as soon as its own `needs` are done (not level by level),
// matrix legs fan out within the run's job slots, fail-fast cancels sibling legs, and jobs that call
// reusable workflows run the called workflow's graph in place.
import { setMaxListeners } from "node:events";
import { coerceToString, evaluateExpression, isTruthy, type Json } from "../expressions/index.js";
import type { JobDef, WorkflowFile } from "../workflow/index.js";
import { evaluateToken } from "../workflow/index.js";
import { concurrencySetting } from "./concurrency.js";
import { Semaphore } from "./context.js";
import type { GraphScope, JobOutcome } from "./graph-scope.js";
import type { NeedsContext } from "./job-state.js";
import { expandMatrix, legDisplayName, type MatrixLeg } from "./matrix.js";
import { runReusableJob } from "./reusable.js";
import type { JobResult, Status } from "./types.js";

/** The job and everything it needs, transitively. */
export function withNeeds(wf: WorkflowFile, ids: string[]): Set<string> {
  const byId = new Map(wf.jobs.map((j) => [j.id, j]));
  const out = new Set<string>();
  const visit = (id: string) => {
    if (out.has(id)) return;
    out.add(id);
    for (const n of byId.get(id)?.needs ?? []) visit(n);
  };
  for (const id of ids) visit(id);
  return out;
}

function ancestors(wf: WorkflowFile, id: string): string[] {
  const all = withNeeds(wf, [id]);
  all.delete(id);
  return [...all];
}

export async function runGraph(scope: GraphScope): Promise<Map<string, JobOutcome>> {
  const wf = scope.workflow;
  const jobs = wf.jobs.filter((j) => !scope.onlyJobs || scope.onlyJobs.has(j.id));
  const done = new Map<string, JobOutcome>();
  const running = new Map<string, Promise<void>>();
  const started = new Set<string>();
  while (done.size < jobs.length) {
    for (const job of jobs) {
      if (started.has(job.id)) continue;
      if (!job.needs.every((n) => done.has(n))) continue;
      started.add(job.id);
      const p = runJob(scope, job, done).then((outcome) => {
        done.set(job.id, outcome);
        running.delete(job.id);
      });
      running.set(job.id, p);
    }
    if (running.size === 0) break; // Unreachable with a validated graph; guards against a hang.
    await Promise.race(running.values());
  }
  return done;
}

function placeholder(
  scope: GraphScope,
  job: JobDef,
  name: string,
  status: Status,
  message?: string,
  matrix: MatrixLeg | null = null,
): JobResult {
  return {
    id: scope.idPrefix + job.id,
    name,
    workflow: scope.workflow.relPath,
    matrix,
    status,
    outputs: {},
    durationMs: 0,
    steps: [],
    annotations: message && status === "failure" ? [{ level: "error", message }] : [],
    summary: "",
    ...(message ? { message } : {}),
  };
}

/** `key` is the leg's (`build-2`); a job decided as a whole (skipped, failed to plan) has the job's. */
function report(scope: GraphScope, job: JobDef, r: JobResult, key = `${scope.idPrefix}${job.id}`): void {
  scope.results.push(r);
  scope.run.reporter.jobFinished({ key, id: r.id, name: r.name, workflow: r.workflow }, r);
}

async function runJob(scope: GraphScope, job: JobDef, done: Map<string, JobOutcome>): Promise<JobOutcome> {
  const run = scope.run;
  const needs: NeedsContext = {};
  for (const n of job.needs) needs[n] = done.get(n)!;
  const anc = ancestors(scope.workflow, job.id).map((a) => done.get(a)?.result);
  const status = {
    success: anc.every((r) => r === "success"),
    failure: anc.some((r) => r === "failure"),
    cancelled: scope.signal.aborted,
  };
  const contexts = { github: scope.github, needs, vars: run.vars, inputs: scope.inputs };
  const baseName = job.name
    ? safeString(() => coerceToString(evaluateToken(job.name!, { contexts })), job.id)
    : job.id;

  let go: boolean;
  try {
    go = isTruthy(evaluateExpression(job.if, { contexts, status }));
  } catch (err) {
    const msg = `The job's condition failed to evaluate: ${(err as Error).message}`;
    report(scope, job, placeholder(scope, job, baseName, "failure", msg));
    return { result: "failure", outputs: {} };
  }
  if (!go) {
    const result: Status = scope.signal.aborted ? "cancelled" : "skipped";
    report(scope, job, placeholder(scope, job, baseName, result));
    return { result, outputs: {} };
  }

  let legs: (MatrixLeg | null)[];
  let failFast = true;
  let maxParallel = Number.POSITIVE_INFINITY;
  try {
    const strategy = job.strategy ? evaluateToken(job.strategy, { contexts }) : null;
    const s = (
      strategy && typeof strategy === "object" && !Array.isArray(strategy) ? strategy : {}
    ) as Record<string, Json>;
    legs = expandMatrix(s.matrix) ?? [null];
    if (s["fail-fast"] !== undefined && s["fail-fast"] !== null) failFast = isTruthy(s["fail-fast"]);
    if (s["max-parallel"] !== undefined && s["max-parallel"] !== null) {
      maxParallel = Number(s["max-parallel"]);
      if (!(maxParallel >= 1))
        throw new Error(
          `max-parallel must be a number of at least 1, got ${JSON.stringify(s["max-parallel"])}`,
        );
    }
  } catch (err) {
    const msg = `Error when evaluating 'strategy' for job '${job.id}': ${(err as Error).message}`;
    report(scope, job, placeholder(scope, job, baseName, "failure", msg));
    return { result: "failure", outputs: {} };
  }

  const jobController = new AbortController();
  setMaxListeners(0, jobController.signal);
  const onAbort = () => jobController.abort(scope.signal.reason);
  // A job that starts after the run was cancelled (if: always() or cancelled()) runs to its end, as on GitHub.
  if (!scope.signal.aborted) scope.signal.addEventListener("abort", onAbort, { once: true });
  const legLimit = new Semaphore(Math.min(maxParallel, legs.length));
  const outputs: Record<string, string> = {};
  const legResults: { status: Status; continueOnError: boolean }[] = [];
  const isMatrix = legs.length > 1 || legs[0] !== null;

  const runLeg = async (leg: MatrixLeg | null, index: number) => {
    const strategyCtx = {
      "fail-fast": failFast,
      "job-index": index,
      "job-total": legs.length,
      "max-parallel": Number.isFinite(maxParallel) ? maxParallel : legs.length,
    };
    const legCtx = { ...contexts, matrix: leg ?? {}, strategy: strategyCtx };
    const literalName = !job.name?.isExpression;
    const name = literalName
      ? legDisplayName(baseName, isMatrix ? leg : null)
      : safeString(() => coerceToString(evaluateToken(job.name!, { contexts: legCtx })), job.id);
    let continueOnError = false;
    try {
      continueOnError = job.continueOnError
        ? isTruthy(evaluateToken(job.continueOnError, { contexts: legCtx }))
        : false;
    } catch {
      continueOnError = false;
    }
    const key = `${scope.idPrefix}${job.id}${isMatrix ? `-${index + 1}` : ""}`;
    let release: (() => void) | undefined;
    let releaseLeg: (() => void) | undefined;
    let groupTicket: { release: () => void } | undefined;
    try {
      releaseLeg = await legLimit.acquire(jobController.signal);
      if (job.concurrency) {
        const { group, cancelInProgress } = concurrencySetting(
          evaluateToken(job.concurrency, { contexts: legCtx }),
        );
        if (group) {
          const ticket = await scope.groups.enter(
            group,
            cancelInProgress,
            () => jobController.abort(new Error("concurrency")),
            jobController.signal,
          );
          groupTicket = ticket;
          if (ticket.cancelled) {
            releaseLeg();
            releaseLeg = undefined;
            ticket.release();
            groupTicket = undefined;
            const r = placeholder(
              scope,
              job,
              name,
              "cancelled",
              `Canceled: a newer job in concurrency group '${group}' replaced it`,
              leg,
            );
            report(scope, job, r, key);
            legResults.push({ status: "cancelled", continueOnError });
            return;
          }
        }
      }
      const releaseSlot = job.uses ? () => {} : await run.slots.acquire(jobController.signal);
      const heldLeg = releaseLeg;
      release = () => {
        releaseSlot();
        heldLeg();
      };
    } catch {
      releaseLeg?.();
      groupTicket?.release();
      report(scope, job, placeholder(scope, job, name, "cancelled", undefined, leg), key);
      legResults.push({ status: "cancelled", continueOnError });
      return;
    }
    try {
      const ref = { key, id: scope.idPrefix + job.id, name, workflow: scope.workflow.relPath };
      let r: JobResult;
      if (job.uses) {
        r = await runReusableJob(scope, job, ref, legCtx, leg, jobController.signal, runGraph);
      } else {
        r = await scope.executeLeg({
          run,
          workflow: scope.workflow,
          job,
          ref,
          matrix: leg,
          strategy: strategyCtx,
          needs,
          inputs: scope.inputs,
          github: scope.github,
          secrets: scope.secrets,
          signal: jobController.signal,
        });
        if (continueOnError && r.status === "failure") r.continueOnError = true;
        report(scope, job, r, key);
      }
      Object.assign(outputs, r.outputs);
      legResults.push({ status: r.status, continueOnError });
      if (r.status === "failure" && !continueOnError && failFast && isMatrix)
        jobController.abort(new Error("fail-fast"));
    } finally {
      release();
      groupTicket?.release();
    }
  };
  await Promise.all(legs.map((leg, i) => runLeg(leg, i)));
  scope.signal.removeEventListener("abort", onAbort);
  const effective = legResults.map((l) =>
    l.status === "failure" && l.continueOnError ? "success" : l.status,
  );
  const result: Status = effective.includes("failure")
    ? "failure"
    : effective.includes("cancelled")
      ? "cancelled"
      : effective.every((s) => s === "skipped")
        ? "skipped"
        : "success";
  return { result, outputs };
}

function safeString(f: () => string, fallback: string): string {
  try {
    return f() || fallback;
  } catch {
    return fallback;
  }
}
