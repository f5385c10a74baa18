// The deploy steps of `slipway demo` (v1, then v2): one run of the demo repository's workflow on a push,
// with the code `slipway run` uses (test → version → build → deploy), recorded in the demo's report as a
// stage with the version it released and the images it built.
import { join } from "node:path";
import { OperationError } from "../lib/errors.js";
import { checkActions, executeRun, planRun, type RunResult } from "../runner/index.js";
import { listWorkflowFiles, loadWorkflows, synthesizeEvent } from "../workflow/index.js";
import type { DemoReport, DemoStage } from "./demo-report.js";
import { demoApp } from "./demo-setup.js";
import { HumanReporter, renderSummary } from "./render.js";
import type { Style } from "./tty.js";

/** Where and how the demo's pipelines run (the same for v1 and v2). */
export type PipelineContext = {
  dir: string;
  runnerDir: string;
  releasesDir: string;
  env: NodeJS.ProcessEnv;
  style: Style;
  signal: AbortSignal;
  report: DemoReport;
  say: (s: string) => void;
};

/** Runs the pipeline of the commit just made; its stage is added to the report, and it must release. */
export async function runPipeline(
  ctx: PipelineContext,
  name: "v1" | "v2",
  message: string,
  commit: string,
): Promise<DemoStage> {
  const { dir, runnerDir, releasesDir, env, style, signal, report, say } = ctx;
  say(`${name}: running the pipeline of "${message}" (test → version → build → deploy)`);
  const workflows = await loadWorkflows(dir, listWorkflowFiles(dir));
  const event = await synthesizeEvent(dir, "push");
  const plan = planRun(workflows, event);
  checkActions(plan, join(runnerDir, "actions"));
  const reporter = new HumanReporter(style);
  let result: RunResult;
  try {
    result = await executeRun(plan, {
      repoDir: dir,
      dataDir: runnerDir,
      repository: `local/${demoApp}`,
      defaultBranch: "main",
      actor: process.env.USER ?? "slipway",
      secrets: {},
      vars: { DOCKER: String(report.docker.used), RELEASES_DIR: releasesDir },
      inputs: {},
      reporter,
      signal,
      hostEnv: env as Record<string, string>,
    });
  } finally {
    reporter.flush();
  }
  process.stderr.write(renderSummary(result, style));
  const job = (id: string) => result.jobs.find((j) => j.id === id);
  const images = job("build")?.outputs.images;
  if (images) {
    for (const i of Object.values(
      JSON.parse(images) as Record<string, { image: string | null; status: string }>,
    ))
      if (i.image && i.status === "built") report.docker.images.push(i.image);
  }
  const stage: DemoStage = {
    name,
    commit,
    message,
    version: job("version")?.outputs.version || null,
    run: {
      status: result.status,
      jobs: result.jobs.map((j) => ({
        id: j.id,
        status: j.status,
        durationMs: j.durationMs,
        ...(j.message ? { message: j.message } : {}),
      })),
    },
  };
  report.stages.push(stage);
  if (result.status !== "success")
    throw new OperationError(`the ${name} pipeline ended with ${result.status}`);
  if (!stage.version) throw new OperationError(`the ${name} pipeline released no version`);
  return stage;
}
