// Notifications of finished runs: the event is built in the background and handed to the Notifier with
// the server's rules and the repository's `notify:` section (read once per commit from the mirror; for
// a fork's run, from the pull request's base commit). Nothing here can fail or slow a run.
import { describeError, UserError } from "../lib/errors.js";
import { readFileAt } from "../lib/git.js";
import { type NotifyConfig, parseNotifySection } from "../notify/index.js";
import type { Repo, Run } from "../store/index.js";
import type { CiContext } from "./context.js";
import { pullRequestBase, runsForkCode } from "./forks.js";
import { commitInfo, resolveRef } from "./mirror.js";
import type { Repos } from "./repos.js";
import { payloadOf, previousConclusion, runEventOf } from "./run-event.js";

/** A repository's `notify:` section at a commit; `warning` when it could not be used. */
type RepoNotify = { config?: NotifyConfig; warning?: string };

/** Where a repository's notification rules live, in the order looked for. */
const configFiles = ["slipway.yaml", "slipway.yml"];
/** How long a run's end waits to learn whether its slipway.yaml has a bad `notify:` (to say so on it). */
const notifyConfigWaitMs = 5000;

export class RunNotifications {
  private readonly ctx: CiContext;
  private readonly repos: Repos;
  /** Notifications being built (not delivered: that is the Notifier's, in the background). */
  private readonly notifying = new Set<Promise<void>>();
  /** Per repository and commit (commits do not change); a few recent ones. */
  private readonly repoNotify = new Map<string, Promise<RepoNotify>>();

  constructor(ctx: CiContext, repos: Repos) {
    this.ctx = ctx;
    this.repos = repos;
  }

  /**
   * The `notify:` section that applies to a run. A fork's code never configures the server: for its
   * runs the section comes from the pull request's base commit (written by people who can push to the
   * repository), and when that commit is unknown the repository's own notifications are not sent.
   */
  async repoNotifyForRun(repo: Repo, run: Run): Promise<RepoNotify> {
    if (!runsForkCode(run)) return this.repoNotifyConfig(repo, run.sha);
    const base = pullRequestBase(payloadOf(run));
    const mirror = this.ctx.mirrorOf(repo);
    const sha =
      (base.sha ? await resolveRef(mirror, base.sha) : undefined) ??
      (base.branch ? await resolveRef(mirror, `refs/heads/${base.branch}`) : undefined);
    if (!sha)
      return {
        warning:
          "the pull request's base commit is unknown; the repository's notify: rules are not applied to this fork's run",
      };
    return this.repoNotifyConfig(repo, sha);
  }

  /** The `notify:` section of the repository's slipway.yaml at `sha`, read from the mirror once. */
  private repoNotifyConfig(repo: Repo, sha: string): Promise<RepoNotify> {
    const key = `${repo.id}:${sha}`;
    let p = this.repoNotify.get(key);
    if (!p) {
      p = (async (): Promise<RepoNotify> => {
        const mirror = this.ctx.mirrorOf(repo);
        for (const file of configFiles) {
          let text: string | undefined;
          try {
            text = await readFileAt(mirror, sha, file);
          } catch (err) {
            return { warning: `cannot read ${file} at ${sha.slice(0, 7)}: ${describeError(err)}` };
          }
          if (text === undefined) continue;
          try {
            return { config: parseNotifySection(text, file) };
          } catch (err) {
            if (!(err instanceof UserError)) throw err;
            return {
              warning: `${file} at ${sha.slice(0, 7)} has an invalid notify: section; the repository's notifications are not sent:\n${describeError(err)}`,
            };
          }
        }
        return {};
      })().catch((err) => ({ warning: `cannot read the notify: section: ${describeError(err)}` }));
      this.repoNotify.set(key, p);
      // Keep the few most recent commits.
      while (this.repoNotify.size > 64) this.repoNotify.delete(this.repoNotify.keys().next().value!);
    }
    return p;
  }

  /**
   * The `notify:` section of a repository's slipway.yaml at the head of its default branch (fetched
   * first), for `slipway notify test --repo`. A section that cannot be used is a UserError.
   */
  async repoNotifyConfigAtHead(name: string): Promise<NotifyConfig | undefined> {
    const repo = await this.repos.repoByName(name);
    const mirror = this.ctx.mirrorOf(repo);
    await this.repos.fetch(mirror).catch((err) => this.ctx.log(`fetch ${repo.name}: ${describeError(err)}`));
    const sha = await resolveRef(mirror, `refs/heads/${repo.branch}`);
    if (!sha) throw new UserError(`${repo.name} has no branch ${repo.branch}`);
    const r = await this.repoNotifyConfig(repo, sha);
    if (r.warning) throw new UserError(r.warning);
    return r.config;
  }

  async notifyWarning(run: Run): Promise<string | undefined> {
    if (!this.ctx.opts.notify) return undefined;
    try {
      const repo = await this.ctx.store.repos.get(run.repoId);
      if (!repo) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<RepoNotify>((resolve) => {
        timer = setTimeout(() => resolve({}), notifyConfigWaitMs);
      });
      const r = await Promise.race([this.repoNotifyForRun(repo, run), late]);
      clearTimeout(timer);
      if (r.warning) this.ctx.log(`run ${run.id}: ${r.warning}`);
      return r.warning;
    } catch {
      return undefined;
    }
  }

  /**
   * Hands the finished run to the Notifier for the server's rules and the repository's. Returns at once:
   * the event is built in the background (a few store reads) and delivered later still; nothing here
   * can fail or slow the run. `stop` waits for the events being built.
   */
  notifyFinished(runId: number): void {
    const notify = this.ctx.opts.notify;
    if (!notify) return;
    const p = (async () => {
      const run = await this.ctx.store.runs.get(runId);
      if (run?.status !== "completed") return;
      const repo = await this.ctx.store.repos.get(run.repoId);
      if (!repo) return;
      const mirror = this.ctx.mirrorOf(repo);
      const [jobs, commit, previous, repoNotify] = await Promise.all([
        this.ctx.store.jobs.list(run.id, run.attempt),
        commitInfo(mirror, run.sha).catch(() => undefined),
        previousConclusion(this.ctx.store, run),
        this.repoNotifyForRun(repo, run),
      ]);
      const event = runEventOf({
        run,
        repository: repo.name,
        jobs,
        commit,
        previousConclusion: previous,
        runUrl: notify.runUrl?.(run.id),
      });
      await notify.notifier.send(event, notify.config, { scope: null });
      if (repoNotify.config) await notify.notifier.send(event, repoNotify.config, { scope: repo.name });
    })()
      .catch((err) => this.ctx.log(`run ${runId}: cannot notify: ${describeError(err)}`))
      .finally(() => this.notifying.delete(p));
    this.notifying.add(p);
  }

  /** Waits for the events being built, so they are recorded before the store closes. */
  async drain(): Promise<void> {
    while (this.notifying.size > 0) await Promise.allSettled([...this.notifying]);
  }
}
