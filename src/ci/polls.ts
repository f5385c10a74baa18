// Polling: repositories with a poll interval are fetched on the server's clock, and every branch head or
// tag that moved since the last poll becomes a push event shaped like GitHub's. Kept apart from
// triggers.ts, which turns any event into runs; this file only finds the events.
import type { Repo, Run, RunTrigger } from "../store/index.js";
import type { TriggerEvent } from "../workflow/index.js";
import { type CiContext, zeroSha } from "./context.js";
import { commitInfo, refHeads } from "./mirror.js";
import type { Repos } from "./repos.js";

/** What polling needs: the shared context, the mirror fetches, and the start of runs for an event. */
export type PollDeps = {
  ctx: CiContext;
  repos: Repos;
  triggerEvent: (repo: Repo, event: TriggerEvent, trigger: RunTrigger) => Promise<Run[]>;
};

/** Polls repositories that have a poll interval: new branch heads and tags become push events. */
export async function pollRepos(deps: PollDeps, now = Date.now()): Promise<void> {
  for (const repo of await deps.ctx.store.repos.list()) {
    if (!repo.pollIntervalS || (repo.lastPolledAt && now - repo.lastPolledAt < repo.pollIntervalS * 1000))
      continue;
    try {
      await pollRepo(deps, repo, now);
    } catch (err) {
      deps.ctx.log(`poll ${repo.name}: ${(err as Error).message}`);
    }
  }
}

export async function pollRepo(deps: PollDeps, repo: Repo, now = Date.now()): Promise<Run[]> {
  const mirror = deps.ctx.mirrorOf(repo);
  await deps.repos.fetch(mirror);
  const heads = await refHeads(mirror);
  let seen: Record<string, string> | undefined;
  try {
    seen = repo.lastSeenSha ? (JSON.parse(repo.lastSeenSha) as Record<string, string>) : undefined;
  } catch {
    seen = undefined;
  }
  await deps.ctx.store.repos.update(repo.id, { lastPolledAt: now, lastSeenSha: JSON.stringify(heads) });
  // The first poll only records where the branches are.
  if (!seen) return [];
  const runs: Run[] = [];
  for (const [ref, sha] of Object.entries(heads)) {
    if (seen[ref] === sha) continue;
    const before = seen[ref] ?? zeroSha;
    const event = await pushEvent(deps.ctx, repo, mirror, ref, before, sha);
    runs.push(...(await deps.triggerEvent(repo, event, "poll")));
  }
  return runs;
}

async function pushEvent(
  ctx: CiContext,
  repo: Repo,
  mirror: string,
  ref: string,
  before: string,
  after: string,
): Promise<TriggerEvent> {
  const info = await commitInfo(mirror, after);
  const repository = ctx.repositoryInfo(repo);
  const headCommit = {
    id: after,
    message: info.message,
    timestamp: info.timestamp,
    author: { name: info.author, email: info.email },
    committer: { name: info.author, email: info.email },
  };
  return {
    name: "push",
    payload: {
      ref,
      before,
      after,
      created: before === zeroSha,
      deleted: false,
      forced: false,
      commits: [headCommit],
      head_commit: headCommit,
      repository: {
        name: repository.fullName.split("/").pop(),
        full_name: repository.fullName,
        default_branch: repo.branch,
        clone_url: repo.url,
        owner: { login: repository.fullName.split("/")[0] },
      },
      pusher: { name: info.author, email: info.email },
      sender: { login: info.author },
    },
  };
}
