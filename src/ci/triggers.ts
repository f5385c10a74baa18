// Triggers become runs: webhook deliveries (through the intake), polls of repositories (polls.ts),
// `on.schedule` crons (schedules.ts) and dispatches all reach `triggerEvent`, which starts a run for
// every workflow the event triggers at its commit (a workflow that cannot be read is recorded as a
// failed run).
import { basename, join } from "node:path";
import { formatProblem, UserError } from "../lib/errors.js";
import { dispatchInputValues } from "../runner/index.js";
import type { Repo, Run, RunTrigger } from "../store/index.js";
import { workflowDispatchEvent } from "../triggers/index.js";
import {
  eventRef,
  eventSha,
  listWorkflowFiles,
  loadWorkflowFile,
  matchWorkflowTrigger,
  type TriggerEvent,
  type WorkflowFile,
} from "../workflow/index.js";
import { type CiContext, zeroSha } from "./context.js";
import { forkVerdict, pullRequestBase } from "./forks.js";
import { changedFiles, checkoutWorkflows, filesOfCommit, resolveRef } from "./mirror.js";
import type { RunNotifications } from "./notifications.js";
import type { Orchestrator } from "./orchestration.js";
import { type PollDeps, pollRepo, pollRepos } from "./polls.js";
import type { Repos } from "./repos.js";
import { runSchedules } from "./schedules.js";
import {
  WebhookIntake,
  type WebhookLimits,
  type WebhookRequest,
  type WebhookResponse,
  webhookLimits,
} from "./webhook-intake.js";

function pullRequestOf(
  event: TriggerEvent,
): { number: number; title: string; author: string; url: string } | null {
  const pr = event.payload.pull_request as Record<string, any> | undefined;
  if (!pr) return null;
  return {
    number: Number(pr.number ?? event.payload.number ?? 0),
    title: String(pr.title ?? ""),
    author: String(pr.user?.login ?? ""),
    url: String(pr.html_url ?? ""),
  };
}

export class Triggers {
  private readonly ctx: CiContext;
  private readonly repos: Repos;
  private readonly runs: Orchestrator;
  private readonly notifications: RunNotifications;
  readonly webhookLimits: WebhookLimits;
  private readonly webhookIntake: WebhookIntake;

  constructor(ctx: CiContext, repos: Repos, runs: Orchestrator, notifications: RunNotifications) {
    this.ctx = ctx;
    this.repos = repos;
    this.runs = runs;
    this.notifications = notifications;
    this.webhookLimits = webhookLimits(ctx.opts.webhooks);
    this.webhookIntake = new WebhookIntake({
      store: ctx.store,
      masterKey: ctx.opts.masterKey,
      limits: this.webhookLimits,
      trigger: (repo, event, deliveryId) => this.triggerEvent(repo, event, "webhook", deliveryId),
      log: (line) => ctx.log(line),
    });
  }

  /**
   * A webhook delivery, read through `req.readBody` only when the intake asks for it (see
   * webhook-intake.ts for the order of checks); refusals are WebhookErrors with their status.
   */
  async handleWebhook(req: WebhookRequest): Promise<WebhookResponse> {
    return this.webhookIntake.handle(req);
  }

  /** Finishes the webhook deliveries a previous process received but did not create runs for. */
  async resumePendingDeliveries(): Promise<number> {
    return this.webhookIntake.resumePending();
  }

  /**
   * Starts a run for every workflow the event triggers; invalid workflows are recorded as failed runs.
   * A pull request also triggers the base branch's `pull_request_target` workflows, as on GitHub. Runs
   * of a fork's pull request follow the repository's fork policy: none (`off`), held for approval
   * (`require-approval`), or started; a fork's own workflow never gets secrets (see `runsForkCode`).
   */
  async triggerEvent(
    repo: Repo,
    event: TriggerEvent,
    trigger: RunTrigger,
    deliveryId?: string,
    knownChangedFiles?: string[],
    onlyWorkflow?: string,
  ): Promise<Run[]> {
    const verdict = forkVerdict(repo.forkPullRequests, event);
    if ("ignored" in verdict) {
      this.ctx.log(`${repo.name}: ${event.name} from ${verdict.head ?? "a fork"}: ${verdict.ignored}`);
      return [];
    }
    const opts = { trigger, deliveryId, knownChangedFiles, onlyWorkflow, fork: verdict.fork };
    if (event.name === "pull_request_target")
      return this.startRuns(repo, await this.baseBranchEvent(repo, event), opts);
    const runs = await this.startRuns(repo, event, opts);
    if (event.name === "pull_request" && !onlyWorkflow) {
      const target: TriggerEvent = { name: "pull_request_target", payload: event.payload };
      if (event.changedFiles !== undefined) target.changedFiles = event.changedFiles;
      let base: TriggerEvent | undefined;
      try {
        base = await this.baseBranchEvent(repo, target);
      } catch (err) {
        // The pull request's own runs stand; without its base branch there is no base workflow to run.
        if (!(err instanceof UserError)) throw err;
        this.ctx.log(`${repo.name}: no pull_request_target runs: ${err.message}`);
      }
      if (base) runs.push(...(await this.startRuns(repo, base, opts)));
    }
    return runs;
  }

  /**
   * A pull_request_target event at the last commit of the pull request's base branch (GitHub's
   * GITHUB_SHA and GITHUB_REF for it): its workflows and checkout are the base branch's, never the
   * head's, so a fork cannot change what runs with the secrets.
   */
  private async baseBranchEvent(repo: Repo, event: TriggerEvent): Promise<TriggerEvent> {
    const base = pullRequestBase(event.payload);
    const branch = base.branch ?? repo.branch;
    const ref = `refs/heads/${branch}`;
    const mirror = this.ctx.mirrorOf(repo);
    await this.repos.fetch(mirror, base.sha);
    const sha = await resolveRef(mirror, ref);
    if (!sha)
      throw new UserError(`the base branch ${JSON.stringify(branch)} is not in the repository ${repo.name}`);
    return { ...event, ref, sha };
  }

  private async startRuns(
    repo: Repo,
    event: TriggerEvent,
    opts: {
      trigger: RunTrigger;
      deliveryId?: string;
      knownChangedFiles?: string[];
      onlyWorkflow?: string;
      fork: boolean;
    },
  ): Promise<Run[]> {
    const { trigger, deliveryId, knownChangedFiles, onlyWorkflow, fork } = opts;
    const mirror = this.ctx.mirrorOf(repo);
    // A base-branch event (pull_request_target) comes with the commit it runs at.
    let sha = event.name === "pull_request_target" && event.sha ? event.sha : eventSha(event);
    await this.repos.fetch(mirror, sha);
    const ref = eventRef(event) || `refs/heads/${repo.branch}`;
    if (!sha) sha = (await resolveRef(mirror, ref)) ?? "";
    if (!sha || !(await resolveRef(mirror, sha))) {
      throw new UserError(`commit ${sha || ref} is not in the repository ${repo.name}`);
    }
    event.sha = sha;
    event.ref = ref;
    if (event.changedFiles === undefined)
      event.changedFiles = knownChangedFiles ?? (await this.diffForEvent(mirror, event, sha));
    const root = await checkoutWorkflows(mirror, sha, join(this.ctx.dataDir, "workflows"));
    let files = listWorkflowFiles(root);
    if (onlyWorkflow) {
      files = files.filter((f) => f.endsWith(`/${onlyWorkflow}`) || basename(f) === onlyWorkflow);
      if (files.length === 0)
        throw new UserError(`no workflow '${onlyWorkflow}' in ${repo.name} at ${sha.slice(0, 7)}`);
    }
    const runs: Run[] = [];
    const pr = pullRequestOf(event);
    for (const file of files) {
      let wf: WorkflowFile;
      try {
        wf = await loadWorkflowFile(file, root);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        // GitHub records a failed run for a workflow file it cannot parse.
        const reason = err.problems.length ? err.problems.map(formatProblem).join("\n") : err.message;
        const relPath = file.slice(root.length + 1);
        runs.push(
          await this.ctx.store.runs.create({
            repoId: repo.id,
            workflowFile: relPath,
            workflowName: relPath,
            eventName: event.name,
            event: event.payload,
            sha,
            ref,
            trigger,
            pullRequest: pr,
            status: "completed",
            conclusion: "failure",
            reason,
            deliveryId: deliveryId ?? null,
            fork,
          }),
        );
        this.notifications.notifyFinished(runs[runs.length - 1].id);
        continue;
      }
      if (!onlyWorkflow && !matchWorkflowTrigger(wf.events, event).matched) continue;
      if (onlyWorkflow && !("workflow_dispatch" in wf.events) && event.name === "workflow_dispatch") {
        throw new UserError(`${wf.relPath} has no workflow_dispatch trigger`);
      }
      if (event.name === "workflow_dispatch") {
        // Typed and validated now: a bad input is the caller's error, before any run exists.
        dispatchInputValues([wf], (event.payload.inputs ?? {}) as Record<string, string>);
      }
      // A fork's own workflow under require-approval waits for a developer (GitHub: "action required").
      const verdict = forkVerdict(repo.forkPullRequests, event);
      const held = fork && "hold" in verdict ? verdict.hold : undefined;
      const run = await this.ctx.store.runs.create({
        repoId: repo.id,
        workflowFile: wf.relPath,
        workflowName: wf.name,
        eventName: event.name,
        event: { payload: event.payload, changedFiles: event.changedFiles ?? null },
        sha,
        ref,
        trigger,
        pullRequest: pr,
        deliveryId: deliveryId ?? null,
        fork,
        ...(held ? { status: "waiting" as const, reason: held } : {}),
      });
      this.ctx.emit({ type: "run", runId: run.id, status: run.status, conclusion: null });
      runs.push(run);
      if (!held) this.runs.launch(run.id);
    }
    return runs;
  }

  private async diffForEvent(
    mirror: string,
    event: TriggerEvent,
    sha: string,
  ): Promise<string[] | undefined> {
    const p = event.payload as Record<string, any>;
    if (event.name === "push") {
      const before = String(p.before ?? "");
      if (!before || before === zeroSha) return filesOfCommit(mirror, sha);
      return changedFiles(mirror, before, sha);
    }
    if (event.name === "pull_request" || event.name === "pull_request_target") {
      const pr = p.pull_request ?? {};
      const base =
        pr.base?.sha || (pr.base?.ref ? await resolveRef(mirror, `refs/heads/${pr.base.ref}`) : undefined);
      if (!base) return undefined;
      return changedFiles(mirror, base, String(pr.head?.sha ?? sha), true);
    }
    return undefined;
  }

  async dispatch(input: {
    repo: string;
    workflow: string;
    ref?: string;
    inputs?: Record<string, string>;
    actor: string;
  }): Promise<Run[]> {
    const repo = await this.repos.repoByName(input.repo);
    const mirror = this.ctx.mirrorOf(repo);
    await this.repos.fetch(mirror);
    let ref = input.ref ?? repo.branch;
    if (!ref.startsWith("refs/")) {
      if (await resolveRef(mirror, `refs/heads/${ref}`)) ref = `refs/heads/${ref}`;
      else if (await resolveRef(mirror, `refs/tags/${ref}`)) ref = `refs/tags/${ref}`;
      else throw new UserError(`no branch or tag '${ref}' in ${repo.name}`);
    }
    const sha = await resolveRef(mirror, ref);
    const event = workflowDispatchEvent({
      repository: this.ctx.repositoryInfo(repo),
      ref,
      inputs: input.inputs ?? {},
      actor: input.actor,
      workflow: input.workflow,
      sha,
    });
    return this.triggerEvent(repo, event, "dispatch", undefined, undefined, input.workflow);
  }

  /** Polls repositories that have a poll interval: moved heads and tags become push events (polls.ts). */
  async pollRepos(now = Date.now()): Promise<void> {
    return pollRepos(this.pollDeps(), now);
  }

  async pollRepo(repo: Repo, now = Date.now()): Promise<Run[]> {
    return pollRepo(this.pollDeps(), repo, now);
  }

  private pollDeps(): PollDeps {
    return {
      ctx: this.ctx,
      repos: this.repos,
      triggerEvent: (repo, event, trigger) => this.triggerEvent(repo, event, trigger),
    };
  }

  /** Fires the default branch's `on.schedule` crons that came due since the last check (schedules.ts). */
  async runSchedules(lastChecked: Date, now: Date): Promise<Run[]> {
    return runSchedules(
      {
        ctx: this.ctx,
        triggerWorkflow: (repo, event, workflow) =>
          this.triggerEvent(repo, event, "schedule", undefined, undefined, workflow),
      },
      lastChecked,
      now,
    );
  }
}
