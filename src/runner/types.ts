// The results of a run, in the shape `slipway run --json` prints.
import type { Json } from "../expressions/index.js";
import type { Annotation } from "./workflow-commands.js";

export type Status = "success" | "failure" | "cancelled" | "skipped";
export type StepOutcome = "success" | "failure" | "cancelled" | "skipped";

export type StepResult = {
  id: string;
  name: string;
  outcome: StepOutcome;
  conclusion: StepOutcome;
  durationMs: number;
  outputs: Record<string, string>;
  /** Its place in the job's reported steps, from 1, as the reporter is told (not in `--json`). */
  number?: number;
};

export type JobResult = {
  /** The job id; for jobs of a called workflow `caller/callee`. */
  id: string;
  name: string;
  workflow: string;
  matrix: Record<string, Json> | null;
  status: Status;
  outputs: Record<string, string>;
  durationMs: number;
  steps: StepResult[];
  annotations: Annotation[];
  /** The contents written to GITHUB_STEP_SUMMARY, in step order. */
  summary: string;
  /** Why the job ended as it did when no step says so (skipped condition, timeout, setup error). */
  message?: string;
  /**
   * `environment.url` evaluated when the job ended (with its steps' outputs), as GitHub's runner reports
   * it; "" when it was empty, held a secret or failed to evaluate. Absent when the job has no URL.
   */
  environmentUrl?: string;
  /** A failed leg of a job with `continue-on-error`: it does not fail the run. */
  continueOnError?: boolean;
};

export type RunResult = {
  status: Status;
  runId: string;
  workflows: string[];
  jobs: JobResult[];
  durationMs: number;
};
