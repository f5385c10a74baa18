// The mutable state of one running job leg, and the contexts and environment derived from it. Its
// directories are laid out by job-dirs.ts and its default variables come from default-env.ts.
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { coerceToString, type EvaluationOptions, hashFiles, type Json } from "../expressions/index.js";
import type { JobDef, WorkflowFile } from "../workflow/index.js";
import { evaluateMapping } from "../workflow/index.js";
import type { RunContext } from "./context.js";
import { defaultStepEnv, runnerContextOf } from "./default-env.js";
import type { ContainerSetup } from "./env/container.js";
import { HostEnvironment } from "./env/host.js";
import type { JobEnvironment } from "./env/types.js";
import { type CommandFiles, makeJobDirs, newCommandFiles, writeEventFile } from "./job-dirs.js";
import { defaultJobLogLimit, LogBudget, truncationNotice } from "./log-limit.js";
import type { MatrixLeg } from "./matrix.js";
import type { JobRef, LogKind } from "./reporter.js";
import type { JobResult, StepResult } from "./types.js";
import type { Annotation } from "./workflow-commands.js";

export type NeedsContext = Record<string, { result: string; outputs: Record<string, string> }>;

export type JobInvocation = {
  run: RunContext;
  workflow: WorkflowFile;
  job: JobDef;
  ref: JobRef;
  matrix: MatrixLeg | null;
  strategy: Record<string, Json>;
  needs: NeedsContext;
  inputs: Record<string, Json>;
  github: Record<string, Json>;
  secrets: Record<string, string>;
  /** Aborted by fail-fast, a concurrency group or the run's cancellation. */
  signal: AbortSignal;
};

export type StepContextEntry = { outputs: Record<string, string>; outcome: string; conclusion: string };

/** A queued post step (a JavaScript action's `post`, a built-in's save), run at the end in reverse order. */
export type PostStep = { name: string; condition: string; run: () => Promise<"success" | "failure"> };

export class JobState {
  readonly inv: JobInvocation;
  readonly dir: string;
  readonly workspace: string;
  readonly temp: string;
  readonly toolCache: string;
  readonly eventPath: string;
  /** Where the runner puts step scripts and file-command files. */
  readonly scriptDir: string;
  private readonly commandsDir: string;
  /** The environment host steps start from (the run's, with HOME and USER of an isolated leg's user). */
  readonly hostEnv: Record<string, string>;
  /** workflow env + job env, evaluated at job start. */
  env: Record<string, string> = {};
  /** Variables written to GITHUB_ENV by earlier steps. */
  readonly fileEnv: Record<string, string> = {};
  /** Directories written to GITHUB_PATH, newest first. */
  readonly pathAdditions: string[] = [];
  status: "success" | "failure" = "success";
  readonly stepResults: StepResult[] = [];
  readonly annotations: Annotation[] = [];
  readonly summaries: string[] = [];
  readonly postSteps: PostStep[] = [];
  readonly processGroups: number[] = [];
  defaultsRun: { shell?: string; "working-directory"?: string } = {};
  /** The job's container and services, when it has any. */
  containers: ContainerSetup | undefined;
  /** The host, where JavaScript actions and built-ins run whatever the job's environment. */
  readonly host: HostEnvironment;
  /** Where the job's `run` steps run: the host, or the job container once it is up. */
  environment: JobEnvironment;
  private counter = 0;
  /**
   * The steps running now, innermost last (a composite action's step runs inside its own step), each
   * with its number: 1-based, in the order steps are reported (a skipped step counts when it is
   * reported), as the server numbers a job's steps. Annotations name the innermost one.
   */
  private readonly runningSteps: { number: number; name: string }[] = [];
  private stepsReported = 0;
  /** How much of the job's log may still be written (the per-job cap). */
  readonly logBudget: LogBudget;

  constructor(inv: JobInvocation) {
    this.inv = inv;
    this.logBudget = new LogBudget(inv.run.logLimit ?? defaultJobLogLimit);
    const dirs = makeJobDirs(inv.run, inv.ref.key);
    this.dir = dirs.dir;
    this.workspace = dirs.workspace;
    this.temp = dirs.temp;
    this.toolCache = dirs.toolCache;
    this.eventPath = dirs.eventPath;
    this.scriptDir = dirs.scriptDir;
    this.commandsDir = dirs.commandsDir;
    this.hostEnv = dirs.hostEnv;
    this.host = new HostEnvironment(this.hostEnv, inv.run.runAs);
    this.environment = this.host;
    writeEventFile(inv.run, this.eventPath);
  }

  /** Fresh file-command files for one step (see job-dirs.ts); the caller reads and removes them. */
  newCommandFiles(): CommandFiles {
    return newCommandFiles(this.commandsDir, this.inv.run);
  }

  /**
   * Writes one line to the job's log, masked, within the job's log cap: past it, one notice says the log
   * was cut and later lines are dropped (the job goes on).
   */
  log(text: string, kind: LogKind = "log"): void {
    const run = this.inv.run;
    const masked = run.masker.mask(text);
    switch (this.logBudget.take(masked)) {
      case "keep":
        run.reporter.log(this.inv.ref, masked, kind);
        return;
      case "first-over":
        run.reporter.log(this.inv.ref, truncationNotice(this.logBudget.limit), "warning");
        return;
      case "drop":
        return;
    }
  }

  /** Reports a step's start; annotations from now until it finishes name it. */
  stepStarted(step: { id: string; name: string }): void {
    const number = ++this.stepsReported;
    this.runningSteps.push({ number, name: step.name });
    this.inv.run.reporter.stepStarted(this.inv.ref, { ...step, number });
  }

  /** Reports a step's end; `started` false: a step reported only now (skipped, never started). */
  stepFinished(step: StepResult, started: boolean): void {
    const number = started ? this.runningSteps.pop()?.number : ++this.stepsReported;
    this.inv.run.reporter.stepFinished(this.inv.ref, {
      ...step,
      ...(number !== undefined ? { number } : {}),
    });
  }

  /**
   * Keeps an annotation of the job with the step that made it (GitHub's annotations carry the step's
   * number); one made outside any step (setting up, evaluating the job's outputs) names none.
   * `report`: also tell the reporter (annotations from workflow commands, shown as they come).
   */
  annotate(annotation: Annotation, report = false): Annotation {
    const step = this.runningSteps.at(-1);
    const a: Annotation = step ? { ...annotation, stepNumber: step.number, stepName: step.name } : annotation;
    this.annotations.push(a);
    if (report) this.inv.run.reporter.annotation(this.inv.ref, a);
    return a;
  }

  /** Aborted when the job is cancelled: the run's or fail-fast's cancellation, or the job's timeout. */
  readonly controller = new AbortController();
  timedOut = false;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  nextId(): number {
    return ++this.counter;
  }

  jobStatus(): "success" | "failure" | "cancelled" {
    return this.cancelled ? "cancelled" : this.status;
  }

  runnerContext(): Record<string, Json> {
    return runnerContextOf(this, this.inv.run.verbose);
  }

  /** The contexts for expressions evaluated inside the job (steps, job outputs). */
  contexts(extra: {
    env: Record<string, string>;
    steps: Record<string, StepContextEntry>;
    inputs?: Record<string, Json>;
    github?: Record<string, Json>;
  }): Record<string, unknown> {
    const inv = this.inv;
    return {
      github: { ...this.githubContext(), ...(extra.github ?? {}) },
      env: extra.env,
      vars: inv.run.vars,
      secrets: inv.secrets,
      job: {
        status: this.jobStatus(),
        container: { id: this.containers?.jobContainer ?? "", network: this.containers?.network ?? "" },
        services: this.containers?.services ?? {},
      },
      steps: extra.steps,
      runner: this.runnerContext(),
      matrix: inv.matrix ?? {},
      strategy: inv.strategy,
      needs: inv.needs,
      inputs: extra.inputs ?? inv.inputs,
    };
  }

  githubContext(): Record<string, Json> {
    return {
      ...this.inv.github,
      job: this.inv.job.id,
      workspace: this.workspace,
      event_path: this.eventPath,
    };
  }

  evalOptions(contexts: Record<string, unknown>): EvaluationOptions {
    return {
      contexts,
      status: {
        success: this.status === "success",
        failure: this.status === "failure",
        cancelled: this.cancelled,
      },
      hashFiles: (patterns) => hashFiles(this.workspace, patterns),
    };
  }

  /** Evaluates an env mapping (or a whole expression that gives one) to strings. */
  evaluateEnv(token: TemplateToken | undefined, opts: EvaluationOptions): Record<string, string> {
    if (!token) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(evaluateMapping(token, opts, "env"))) out[k] = coerceToString(v);
    return out;
  }

  /** The default variables GitHub sets for every step. */
  defaultEnv(): Record<string, string> {
    return defaultStepEnv(this.githubContext(), this.inv.job.id, this, this.inv.run.verbose);
  }

  result(
    startedAt: number,
    status: JobResult["status"],
    outputs: Record<string, string>,
    message?: string,
  ): JobResult {
    const inv = this.inv;
    return {
      id: inv.ref.id,
      name: inv.ref.name,
      workflow: inv.workflow.relPath,
      matrix: inv.matrix,
      status,
      outputs,
      durationMs: Date.now() - startedAt,
      steps: this.stepResults,
      annotations: this.annotations,
      summary: this.summaries.join(""),
      ...(message ? { message } : {}),
    };
  }
}
