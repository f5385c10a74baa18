// A job leg as data: everything a runner on another machine (or the server's own runner) needs to
// execute one leg with the same engine, and the way back from that data to a running leg.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Json } from "../expressions/index.js";
import { hostChildEnv } from "../lib/child-env.js";
import { recordTempDir } from "../lib/process-ledger.js";
import { loadWorkflowFile, type TriggerEvent } from "../workflow/index.js";
import { type ActionSourceSettings, type LegActionSettings, legActionSource } from "./actions/source.js";
import { type RunContext, Semaphore } from "./context.js";
import { isolatedSource, type RunAs } from "./isolation.js";
import { runJobLeg } from "./job.js";
import type { JobInvocation, NeedsContext } from "./job-state.js";
import { jobLogLimit } from "./log-limit.js";
import { Masker } from "./masker.js";
import type { JobRef, Reporter } from "./reporter.js";
import type { ArtifactBackend } from "./builtin/storage.js";
import type { JobResult } from "./types.js";

export type LegSpec = {
  version: 1;
  ref: JobRef;
  jobId: string;
  workflow: { relPath: string; content: string };
  matrix: Record<string, Json> | null;
  strategy: Record<string, Json>;
  needs: NeedsContext;
  inputs: Record<string, Json>;
  github: Record<string, Json>;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  event: { name: string; payload: Record<string, unknown> };
  run: {
    id: string;
    number: number;
    attempt: number;
    sha: string;
    ref: string;
    repository: string;
    defaultBranch: string;
    actor: string;
    /** See RunContext.untrusted. */
    untrusted?: boolean;
  };
  /** Where the runner gets the repository from (a path or git URL). */
  repoUrl: string;
  /** The server's mirror of the repository, for the server's own runner. */
  serverMirror?: string;
  /** runs-on labels, evaluated. */
  labels: string[];
  /** The server's actions setting (runner/actions/source.ts legActionSource): URL and offline, no token. */
  actions?: LegActionSettings;
};

/** The spec of a leg the graph wants to run; the workflow file is read from the run's workflow root. */
export function legSpecOf(
  inv: JobInvocation,
  repoUrl: string,
  labels: string[],
  serverMirror?: string,
): LegSpec {
  const run = inv.run;
  return {
    version: 1,
    ref: inv.ref,
    jobId: inv.job.id,
    workflow: { relPath: inv.workflow.relPath, content: readFileSync(inv.workflow.path, "utf8") },
    matrix: inv.matrix,
    strategy: inv.strategy,
    needs: inv.needs,
    inputs: inv.inputs,
    github: inv.github,
    secrets: inv.secrets,
    vars: run.vars,
    event: { name: run.event.name, payload: run.event.payload },
    run: {
      id: run.runId,
      number: run.runNumber,
      attempt: run.runAttempt,
      sha: run.sha,
      ref: run.ref,
      repository: run.repository,
      defaultBranch: run.defaultBranch,
      actor: run.actor,
      ...(run.untrusted ? { untrusted: true } : {}),
    },
    repoUrl,
    ...(serverMirror ? { serverMirror } : {}),
    labels,
    ...(run.actionSource
      ? { actions: { url: run.actionSource.url, offline: run.actionSource.offline } }
      : {}),
  };
}

export type ExecuteLegOptions = {
  /** A local git repository that has the run's commit (the runner's clone or the server's mirror). */
  repoDir: string;
  dataDir: string;
  reporter: Reporter;
  signal: AbortSignal;
  verbose?: boolean;
  /** The environment steps on the host start from (lib/child-env); default: built from this process's. */
  hostEnv?: Record<string, string>;
  /** Bytes of log the leg may write; default: jobLogLimit(). */
  logLimit?: number;
  /** The user a fork's leg runs as (runner/isolation.ts); without it a fork's leg runs as this process. */
  runAs?: RunAs;
  /** The runner's own actions setting, over the server's (legActionSource). */
  actions?: ActionSourceSettings;
  /** The server's artifact store for this leg (RunContext.artifacts). */
  artifacts?: ArtifactBackend;
};

/** Executes a leg from its spec with the same engine `slipway run` uses. */
export async function executeLegSpec(spec: LegSpec, opts: ExecuteLegOptions): Promise<JobResult> {
  const root = mkdtempSync(join(tmpdir(), "slipway-leg-"));
  // Removed at the next start of a server or runner killed with -9 in the middle of the leg.
  const forgetRoot = recordTempDir(root);
  try {
    const file = join(root, spec.workflow.relPath);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, spec.workflow.content);
    const workflow = await loadWorkflowFile(file, root);
    const job = workflow.jobs.find((j) => j.id === spec.jobId);
    if (!job) throw new Error(`job '${spec.jobId}' is not in ${spec.workflow.relPath}`);
    const masker = new Masker();
    for (const v of Object.values(spec.secrets)) masker.add(v);
    const event: TriggerEvent = {
      name: spec.event.name,
      payload: spec.event.payload,
      ref: spec.run.ref,
      sha: spec.run.sha,
    };
    const runAs = spec.run.untrusted ? opts.runAs : undefined;
    let workDir = join(opts.dataDir, "work", `${spec.run.id}-${spec.run.attempt}`);
    let repoDir = opts.repoDir;
    if (runAs) {
      // Outside the data dir, which its user can never enter; with a copy of the repository it may read.
      chmodSync(root, 0o711);
      workDir = join(root, "work");
      repoDir = await isolatedSource(opts.repoDir, join(root, "source.git"), runAs, opts.signal);
    }
    mkdirSync(workDir, { recursive: true });
    const run: RunContext = {
      repoDir,
      workflowRoot: root,
      dataDir: opts.dataDir,
      workDir,
      runId: spec.run.id,
      runNumber: spec.run.number,
      runAttempt: spec.run.attempt,
      event,
      sha: spec.run.sha,
      ref: spec.run.ref,
      repository: spec.run.repository,
      defaultBranch: spec.run.defaultBranch,
      actor: spec.run.actor,
      secrets: spec.secrets,
      vars: spec.vars,
      masker,
      reporter: opts.reporter,
      signal: opts.signal,
      slots: new Semaphore(1),
      actionsDir: join(opts.dataDir, "actions"),
      actionSource: legActionSource(spec.actions, opts.actions),
      verbose: !!opts.verbose,
      platforms: {},
      cleanJobDirs: true,
      hostEnv: opts.hostEnv ?? hostChildEnv(),
      logLimit: opts.logLimit ?? jobLogLimit(),
      untrusted: spec.run.untrusted === true,
      ...(runAs ? { runAs } : {}),
      ...(opts.artifacts ? { artifacts: opts.artifacts } : {}),
    };
    return await runJobLeg({
      run,
      workflow,
      job,
      ref: spec.ref,
      matrix: spec.matrix,
      strategy: spec.strategy,
      needs: spec.needs,
      inputs: spec.inputs,
      github: spec.github,
      secrets: spec.secrets,
      signal: opts.signal,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
    forgetRoot();
  }
}
