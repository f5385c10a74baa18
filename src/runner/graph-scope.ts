// What one run of a job graph works in (the run, the workflow, its inputs and secrets, the shared
// results), apart from graph.ts so reusable workflows, which run a graph of their own, need not import it.
import type { Json } from "../expressions/index.js";
import type { WorkflowFile } from "../workflow/index.js";
import type { ConcurrencyGroups } from "./concurrency.js";
import { githubContext, type RunContext } from "./context.js";
import { runJobLeg } from "./job.js";
import type { JobInvocation } from "./job-state.js";
import type { JobResult, Status } from "./types.js";

export type JobOutcome = { result: Status; outputs: Record<string, string> };

/**
 * Executes one job leg. `slipway run` runs it here (runJobLeg); the server queues it for a runner and
 * waits for the result, or hands back the recorded result of an earlier attempt when re-running.
 */
export type LegExecutor = (inv: JobInvocation) => Promise<JobResult>;

export type GraphScope = {
  run: RunContext;
  workflow: WorkflowFile;
  inputs: Record<string, Json>;
  secrets: Record<string, string>;
  github: Record<string, Json>;
  /** Prefix for job ids of called workflows (`caller/`). */
  idPrefix: string;
  /** Only these jobs (and what they need) run; undefined = all. */
  onlyJobs?: Set<string>;
  signal: AbortSignal;
  groups: ConcurrencyGroups;
  results: JobResult[];
  depth: number;
  /** The repository root local `uses:` of this workflow are read from; default: the run's workflowRoot. */
  workflowRoot?: string;
  executeLeg: LegExecutor;
};

export function newGraphScope(
  run: RunContext,
  workflow: WorkflowFile,
  groups: ConcurrencyGroups,
  results: JobResult[],
  inputs: Record<string, Json>,
  signal: AbortSignal,
): GraphScope {
  return {
    run,
    workflow,
    inputs,
    secrets: run.secrets,
    github: githubContext(run, workflow),
    idPrefix: "",
    signal,
    groups,
    results,
    depth: 0,
    executeLeg: runJobLeg,
  };
}
