// `slipway run [EVENT]`: run the repository's workflows for an event on this machine (act's flags).
import { setMaxListeners } from "node:events";
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { childEnv, passEnvNames } from "../lib/child-env.js";
import { OperationError, UserError } from "../lib/errors.js";
import {
  ActionCache,
  actionSource,
  checkRunNeeds,
  defaultDataDir,
  dispatchInputValues,
  executeRun,
  jobLogLimit,
  killAllGroups,
  planRun,
  type RunPlan,
  type RunResult,
  silentReporter,
  validateActionsUrl,
} from "../runner/index.js";
import {
  listWorkflowFiles,
  loadEventFile,
  loadWorkflows,
  synthesizeEvent,
  type TriggerEvent,
  type WorkflowFile,
} from "../workflow/index.js";
import { collect, parsePairs, readDotenvFile, validateNames } from "./options.js";
import { HumanReporter, renderSummary } from "./render.js";
import { makeStyle } from "./tty.js";
import { textTable } from "../lib/format.js";

type RunFlags = {
  workflows?: string;
  eventpath?: string;
  job?: string;
  secret: string[];
  secretFile: string[];
  var: string[];
  varFile: string[];
  input: string[];
  inputFile: string[];
  platform: string[];
  list?: boolean;
  directory: string;
  json?: boolean;
  jobs?: string;
  verbose?: boolean;
  dryRun?: boolean;
  passEnv: string[];
  actionsUrl?: string;
  offline?: boolean;
};

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run the workflows that EVENT triggers (default: push), as GitHub Actions would")
    .argument("[event]", "event name (push, pull_request, workflow_dispatch, ...)", "push")
    .option("-W, --workflows <path>", "workflow file or directory of workflows")
    .option("-e, --eventpath <file>", "GitHub webhook payload (JSON) for the event")
    .option("-j, --job <id>", "run this job and the jobs it needs")
    .option(
      "-s, --secret <NAME>",
      "a secret from the environment variable NAME (act's NAME=VALUE works too, but shows the value to ps)",
      collect,
      [] as string[],
    )
    .option("--secret-file <file>", "secrets from a dotenv file", collect, [] as string[])
    .option("--var <NAME=VALUE>", "a configuration variable (vars context)", collect, [] as string[])
    .option("--var-file <file>", "variables from a dotenv file", collect, [] as string[])
    .option("--input <NAME=VALUE>", "a workflow_dispatch input", collect, [] as string[])
    .option("--input-file <file>", "inputs from a dotenv file", collect, [] as string[])
    .option(
      "-P, --platform <label=image>",
      "run jobs with this runs-on label in a container of IMAGE (`-self-hosted`: on the host)",
      collect,
      [] as string[],
    )
    .option("-l, --list", "list workflows, their triggers and jobs, then exit")
    .option("-C, --directory <dir>", "the repository to run in", ".")
    .option("--json", "print one JSON document with the results on stdout (logs go to stderr)")
    .option("--jobs <n>", "how many jobs run at once (default: CPU count)")
    .option("-v, --verbose", "show debug output (like ACTIONS_STEP_DEBUG)")
    .option(
      "-n, --dry-run",
      "print the plan (workflows and jobs that would run) and what it would need that is missing, without running anything",
    )
    .option(
      "--actions-url <url>",
      "fetch remote actions and reusable workflows from this git server (env SLIPWAY_ACTIONS_URL; default https://github.com)",
    )
    .option("--offline", "use only the action cache; fetch nothing (env SLIPWAY_ACTIONS_OFFLINE=1)")
    .option(
      "--pass-env <NAME>",
      "pass this variable of your environment to the jobs (repeatable; env SLIPWAY_PASS_ENV=A,B); jobs otherwise get only PATH, HOME, locale, TZ, TERM, TMPDIR and proxies",
      collect,
      [] as string[],
    )
    .action(async (eventName: string, flags: RunFlags) => {
      process.exitCode = await runCommand(eventName, flags);
    });
}

async function readEvent(
  repoDir: string,
  eventName: string,
  flags: RunFlags,
  inputs: Record<string, string>,
): Promise<TriggerEvent> {
  if (flags.eventpath) return loadEventFile(resolve(flags.eventpath), eventName, repoDir);
  return synthesizeEvent(repoDir, eventName, { inputs });
}

/**
 * The inputs of a workflow_dispatch payload (an `-e` file's, then `--input`s over them) as the strings
 * GitHub's dispatch form sends; the workflow's input definitions type them.
 */
function payloadInputs(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

export async function runCommand(eventName: string, flags: RunFlags): Promise<number> {
  const repoDir = resolve(flags.directory);
  const style = makeStyle({ json: flags.json });
  const secrets = {
    ...Object.assign({}, ...flags.secretFile.map((f) => readDotenvFile(f, "--secret-file"))),
    ...parsePairs(flags.secret, "-s/--secret"),
  };
  if (flags.secret.some((p) => p.includes("=")))
    process.stderr.write(
      "slipway: warning: -s NAME=VALUE puts the secret on the command line, visible to other local users (ps, /proc) and shell history; use -s NAME (from the environment) or --secret-file\n",
    );
  const vars = {
    ...Object.assign({}, ...flags.varFile.map((f) => readDotenvFile(f, "--var-file"))),
    ...parsePairs(flags.var, "--var"),
  };
  const inputs = {
    ...Object.assign({}, ...flags.inputFile.map((f) => readDotenvFile(f, "--input-file"))),
    ...parsePairs(flags.input, "--input"),
  };
  validateNames(secrets, "secret");
  validateNames(vars, "variable");
  // Jobs see a built environment, as on GitHub: not this shell's SLIPWAY_* or other variables unless passed.
  const hostEnv = childEnv(process.env, passEnvNames(process.env, flags.passEnv));
  const logLimit = jobLogLimit();
  const jobs = flags.jobs === undefined ? undefined : Number(flags.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
    throw new UserError(`--jobs must be a whole number of at least 1, got '${flags.jobs}'`);

  const workflows = await loadWorkflows(repoDir, listWorkflowFiles(repoDir, flags.workflows));
  if (flags.list) {
    process.stdout.write(
      flags.json ? `${JSON.stringify(listing(workflows), null, 2)}\n` : renderListing(workflows),
    );
    return 0;
  }
  const event = await readEvent(repoDir, eventName, flags, inputs);
  if (eventName === "workflow_dispatch") {
    (event.payload as Record<string, unknown>).inputs = {
      ...((event.payload.inputs as object) ?? {}),
      ...inputs,
    };
  }
  const plan = planRun(workflows, event, { job: flags.job });
  const dataDir = defaultDataDir();
  const source = actionSource({
    ...(flags.actionsUrl !== undefined ? { url: validateActionsUrl(flags.actionsUrl, "--actions-url") } : {}),
    ...(flags.offline ? { offline: true } : {}),
  });
  // Everything the jobs need, fetched (or, with --dryrun, only looked for) before anything runs.
  const missing = await checkRunNeeds(
    plan.workflows.filter((w) => w.matched),
    { repoDir, cache: new ActionCache(`${dataDir}/actions`, source), fetch: !flags.dryRun },
  );
  if (flags.dryRun) {
    process.stdout.write(
      flags.json ? `${JSON.stringify({ ...planJson(plan), missing }, null, 2)}\n` : renderPlan(plan),
    );
    if (missing.length) throw new UserError(`the run would need what is missing:\n${missing.join("\n")}`);
    return 0;
  }
  if (missing.length) throw new UserError(missing.join("\n"));

  const matched = plan.workflows.filter((w) => w.matched);
  noteUnprotectedEnvironments(matched);
  const reporter = new HumanReporter(style);
  if (matched.length === 0) {
    for (const w of plan.workflows)
      process.stderr.write(`${w.workflow.relPath}: not triggered (${w.reason})\n`);
  }
  const dispatchInputs =
    eventName === "workflow_dispatch"
      ? dispatchInputValues(
          matched.map((m) => m.workflow),
          payloadInputs(event.payload.inputs),
        )
      : {};

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("\ncancelling the run (Ctrl-C again to stop at once)\n");
      controller.abort(new Error("cancelled by the user"));
    } else {
      killAllGroups();
      process.exit(130);
    }
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  let result: RunResult;
  try {
    const payload = event.payload as Record<string, any>;
    result = await executeRun(plan, {
      repoDir,
      dataDir,
      repository: String(payload.repository?.full_name ?? `local/${repoDir.split("/").pop()}`),
      defaultBranch: String(payload.repository?.default_branch ?? "main"),
      actor: String(payload.sender?.login ?? process.env.USER ?? "slipway"),
      secrets,
      vars,
      inputs: dispatchInputs,
      reporter: matched.length ? reporter : silentReporter,
      signal: controller.signal,
      jobs,
      verbose: flags.verbose || process.env.ACTIONS_STEP_DEBUG === "true",
      platforms: parsePairs(flags.platform, "-P/--platform"),
      actionSource: source,
      hostEnv,
      logLimit,
    });
  } finally {
    reporter.flush();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  process.stderr.write(renderSummary(result, style));
  if (flags.json) process.stdout.write(`${JSON.stringify(toJson(result), null, 2)}\n`);
  if (result.status === "failure" || result.status === "cancelled") {
    if (!flags.json) throw new OperationError(`run ${result.status}`);
    return 1;
  }
  return 0;
}

function toJson(result: RunResult) {
  return {
    status: result.status,
    runId: result.runId,
    workflows: result.workflows,
    durationMs: result.durationMs,
    jobs: result.jobs.map((j) => ({
      id: j.id,
      name: j.name,
      workflow: j.workflow,
      matrix: j.matrix,
      status: j.status,
      outputs: j.outputs,
      durationMs: j.durationMs,
      steps: j.steps.map((s) => ({
        id: s.id,
        name: s.name,
        outcome: s.outcome,
        conclusion: s.conclusion,
        durationMs: s.durationMs,
        outputs: s.outputs,
      })),
      annotations: j.annotations,
      summary: j.summary,
      ...(j.environmentUrl !== undefined ? { environmentUrl: j.environmentUrl } : {}),
      ...(j.message ? { message: j.message } : {}),
    })),
  };
}

type Listed = { file: string; name: string; events: string[]; jobs: { id: string; needs: string[] }[] };

function listing(workflows: Awaited<ReturnType<typeof loadWorkflows>>): Listed[] {
  return workflows.map((wf) => ({
    file: wf.relPath,
    name: wf.name,
    events: Object.keys(wf.events),
    jobs: wf.jobs.map((j) => ({ id: j.id, needs: j.needs })),
  }));
}

function renderListing(workflows: Awaited<ReturnType<typeof loadWorkflows>>): string {
  const rows = listing(workflows).flatMap((w) =>
    w.jobs.map((j) => [w.file, w.name, j.id, j.needs.join(",") || "-", w.events.join(",")]),
  );
  const header = ["WORKFLOW FILE", "WORKFLOW", "JOB", "NEEDS", "EVENTS"];
  return textTable([header, ...rows]);
}

function planJson(plan: RunPlan) {
  return {
    event: plan.event.name,
    workflows: plan.workflows.map((w) => ({
      file: w.workflow.relPath,
      matched: w.matched,
      reason: w.reason,
      jobs: w.matched ? w.jobs : [],
    })),
  };
}

function renderPlan(plan: RunPlan): string {
  return plan.workflows
    .map(
      (w) =>
        `${w.workflow.relPath}: ${w.matched ? `runs ${w.jobs.join(", ")}` : `not triggered (${w.reason})`}\n`,
    )
    .join("");
}

/**
 * Said once: a local run has no server to hold a job for reviewers, a timer or branch rules, and no
 * environment-scoped secrets; what --secret/--var give applies to every job.
 */
function noteUnprotectedEnvironments(matched: { workflow: WorkflowFile; jobs: string[] }[]): void {
  const jobs = matched.flatMap((w) =>
    w.workflow.jobs.filter((j) => j.environment && w.jobs.includes(j.id)).map((j) => j.id),
  );
  if (jobs.length === 0) return;
  process.stderr.write(
    `note: environments are unprotected in a local run (no reviewers, wait timer or branch rules) for job${jobs.length > 1 ? "s" : ""} ${jobs.join(", ")}; --secret, --secret-file and --var apply to every job\n`,
  );
}
