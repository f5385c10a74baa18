// Deploys made by a run's `uses: slipway/deploy` steps, found in a job's report, for the forge: the step
// runs `slipway deploy` against the environment's agent, so the server sees no deploy request; it learns
// of the release from the step's outputs (app, env, release) when the job's report arrives. Only steps
// that the workflow itself says are `slipway/deploy` count (outputs of any other step are the step's own
// words), only in runs that had the repository's trust (a fork's pull request cannot deploy).
import { parseWorkflowText } from "../workflow/index.js";
import type { LegSpec } from "../runner/index.js";

export type WorkflowDeploy = {
  runId: number;
  jobRowId: number;
  repo: string;
  sha: string;
  actor: string;
  app: string;
  env: string;
  release: number;
};

/** The deploy steps' releases of a finished job (none when it deployed nothing or cannot be read). */
export async function workflowDeploysOf(
  spec: LegSpec,
  ids: { runId: number; jobRowId: number },
  steps: unknown[] | undefined,
): Promise<WorkflowDeploy[]> {
  if (spec.run.untrusted || !steps?.length) return [];
  let deploySteps: Set<string>;
  try {
    const wf = await parseWorkflowText(spec.workflow.relPath, spec.workflow.content);
    const job = wf.jobs.find((j) => j.id === spec.jobId);
    deploySteps = new Set(
      (job?.steps ?? []).filter((s) => /^slipway\/deploy@/.test(s.uses ?? "")).map((s) => s.id),
    );
  } catch {
    return [];
  }
  if (deploySteps.size === 0) return [];
  const found: WorkflowDeploy[] = [];
  for (const raw of steps) {
    const s = raw as { id?: unknown; outputs?: Record<string, unknown> };
    if (typeof s?.id !== "string" || !deploySteps.has(s.id)) continue;
    const { app, env, release } = s.outputs ?? {};
    const number = Number(release);
    if (typeof app !== "string" || typeof env !== "string" || !Number.isInteger(number) || number < 1)
      continue;
    found.push({
      ...ids,
      repo: spec.run.repository,
      sha: spec.run.sha,
      actor: spec.run.actor,
      app,
      env,
      release: number,
    });
  }
  return found;
}
