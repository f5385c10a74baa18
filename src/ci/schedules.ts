// Cron: the `on.schedule` entries of each repository's default-branch workflows, fired when they came
// due since the last check. Kept apart from triggers.ts, which turns any event into runs; this file
// only finds which workflows a tick of the clock triggers.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Repo, Run } from "../store/index.js";
import { dueSchedules, type ScheduleEntry } from "../triggers/index.js";
import {
  listWorkflowFiles,
  loadWorkflowFile,
  type TriggerEvent,
  type WorkflowFile,
} from "../workflow/index.js";
import type { CiContext } from "./context.js";
import { checkoutWorkflows, resolveRef } from "./mirror.js";

/** What the cron needs: the shared context and the start of runs of one workflow for an event. */
export type ScheduleDeps = {
  ctx: CiContext;
  triggerWorkflow: (repo: Repo, event: TriggerEvent, workflow: string | undefined) => Promise<Run[]>;
};

/** Fires `on.schedule` crons of the default branch's workflows that came due since the last check. */
export async function runSchedules(deps: ScheduleDeps, lastChecked: Date, now: Date): Promise<Run[]> {
  const { ctx } = deps;
  const runs: Run[] = [];
  for (const repo of await ctx.store.repos.list()) {
    const mirror = ctx.mirrorOf(repo);
    if (!existsSync(mirror)) continue;
    const sha = await resolveRef(mirror, `refs/heads/${repo.branch}`);
    if (!sha) continue;
    const root = await checkoutWorkflows(mirror, sha, join(ctx.dataDir, "workflows"));
    for (const file of listWorkflowFiles(root)) {
      let wf: WorkflowFile;
      try {
        wf = await loadWorkflowFile(file, root);
      } catch {
        continue;
      }
      const entries = (wf.events.schedule ?? []) as ScheduleEntry[];
      for (const due of dueSchedules(entries, lastChecked, now)) {
        const event: TriggerEvent = {
          name: "schedule",
          payload: {
            schedule: due.entry.cron,
            repository: { full_name: ctx.repositoryInfo(repo).fullName, default_branch: repo.branch },
          },
          ref: `refs/heads/${repo.branch}`,
          sha,
        };
        runs.push(...(await deps.triggerWorkflow(repo, event, wf.relPath.split("/").pop())));
      }
    }
  }
  return runs;
}
