// Runs a step's process with the file commands (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH,
// GITHUB_STEP_SUMMARY, GITHUB_STATE) and workflow commands on its output, as GitHub's runner does.
import { readFileSync, rmSync, statSync } from "node:fs";
import { parseKeyValueFile, parsePathFile } from "../env-files.js";
import type { JobState } from "../job-state.js";
import { truncationNotice } from "../log-limit.js";
import type { ProcessResult, RunProcessOptions } from "../process.js";
import { WorkflowCommandProcessor } from "../workflow-commands.js";

export type ProcessStepResult = {
  outcome: "success" | "failure" | "cancelled";
  outputs: Record<string, string>;
  state: Record<string, string>;
  message?: string;
};

export type ProcessStepOptions = {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Where the command runs: a JobEnvironment's exec (the host's runs it as an isolated leg's user),
   * or a container action's own container.
   */
  exec: (opts: RunProcessOptions) => Promise<ProcessResult>;
};

export async function runProcessStep(state: JobState, opts: ProcessStepOptions): Promise<ProcessStepResult> {
  const run = state.inv.run;
  const files = state.newCommandFiles();
  const outputs: Record<string, string> = {};
  const savedState: Record<string, string> = {};
  const failures: string[] = [];
  const commands = new WorkflowCommandProcessor();
  const onLine = (line: string) => {
    // Most lines are plain output: no workflow command can be in a line without "::" or "##[".
    if (!line.includes("::") && !line.includes("##[")) {
      state.log(line);
      return;
    }
    for (const effect of commands.process(line)) {
      switch (effect.kind) {
        case "log":
          state.log(effect.text);
          break;
        case "debug":
          if (run.verbose) state.log(effect.text, "debug");
          break;
        case "mask":
          run.masker.add(effect.value);
          break;
        case "annotation": {
          const a = { ...effect.annotation, message: run.masker.mask(effect.annotation.message) };
          // Annotations count against the log cap like the lines they come from.
          const budget = state.logBudget.take(a.message);
          if (budget === "keep") state.annotate(a, true);
          else if (budget === "first-over")
            run.reporter.log(state.inv.ref, truncationNotice(state.logBudget.limit), "warning");
          break;
        }
        case "group-start":
          state.log(effect.title, "group-start");
          break;
        case "group-end":
          run.reporter.log(state.inv.ref, "", "group-end");
          break;
        case "output":
          outputs[effect.name] = effect.value;
          break;
        case "state":
          savedState[effect.name] = effect.value;
          break;
        case "fail":
          failures.push(effect.message);
          state.log(effect.message, "error");
          break;
      }
    }
  };
  const result = await opts.exec({
    command: opts.command,
    args: opts.args,
    cwd: opts.cwd,
    env: { ...opts.env, ...files },
    onLine,
    // A line too long to hold is cut only where no secret straddles the cut, so each piece masks whole.
    safeCut: (text, at, final) => run.masker.safeCut(text, at, final),
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
  });
  if (result.pid) state.processGroups.push(result.pid);

  const fileErrors: string[] = [];
  const readKv = (path: string, into: (k: string, v: string) => void) => {
    const parsed = parseKeyValueFile(takeFile(path));
    for (const [k, v] of parsed.values) into(k, v);
    fileErrors.push(...parsed.errors);
  };
  readKv(files.GITHUB_OUTPUT, (k, v) => {
    outputs[k] = v;
  });
  readKv(files.GITHUB_ENV, (k, v) => {
    state.fileEnv[k] = v;
  });
  readKv(files.GITHUB_STATE, (k, v) => {
    savedState[k] = v;
  });
  for (const p of parsePathFile(takeFile(files.GITHUB_PATH)).reverse()) state.pathAdditions.unshift(p);
  // GitHub keeps at most 1 MiB of summary per step; a bigger one is dropped with an error, as there.
  const summarySize = fileSize(files.GITHUB_STEP_SUMMARY);
  if (summarySize > maxSummaryBytes) {
    rmSync(files.GITHUB_STEP_SUMMARY, { force: true });
    state.log(
      `$GITHUB_STEP_SUMMARY supports content up to a size of 1024k, got ${Math.ceil(summarySize / 1024)}k: not kept`,
      "error",
    );
  } else {
    const summary = takeFile(files.GITHUB_STEP_SUMMARY);
    if (summary) state.summaries.push(run.masker.mask(summary));
  }
  for (const e of fileErrors) state.log(e, "error");

  if (result.spawnError) {
    const msg = `cannot start ${opts.command}: ${result.spawnError.message}`;
    state.log(msg, "error");
    return { outcome: "failure", outputs, state: savedState, message: msg };
  }
  if (result.stoppedBy === "timeout") {
    const msg = "The action has timed out.";
    state.log(msg, "error");
    return { outcome: "failure", outputs, state: savedState, message: msg };
  }
  if (result.stoppedBy === "cancel") {
    return { outcome: "cancelled", outputs, state: savedState, message: "The operation was canceled." };
  }
  if (result.exitCode !== 0) {
    const msg =
      result.exitCode === null
        ? `Process was killed by signal ${result.signal}.`
        : `Process completed with exit code ${result.exitCode}.`;
    state.log(msg, "error");
    return { outcome: "failure", outputs, state: savedState, message: msg };
  }
  if (failures.length || fileErrors.length) {
    return {
      outcome: "failure",
      outputs,
      state: savedState,
      message: [...failures, ...fileErrors].join("; "),
    };
  }
  return { outcome: "success", outputs, state: savedState };
}

const maxSummaryBytes = 1024 * 1024;

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Reads a step's command file and removes it: the next step gets fresh ones. */
function takeFile(path: string): string {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch {
    // The step deleted it: it wrote nothing there.
    return "";
  }
  rmSync(path, { force: true });
  return content;
}
