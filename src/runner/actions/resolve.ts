// The action cache as the runner uses it: one cache per run context (its source is the run's, or this
// process's settings), every remote action a job needs fetched when the job starts — GitHub's "Download
// action repository" in "Set up job" — so an action that cannot be fetched fails the job before any step
// runs, and a run's needs checked up front (`slipway run`, `--dryrun`).
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { isMapping } from "@actions/workflow-parser";
import type { ActionRunsComposite } from "@actions/workflow-parser/actions/index";
import { UserError } from "../../lib/errors.js";
import {
  buildSteps,
  type JobDef,
  loadWorkflowFile,
  type StepDef,
  type WorkflowFile,
} from "../../workflow/index.js";
import type { RunContext } from "../context.js";
import { loadAction, parseRemoteRef, remoteRefOf } from "../steps/action-loader.js";
import { isRemoteAction } from "../steps/remote.js";
import { ActionCache } from "./cache.js";
import { actionSource } from "./source.js";

const caches = new WeakMap<RunContext, ActionCache>();

/** The run's action cache; its source is `run.actionSource`, or the environment's (SLIPWAY_ACTIONS_URL and friends). */
export function actionCacheOf(run: RunContext): ActionCache {
  let cache = caches.get(run);
  if (!cache) {
    cache = new ActionCache(run.actionsDir, run.actionSource ?? actionSource());
    caches.set(run, cache);
  }
  return cache;
}

const maxCompositeDepth = 10;

/**
 * Fetches (or finds cached) every remote action the steps use, and those the remote composite actions
 * among them use in turn. Throws one UserError listing each action that cannot be had.
 */
export async function prefetchActions(
  steps: StepDef[],
  cache: ActionCache,
  signal?: AbortSignal,
  log?: (line: string) => void,
): Promise<void> {
  const problems = await collectActionProblems(steps, cache, { fetch: true, signal, log });
  if (problems.length) throw new UserError(problems.join("\n"));
}

type CheckOptions = { fetch: boolean; signal?: AbortSignal; log?: (line: string) => void };

async function collectActionProblems(
  steps: StepDef[],
  cache: ActionCache,
  opts: CheckOptions,
  seen = new Set<string>(),
  depth = 0,
): Promise<string[]> {
  const problems: string[] = [];
  for (const step of steps) {
    const uses = step.uses;
    if (!uses || !isRemoteAction(uses) || seen.has(uses)) continue;
    seen.add(uses);
    try {
      const ref = remoteRefOf(uses);
      if (opts.fetch) {
        const dir = await cache.ensure(ref, opts.signal);
        // As GitHub's runner says it in "Set up job".
        const sha = basename(dir);
        opts.log?.(
          `Download action repository '${uses}' (${/^[0-9a-f]{40}$/.test(sha) ? `SHA:${sha}` : "added"})`,
        );
      } else {
        const why = await cache.check(ref, opts.signal);
        if (why) {
          problems.push(why);
          continue;
        }
        if (!cache.lookup(ref)) continue; // Fetchable; what it uses in turn is known once fetched.
      }
      const action = loadAction(uses, "/", cache);
      if (action.template.runs.using !== "composite" || depth >= maxCompositeDepth) continue;
      const runs = action.template.runs as ActionRunsComposite;
      const rawRuns = isMapping(action.root) ? action.root.find("runs") : undefined;
      const rawSteps = rawRuns && isMapping(rawRuns) ? rawRuns.find("steps") : undefined;
      problems.push(
        ...(await collectActionProblems(buildSteps(runs.steps, rawSteps), cache, opts, seen, depth + 1)),
      );
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      problems.push((err as Error).message);
    }
  }
  return problems;
}

/** The directory a remote reusable workflow's repository is in, and the workflow file's path in it. */
export async function remoteWorkflowFile(
  uses: string,
  cache: ActionCache,
  signal?: AbortSignal,
): Promise<{ root: string; file: string }> {
  const ref = remoteRefOf(uses);
  if (!/^\.github\/workflows\/[^/]+\.ya?ml$/.test(ref.path))
    throw new UserError(
      `'${uses}' is not a reusable workflow reference: use owner/repo/.github/workflows/<file>.yml@ref`,
    );
  const root = await cache.ensure(ref, signal);
  return { root, file: join(root, ref.path) };
}

export type NeedsCheck = {
  /** The repository local actions and called workflows are read from (the workspace is a checkout of it). */
  repoDir: string;
  cache: ActionCache;
  /** Fetch what is missing (a real run) or only see whether it could be (`--dryrun`). */
  fetch: boolean;
  signal?: AbortSignal;
};

/**
 * Everything the jobs would need that is not there: remote actions and reusable workflows neither cached
 * nor fetchable, local actions and called workflows missing from the repository. One message each, in
 * the order the jobs name them; an empty list when the run can start.
 */
export async function checkRunNeeds(
  workflows: { workflow: WorkflowFile; jobs: string[] }[],
  opts: NeedsCheck,
): Promise<string[]> {
  const problems: string[] = [];
  const seenActions = new Set<string>();
  const seenWorkflows = new Set<string>();
  const visitJobs = async (wf: WorkflowFile, jobs: JobDef[], root: string, depth: number): Promise<void> => {
    for (const job of jobs) {
      for (const step of job.steps) {
        const uses = step.uses;
        if (!uses || !(uses.startsWith("./") || uses === ".")) continue;
        const dir = resolve(opts.repoDir, uses);
        if (!["action.yml", "action.yaml"].some((f) => existsSync(join(dir, f))))
          problems.push(
            `${wf.relPath}: job '${job.id}': local action ${uses} has no action.yml in the repository`,
          );
      }
      problems.push(...(await collectActionProblems(job.steps, opts.cache, opts, seenActions)));
      if (job.uses && depth < 4) await visitCall(wf, job, root, depth);
    }
  };
  const visitCall = async (wf: WorkflowFile, job: JobDef, root: string, depth: number): Promise<void> => {
    const uses = job.uses!;
    if (seenWorkflows.has(`${root}\0${uses}`)) return;
    seenWorkflows.add(`${root}\0${uses}`);
    let file: string;
    let calleeRoot = root;
    if (uses.startsWith("./")) {
      file = resolve(root, uses.split("@")[0]);
      if (!existsSync(file)) {
        problems.push(`${wf.relPath}: job '${job.id}': called workflow ${uses} is not in the repository`);
        return;
      }
    } else {
      const ref = parseRemoteRef(uses);
      try {
        if (!ref) throw new UserError(`'${uses}' is not a valid reusable workflow reference`);
        if (opts.fetch)
          ({ root: calleeRoot, file } = await remoteWorkflowFile(uses, opts.cache, opts.signal));
        else {
          const why = await opts.cache.check(remoteRefOf(uses), opts.signal);
          if (why) throw new UserError(why);
          const cached = opts.cache.lookup(ref);
          if (!cached) return; // Fetchable; its own needs are known once fetched.
          calleeRoot = cached;
          file = join(cached, ref.path);
        }
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        problems.push(`${wf.relPath}: job '${job.id}': ${(err as Error).message}`);
        return;
      }
    }
    try {
      const callee = await loadWorkflowFile(file, calleeRoot);
      await visitJobs(callee, callee.jobs, calleeRoot, depth + 1);
    } catch (err) {
      problems.push(`${wf.relPath}: job '${job.id}': ${(err as Error).message}`);
    }
  };
  for (const p of workflows) {
    await visitJobs(
      p.workflow,
      p.workflow.jobs.filter((j) => p.jobs.includes(j.id)),
      opts.repoDir,
      0,
    );
  }
  return problems;
}
