// What the engine tells the outside while it runs; the CLI renders it, the server will store it.
import type { JobResult, StepResult } from "./types.js";
import type { Annotation } from "./workflow-commands.js";

export type JobRef = { key: string; id: string; name: string; workflow: string };

export type LogKind =
  | "log"
  | "debug"
  | "group-start"
  | "group-end"
  | "command"
  | "error"
  | "warning"
  | "notice";

export interface Reporter {
  jobStarted(job: JobRef): void;
  /** `number`: the step's place in the job's reported steps, from 1 (what annotations' stepNumber names). */
  stepStarted(job: JobRef, step: { id: string; name: string; number?: number }): void;
  /** A line of output, already masked. */
  log(job: JobRef, text: string, kind: LogKind): void;
  annotation(job: JobRef, annotation: Annotation): void;
  stepFinished(job: JobRef, step: StepResult): void;
  jobFinished(job: JobRef, result: JobResult): void;
}

export const silentReporter: Reporter = {
  jobStarted() {},
  stepStarted() {},
  log() {},
  annotation() {},
  stepFinished() {},
  jobFinished() {},
};
