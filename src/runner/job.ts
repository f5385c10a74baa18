// One job leg on the host: set up the workspace and temp dir, evaluate the job's env, defaults and
// timeout, run the steps, then the post steps in reverse, then evaluate the job's outputs.
import { rmSync } from "node:fs";
import {
  coerceToString,
  type EvaluationOptions,
  evaluateExpression,
  isTruthy,
  type Json,
} from "../expressions/index.js";
import { signalGroup } from "../lib/exec.js";
import { evaluateEnvironmentUrl } from "./environment-url.js";
import { ContainerEnvironment, containerDef, setupContainers } from "./env/container.js";
import { evaluateMapping, evaluateToken } from "../workflow/index.js";
import { checkForkContainer } from "./isolation.js";
import { JobState, type JobInvocation } from "./job-state.js";
import { scopeContexts, scopeEnv } from "./steps/common.js";
import { executeSteps } from "./steps/execute.js";
import { runPreSteps } from "./steps/pre.js";
import { actionCacheOf, prefetchActions } from "./actions/resolve.js";
import type { StepScope } from "./steps/types.js";
import type { JobResult } from "./types.js";

function runDefaults(value: Json | undefined): { shell?: string; "working-directory"?: string } {
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  const run = (value as Record<string, Json>).run;
  if (!run || typeof run !== "object" || Array.isArray(run)) return {};
  const out: { shell?: string; "working-directory"?: string } = {};
  if (run.shell !== undefined && run.shell !== null) out.shell = coerceToString(run.shell);
  if (run["working-directory"] !== undefined && run["working-directory"] !== null) {
    out["working-directory"] = coerceToString(run["working-directory"]);
  }
  return out;
}

export async function runJobLeg(inv: JobInvocation): Promise<JobResult> {
  const started = Date.now();
  const run = inv.run;
  const state = new JobState(inv);
  const onAbort = () => state.controller.abort(inv.signal.reason);
  if (inv.signal.aborted) onAbort();
  else inv.signal.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  run.reporter.jobStarted(inv.ref);
  try {
    // Job-level values see github, needs, strategy, matrix, vars, secrets, inputs and the workflow env.
    const baseCtx = state.contexts({ env: {}, steps: {} });
    const wfEnv = inv.workflow.env
      ? state.evaluateEnv(inv.workflow.env as never, state.evalOptions(baseCtx))
      : {};
    const jobCtx = state.contexts({ env: wfEnv, steps: {} });
    const jobEnv = state.evaluateEnv(inv.job.env, state.evalOptions(jobCtx));
    state.env = { ...wfEnv, ...jobEnv };
    const evalCtx = state.contexts({ env: state.env, steps: {} });
    const opts = state.evalOptions(evalCtx);
    state.defaultsRun = {
      ...runDefaults(inv.workflow.defaults ? evaluateToken(inv.workflow.defaults, opts) : undefined),
      ...runDefaults(inv.job.defaults ? evaluateToken(inv.job.defaults, opts) : undefined),
    };
    const timeoutValue = inv.job.timeoutMinutes ? evaluateToken(inv.job.timeoutMinutes, opts) : 360;
    const timeoutMinutes = Number(timeoutValue);
    if (!(timeoutMinutes > 0))
      throw new Error(`timeout-minutes must be a positive number, got ${JSON.stringify(timeoutValue)}`);
    timer = setTimeout(() => {
      state.timedOut = true;
      state.log(`The job has exceeded the maximum execution time of ${timeoutMinutes} minutes.`, "error");
      state.controller.abort(new Error("timeout"));
    }, timeoutMinutes * 60_000);
    // GitHub's "Download action repository" in "Set up job": an action that cannot be had fails the job here.
    await prefetchActions(inv.job.steps, actionCacheOf(run), state.signal, (line) => state.log(line));
    await setUpContainers(state, opts);

    const scope: StepScope = {
      state,
      steps: {},
      env: state.env,
      defaults: state.defaultsRun,
      failed: false,
      composite: false,
      depth: 0,
      label: "",
    };
    scope.preState = await runPreSteps(inv.job.steps, scope);
    await executeSteps(inv.job.steps, scope);
    await runPostSteps(state);

    let outputs: Record<string, string> = {};
    if (inv.job.outputs) {
      const ctx = scopeContexts(scope, scopeEnv(scope));
      const value = evaluateToken(inv.job.outputs, state.evalOptions(ctx));
      outputs = {};
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) {
          const s = coerceToString(v);
          // GitHub does not pass on an output that contains a secret.
          if (run.masker.mask(s) !== s) {
            state.log(`Warning: Skip output '${k}' since it may contain secret.`, "warning");
            continue;
          }
          outputs[k] = s;
        }
      }
    }
    let status: JobResult["status"] = state.status;
    let message: string | undefined;
    if (state.timedOut) {
      // GitHub cancels a job that runs out of time: needs.<job>.result is 'cancelled'.
      status = "cancelled";
      message = `The job has exceeded the maximum execution time of ${timeoutMinutes} minutes.`;
    } else if (state.cancelled) status = "cancelled";
    // After the outputs, as GitHub's runner finalises a job: it may use the steps context.
    const environmentUrl = evaluateEnvironmentUrl(state, scopeContexts(scope, scopeEnv(scope)));
    if (environmentUrl.kind === "failed" && status !== "cancelled") status = "failure";
    const result = state.result(started, status, outputs, message);
    // A URL that failed to evaluate is reported as none, so the server does not evaluate it again.
    if (environmentUrl.kind !== "none")
      result.environmentUrl = environmentUrl.kind === "url" ? environmentUrl.url : "";
    return result;
  } catch (err) {
    const message = (err as Error).message;
    state.log(message, "error");
    state.annotations.push({ level: "error", message: run.masker.mask(message) });
    return state.result(started, state.cancelled ? "cancelled" : "failure", {}, run.masker.mask(message));
  } finally {
    if (state.containers) await state.containers.cleanup();
    if (timer) clearTimeout(timer);
    inv.signal.removeEventListener("abort", onAbort);
    // Like GitHub's "Cleaning up orphan processes": nothing a step left running outlives the job.
    for (const pid of state.processGroups) signalGroup(pid, "SIGKILL");
    if (run.cleanJobDirs && !process.env.SLIPWAY_KEEP_WORKDIRS)
      rmSync(state.dir, { recursive: true, force: true });
  }
}

/** The job container (from `container:` or a runs-on label mapped with -P) and `services:`. */
async function setUpContainers(state: JobState, opts: EvaluationOptions): Promise<void> {
  const inv = state.inv;
  const run = inv.run;
  let job = inv.job.container ? containerDef(evaluateToken(inv.job.container, opts), "container") : undefined;
  if (!job && inv.job.runsOn) {
    const labels = evaluateToken(inv.job.runsOn, opts);
    const list = (Array.isArray(labels) ? labels : [labels]).map((l) => coerceToString(l));
    const image = list.map((l) => run.platforms[l]).find((i) => i !== undefined);
    if (image && image !== "-self-hosted") job = { image };
    if (run.verbose)
      state.log(`runs-on ${JSON.stringify(labels)}: ${job ? `container ${job.image}` : "the host"}`, "debug");
  }
  const services: Record<string, NonNullable<ReturnType<typeof containerDef>>> = {};
  if (inv.job.services) {
    for (const [name, def] of Object.entries(evaluateMapping(inv.job.services, opts, "services"))) {
      const d = containerDef(def, `services.${name}`);
      if (d) services[name] = d;
    }
  }
  if (!job && Object.keys(services).length === 0) return;
  if (run.untrusted) {
    if (job) checkForkContainer(job, "container");
    for (const [name, def] of Object.entries(services)) checkForkContainer(def, `services.${name}`);
  }
  state.containers = await setupContainers({
    jobKey: inv.ref.key,
    runId: run.runId,
    jobDir: state.dir,
    job,
    services,
    signal: state.signal,
    log: (line) => state.log(line),
  });
  if (state.containers.jobContainer) state.environment = new ContainerEnvironment(state.containers);
}

async function runPostSteps(state: JobState): Promise<void> {
  for (const post of [...state.postSteps].reverse()) {
    const status = {
      success: state.status === "success",
      failure: state.status === "failure",
      cancelled: state.cancelled,
    };
    let ok: boolean;
    try {
      ok = isTruthy(
        evaluateExpression(post.condition, {
          contexts: state.contexts({ env: state.env, steps: {} }),
          status,
        }),
      );
    } catch {
      ok = false;
    }
    if (!ok) continue;
    const started = Date.now();
    // One id for the start and the end: a runner matches them to number the step once.
    const id = `post-${state.nextId()}`;
    state.stepStarted({ id, name: post.name });
    const outcome = await post.run();
    const result = {
      id,
      name: post.name,
      outcome,
      conclusion: outcome,
      durationMs: Date.now() - started,
      outputs: {},
    } as const;
    state.stepResults.push({ ...result, outputs: {} });
    if (outcome === "failure") state.status = "failure";
    state.stepFinished({ ...result, outputs: {} }, true);
  }
}
