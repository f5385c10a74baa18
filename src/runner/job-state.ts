// The mutable state of one running job leg, and the contexts and environment derived from it.
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { coerceToString, type EvaluationOptions, hashFiles, type Json } from "../expressions/index.js";
import type { JobDef, WorkflowFile } from "../workflow/index.js";
import { evaluateMapping } from "../workflow/index.js";
import type { RunContext } from "./context.js";
import type { ContainerSetup } from "./env/container.js";
import { HostEnvironment } from "./env/host.js";
import type { JobEnvironment } from "./env/types.js";
import { giveTo, writeLegFile } from "./isolation.js";
import { defaultJobLogLimit, LogBudget, truncationNotice } from "./log-limit.js";
import type { MatrixLeg } from "./matrix.js";
import { makePrivateDir } from "./private-files.js";
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

export type CommandFiles = Record<
  "GITHUB_OUTPUT" | "GITHUB_ENV" | "GITHUB_PATH" | "GITHUB_STEP_SUMMARY" | "GITHUB_STATE",
  string
>;

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
    const safe = inv.ref.key.replace(/[^A-Za-z0-9._-]+/g, "_");
    this.dir = join(inv.run.workDir, safe);
    const repoName = inv.run.repository.split("/").pop() || "repo";
    this.workspace = join(this.dir, repoName);
    this.temp = join(this.dir, "_temp");
    this.logBudget = new LogBudget(inv.run.logLimit ?? defaultJobLogLimit);
    // Scripts with interpolated secrets and GITHUB_ENV files live here: private to slipway's user.
    makePrivateDir(inv.run.workDir);
    makePrivateDir(this.dir);
    const runAs = inv.run.runAs;
    if (!runAs) {
      this.toolCache = join(inv.run.dataDir, "toolcache");
      this.scriptDir = this.temp;
      this.commandsDir = join(this.temp, "_runner_file_commands");
      this.hostEnv = inv.run.hostEnv;
      mkdirSync(this.workspace, { recursive: true, mode: 0o700 });
      makePrivateDir(this.temp);
      makePrivateDir(this.commandsDir);
      makePrivateDir(join(this.temp, "_github_workflow"));
      mkdirSync(this.toolCache, { recursive: true });
      this.eventPath = join(this.temp, "_github_workflow", "event.json");
    } else {
      // An isolated fork leg: the job dir is the runner's (the leg's user may enter, not list or
      // change it); in it, the workspace, temp dir, tool cache and HOME are the user's. Scripts and
      // file-command files sit in the runner's _runner dir, each file the user's: the step writes them,
      // but cannot swap one for a symlink to a file of the runner's that the runner would then read.
      this.toolCache = join(this.dir, "_tool");
      this.scriptDir = join(this.dir, "_runner");
      this.commandsDir = this.scriptDir;
      const home = join(this.dir, "_home");
      chmodSync(inv.run.workDir, 0o711);
      chmodSync(this.dir, 0o711);
      for (const d of [this.workspace, this.temp, this.toolCache, home]) {
        makePrivateDir(d);
        giveTo(d, runAs);
      }
      makePrivateDir(this.scriptDir);
      chmodSync(this.scriptDir, 0o711);
      this.eventPath = join(this.scriptDir, "event.json");
      this.hostEnv = {
        ...inv.run.hostEnv,
        HOME: home,
        USER: runAs.name,
        LOGNAME: runAs.name,
        TMPDIR: this.temp,
      };
    }
    this.host = new HostEnvironment(this.hostEnv, runAs);
    this.environment = this.host;
    rmSync(this.eventPath, { force: true });
    writeLegFile(this.eventPath, JSON.stringify(inv.run.event.payload, null, 2), 0o600, runAs);
  }

  /**
   * Fresh file-command files for one step (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY,
   * GITHUB_STATE), as GitHub's runner makes them: a step never sees, nor appends to, what an earlier step
   * wrote. Empty, 0600; the caller reads and removes them when the step ends.
   */
  newCommandFiles(): CommandFiles {
    const dir = this.commandsDir;
    const id = randomUUID();
    const files: CommandFiles = {
      GITHUB_OUTPUT: join(dir, `set_output_${id}`),
      GITHUB_ENV: join(dir, `set_env_${id}`),
      GITHUB_PATH: join(dir, `add_path_${id}`),
      GITHUB_STEP_SUMMARY: join(dir, `step_summary_${id}`),
      GITHUB_STATE: join(dir, `save_state_${id}`),
    };
    for (const f of Object.values(files)) writeLegFile(f, "", 0o600, this.inv.run.runAs);
    return files;
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
    return {
      os: "Linux",
      arch: process.arch === "arm64" ? "ARM64" : "X64",
      name: "slipway",
      environment: "self-hosted",
      temp: this.temp,
      tool_cache: this.toolCache,
      workspace: this.dir,
      debug: this.inv.run.verbose ? "1" : "",
    };
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
    const g = this.githubContext();
    const s = (v: Json | undefined) => (v === undefined || v === null ? "" : String(v));
    return {
      CI: "true",
      GITHUB_ACTIONS: "true",
      GITHUB_ACTOR: s(g.actor),
      GITHUB_ACTOR_ID: s(g.actor_id),
      GITHUB_API_URL: s(g.api_url),
      GITHUB_BASE_REF: s(g.base_ref),
      GITHUB_EVENT_NAME: s(g.event_name),
      GITHUB_EVENT_PATH: this.eventPath,
      GITHUB_GRAPHQL_URL: s(g.graphql_url),
      GITHUB_HEAD_REF: s(g.head_ref),
      GITHUB_JOB: this.inv.job.id,
      GITHUB_REF: s(g.ref),
      GITHUB_REF_NAME: s(g.ref_name),
      GITHUB_REF_PROTECTED: "false",
      GITHUB_REF_TYPE: s(g.ref_type),
      GITHUB_REPOSITORY: s(g.repository),
      GITHUB_REPOSITORY_ID: s(g.repository_id),
      GITHUB_REPOSITORY_OWNER: s(g.repository_owner),
      GITHUB_REPOSITORY_OWNER_ID: s(g.repository_owner_id),
      GITHUB_RETENTION_DAYS: s(g.retention_days),
      GITHUB_RUN_ATTEMPT: s(g.run_attempt),
      GITHUB_RUN_ID: s(g.run_id),
      GITHUB_RUN_NUMBER: s(g.run_number),
      GITHUB_SERVER_URL: s(g.server_url),
      GITHUB_SHA: s(g.sha),
      GITHUB_TRIGGERING_ACTOR: s(g.triggering_actor),
      GITHUB_WORKFLOW: s(g.workflow),
      GITHUB_WORKFLOW_REF: s(g.workflow_ref),
      GITHUB_WORKFLOW_SHA: s(g.workflow_sha),
      GITHUB_WORKSPACE: this.workspace,
      RUNNER_ARCH: process.arch === "arm64" ? "ARM64" : "X64",
      RUNNER_ENVIRONMENT: "self-hosted",
      RUNNER_NAME: "slipway",
      RUNNER_OS: "Linux",
      RUNNER_TEMP: this.temp,
      RUNNER_TOOL_CACHE: this.toolCache,
      RUNNER_WORKSPACE: this.dir,
      ...(this.inv.run.verbose ? { RUNNER_DEBUG: "1" } : {}),
    };
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
