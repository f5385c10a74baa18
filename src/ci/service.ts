// The CI service behind `slipway serve`: repositories and their mirrors, triggers turned into runs in
// the store, each run's job graph driven by the same engine as `slipway run` with legs queued for
// runners, re-runs that reuse recorded results, cancellation, and recovery after a crash.
import { randomBytes } from "node:crypto";
import { EventEmitter, setMaxListeners } from "node:events";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import { coerceToString, type Json } from "../expressions/index.js";
import { hostChildEnv } from "../lib/child-env.js";
import { describeError, formatProblem, OperationError, UserError } from "../lib/errors.js";
import { ProcessLedger } from "../lib/process-ledger.js";
import { type Notifier, type NotifyConfig, parseNotifySection } from "../notify/index.js";
import {
  ConcurrencyGroups,
  dispatchInputValues,
  driveRun,
  type JobInvocation,
  type JobResult,
  type LegSpec,
  legSpecOf,
  Masker,
  type Reporter,
  type RunContext,
  killGraceMs,
  Semaphore,
  type Status,
} from "../runner/index.js";
import {
  decryptSecret,
  type EncryptedSecret,
  encryptSecret,
  type MasterKey,
  revealSecrets,
  type SecretStore,
  sealWebhookSecret,
} from "../secrets/index.js";
import {
  type Job,
  jobStatuses,
  parseForkPolicy,
  type Repo,
  type Run,
  type RunTrigger,
  type Store,
} from "../store/index.js";
import { dueSchedules, type ScheduleEntry, workflowDispatchEvent } from "../triggers/index.js";
import {
  eventRef,
  eventSha,
  evaluateToken,
  listWorkflowFiles,
  loadWorkflowFile,
  matchWorkflowTrigger,
  type TriggerEvent,
  type WorkflowFile,
} from "../workflow/index.js";
import {
  changedFiles,
  checkoutWorkflows,
  commitInfo,
  createMirror,
  fetchMirror,
  filesOfCommit,
  readFileAt,
  refHeads,
  resolveRef,
  symbolicHead,
} from "./mirror.js";
import { forkVerdict, pullRequestBase, runsForkCode } from "./forks.js";
import { validateRepoName } from "./repo-name.js";
import { payloadOf, previousConclusion, runEventOf } from "./run-event.js";
import {
  WebhookIntake,
  type WebhookIntakeOptions,
  type WebhookLimits,
  type WebhookRequest,
  type WebhookResponse,
  webhookLimits,
} from "./webhook-intake.js";

const zeroSha = "0000000000000000000000000000000000000000";

export type CiOptions = {
  store: Store;
  dataDir: string;
  /** Legs queued or running at once, over all repositories (default: CPU count). */
  maxJobs?: number;
  /** Legs queued or running at once per repository (default: no limit beyond maxJobs). */
  maxJobsPerRepo?: number;
  /** The server's own runner: on by default; labels undefined = it takes any job. */
  localRunner?: { enabled: boolean; labels?: string[] };
  /** Lease of a claimed job; runners heartbeat at a third of it. */
  leaseMs?: number;
  /** A job's stored log stops here, with one truncation marker (default 64 MiB). */
  maxJobLogBytes?: number;
  /** The encrypted secret store: runs get the secrets of their repository (global < repository). */
  secrets?: SecretStore;
  /** Seals the secrets inside queued job specs, so the database never holds them in clear. */
  masterKey?: MasterKey;
  /** Notifications of finished runs; without it, none are sent. */
  notify?: RunNotifyOptions;
  /** Webhook intake limits: bytes in flight, the legacy URL's body cap, the replay window. */
  webhooks?: WebhookIntakeOptions;
  log?: (line: string) => void;
};

export type RunNotifyOptions = {
  /** Records deliveries and delivers them in the background (started and stopped by its owner). */
  notifier: Notifier;
  /** The server's own rules and channels (`slipway serve --notify-config`). */
  config?: NotifyConfig;
  /** The link to a run in notifications. */
  runUrl?: (runId: number) => string | undefined;
};

/** A repository's `notify:` section at a commit; `warning` when it could not be used. */
type RepoNotify = { config?: NotifyConfig; warning?: string };

/** Where a repository's notification rules live, in the order looked for. */
const configFiles = ["slipway.yaml", "slipway.yml"];
/** How long a run's end waits to learn whether its slipway.yaml has a bad `notify:` (to say so on it). */
const notifyConfigWaitMs = 5000;

export type CiEvent =
  | { type: "run"; runId: number; status: string; conclusion: string | null }
  | { type: "job"; runId: number; jobRowId: number; jobKey: string; status: string }
  | {
      type: "step";
      runId: number;
      jobRowId: number;
      idx: number;
      name: string;
      status: string;
      conclusion?: string;
    }
  | { type: "log"; runId: number; jobRowId: number; seq: number; content: string };

export type RerunRequest = { job?: string; matrix?: Record<string, string>; failed?: boolean };

type ActiveRun = { controller: AbortController; done: Promise<void> };

function jobStatusToResult(status: string): Status {
  return status === "success" || status === "failure" || status === "cancelled" || status === "skipped"
    ? status
    : "failure";
}

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

function labelsOf(value: Json): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.map((v) => coerceToString(v));
  if (value && typeof value === "object") {
    const labels = (value as Record<string, Json>).labels;
    return labels === undefined ? [] : labelsOf(labels);
  }
  return [];
}

/** How long a cancel waits for the run's orchestration to end before answering. */
const cancelWaitMs = 10_000;

/** Whether `p` settled within `ms` (it goes on either way). */
async function boundedWait(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

export class CiService {
  readonly store: Store;
  readonly dataDir: string;
  readonly events = new EventEmitter();
  readonly localRunnerId = `local-${randomBytes(4).toString("hex")}`;
  /** Step process groups and leg directories of the server's own runner, found again after a crash. */
  readonly processLedger: ProcessLedger;
  private readonly opts: CiOptions;
  private readonly active = new Map<number, ActiveRun>();
  private readonly groups = new ConcurrencyGroups();
  private readonly globalSlots: Semaphore;
  private readonly repoSlots = new Map<number, Semaphore>();
  private readonly finishedWaiters = new Map<number, Set<() => void>>();
  /** Notifications being built (not delivered: that is the Notifier's, in the background). */
  private readonly notifying = new Set<Promise<void>>();
  /** Per repository and commit (commits do not change); a few recent ones. */
  private readonly repoNotify = new Map<string, Promise<RepoNotify>>();
  private stopping = false;
  readonly webhookLimits: WebhookLimits;
  private readonly webhookIntake: WebhookIntake;

  constructor(opts: CiOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.dataDir = opts.dataDir;
    this.processLedger = new ProcessLedger(join(opts.dataDir, "processes"));
    this.events.setMaxListeners(0);
    this.globalSlots = new Semaphore(opts.maxJobs ?? cpus().length);
    this.webhookLimits = webhookLimits(opts.webhooks);
    this.webhookIntake = new WebhookIntake({
      store: this.store,
      masterKey: opts.masterKey,
      limits: this.webhookLimits,
      trigger: (repo, event, deliveryId) => this.triggerEvent(repo, event, "webhook", deliveryId),
      log: (line) => this.log(line),
    });
  }

  get leaseMs(): number {
    return this.opts.leaseMs ?? 30_000;
  }

  get maxJobLogBytes(): number | undefined {
    return this.opts.maxJobLogBytes;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  emit(event: CiEvent): void {
    this.events.emit("event", event);
  }

  // --- repositories ---

  mirrorDir(repo: { id: number }): string {
    return join(this.dataDir, "mirrors", `${repo.id}.git`);
  }

  async addRepo(input: {
    url: string;
    name?: string;
    branch?: string;
    pollIntervalS?: number | null;
  }): Promise<{
    repo: Repo;
    webhookSecret: string;
  }> {
    const name = input.name ?? basename(input.url.replace(/\.git$/, "").replace(/\/+$/, ""));
    validateRepoName(name);
    if (await this.store.repos.getByName(name)) throw new UserError(`repository '${name}' already exists`);
    const staging = join(this.dataDir, "mirrors", `new-${randomBytes(6).toString("hex")}.git`);
    await createMirror(input.url, staging);
    const branch =
      input.branch ?? ((await resolveRef(staging, "HEAD")) && (await symbolicHead(staging))) ?? "main";
    const webhookSecret = randomBytes(24).toString("base64url");
    const repo = await this.store.repos.create({
      name,
      url: input.url,
      branch,
      // Sealed under the master key: anyone holding it could forge signed webhooks.
      webhookSecret: this.opts.masterKey
        ? sealWebhookSecret(this.opts.masterKey, name, webhookSecret)
        : webhookSecret,
      pollIntervalS: input.pollIntervalS ?? null,
    });
    const dir = this.mirrorDir(repo);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    await this.store.repos.update(repo.id, { mirrorPath: dir });
    return { repo: { ...repo, mirrorPath: dir }, webhookSecret };
  }

  async repoByName(name: string): Promise<Repo> {
    const repo = await this.store.repos.getByName(name);
    if (!repo) throw new UserError(`no repository named '${name}'`);
    return repo;
  }

  /** Changes a repository's settings (admin); audited. Bad values are UserErrors and change nothing. */
  async updateRepo(name: string, patch: { forkPullRequests?: unknown }, actor: string): Promise<Repo> {
    const repo = await this.repoByName(name);
    const forkPullRequests =
      patch.forkPullRequests === undefined ? undefined : parseForkPolicy(patch.forkPullRequests);
    if (forkPullRequests === undefined) return repo;
    await this.store.transaction(async (tx) => {
      await tx.repos.update(repo.id, { forkPullRequests });
      await tx.audit.append({
        actor,
        action: "repo.update",
        subject: repo.name,
        repo: repo.name,
        detail: { forkPullRequests: { from: repo.forkPullRequests, to: forkPullRequests } },
      });
    });
    return (await this.store.repos.get(repo.id))!;
  }

  private repositoryInfo(repo: Repo) {
    const fullName = repo.name.includes("/") ? repo.name : `local/${repo.name}`;
    return { fullName, defaultBranch: repo.branch, cloneUrl: repo.url };
  }

  // --- triggers ---

  /** A webhook request: parse, find the repository, verify, dedupe, start runs. Throws WebhookError. */
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
      this.log(`${repo.name}: ${event.name} from ${verdict.head ?? "a fork"}: ${verdict.ignored}`);
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
        this.log(`${repo.name}: no pull_request_target runs: ${err.message}`);
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
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    await this.fetch(mirror, base.sha);
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
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    // A base-branch event (pull_request_target) comes with the commit it runs at.
    let sha = event.name === "pull_request_target" && event.sha ? event.sha : eventSha(event);
    await this.fetch(mirror, sha);
    const ref = eventRef(event) || `refs/heads/${repo.branch}`;
    if (!sha) sha = (await resolveRef(mirror, ref)) ?? "";
    if (!sha || !(await resolveRef(mirror, sha))) {
      throw new UserError(`commit ${sha || ref} is not in the repository ${repo.name}`);
    }
    event.sha = sha;
    event.ref = ref;
    if (event.changedFiles === undefined)
      event.changedFiles = knownChangedFiles ?? (await this.diffForEvent(mirror, event, sha));
    const root = await checkoutWorkflows(mirror, sha, join(this.dataDir, "workflows"));
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
          await this.store.runs.create({
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
        this.notifyFinished(runs[runs.length - 1].id);
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
      const run = await this.store.runs.create({
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
      this.emit({ type: "run", runId: run.id, status: run.status, conclusion: null });
      runs.push(run);
      if (!held) this.launch(run.id);
    }
    return runs;
  }

  private readonly fetching = new Map<string, Promise<void>>();

  /**
   * Fetches a mirror, one fetch at a time per mirror (concurrent `git fetch`es into one repository fail
   * to lock refs). A commit that is already there needs no fetch.
   */
  private async fetch(mirror: string, sha?: string): Promise<void> {
    // The check runs inside the chain: while a fetch unpacks loose objects, a commit can be visible
    // before its tree is.
    const previous = this.fetching.get(mirror) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        if (sha && /^[0-9a-f]{40}$/.test(sha) && (await resolveRef(mirror, sha))) return;
        await fetchMirror(mirror);
      });
    this.fetching.set(mirror, next);
    try {
      await next;
    } finally {
      if (this.fetching.get(mirror) === next) this.fetching.delete(mirror);
    }
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
    const repo = await this.repoByName(input.repo);
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    await this.fetch(mirror);
    let ref = input.ref ?? repo.branch;
    if (!ref.startsWith("refs/")) {
      if (await resolveRef(mirror, `refs/heads/${ref}`)) ref = `refs/heads/${ref}`;
      else if (await resolveRef(mirror, `refs/tags/${ref}`)) ref = `refs/tags/${ref}`;
      else throw new UserError(`no branch or tag '${ref}' in ${repo.name}`);
    }
    const sha = await resolveRef(mirror, ref);
    const event = workflowDispatchEvent({
      repository: this.repositoryInfo(repo),
      ref,
      inputs: input.inputs ?? {},
      actor: input.actor,
      workflow: input.workflow,
      sha,
    });
    return this.triggerEvent(repo, event, "dispatch", undefined, undefined, input.workflow);
  }

  // --- runs ---

  private launch(runId: number): void {
    if (this.active.has(runId) || this.stopping) return;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const done = this.orchestrate(runId, controller)
      .catch((err) => this.log(`run ${runId}: ${(err as Error).stack ?? err}`))
      .finally(() => this.active.delete(runId));
    this.active.set(runId, { controller, done });
  }

  private async orchestrate(runId: number, controller: AbortController) {
    const run = await this.store.runs.get(runId);
    // A run waiting for approval starts only through `approve`.
    if (!run || run.status === "waiting") return;
    const repo = await this.store.repos.get(run.repoId);
    if (!repo) return;
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    // Read while the run runs, so that its end does not wait for it.
    if (this.opts.notify) void this.repoNotifyForRun(repo, run);
    const root = await checkoutWorkflows(mirror, run.sha, join(this.dataDir, "workflows"));
    let workflow: WorkflowFile;
    try {
      workflow = await loadWorkflowFile(join(root, run.workflowFile), root);
    } catch (err) {
      await this.finishRun(
        run,
        "failure",
        err instanceof UserError ? err.problems.map(formatProblem).join("\n") || err.message : String(err),
      );
      return;
    }
    const stored = run.event as { payload?: Record<string, unknown>; changedFiles?: string[] | null };
    const payload = stored?.payload ?? (run.event as Record<string, unknown>) ?? {};
    const event: TriggerEvent = {
      name: run.eventName,
      payload,
      ref: run.ref,
      sha: run.sha,
      changedFiles: stored?.changedFiles ?? undefined,
    };
    const info = await commitInfo(mirror, run.sha).catch(() => undefined);
    const payloadRepo = payload.repository as Record<string, any> | undefined;
    const masker = new Masker();
    // A fork's code gets no secret at all, GITHUB_TOKEN included (slipway mints none; one stored as a
    // secret would carry its full permissions). Re-runs read `fork` from the run again.
    const secrets: Record<string, string> =
      this.opts.secrets && !runsForkCode(run)
        ? revealSecrets(await this.opts.secrets.resolve({ repo: repo.name }))
        : {};
    for (const v of Object.values(secrets)) masker.add(v);
    const pending = new Set<Promise<void>>();
    const recorder = this.placeholderRecorder(run, pending);
    const ctx: RunContext = {
      repoDir: mirror,
      workflowRoot: root,
      dataDir: this.dataDir,
      workDir: join(this.dataDir, "work", `${run.id}-${run.attempt}`),
      runId: String(run.id),
      runNumber: run.number,
      runAttempt: run.attempt,
      event,
      sha: run.sha,
      ref: run.ref,
      repository: String(payloadRepo?.full_name ?? this.repositoryInfo(repo).fullName),
      defaultBranch: repo.branch,
      actor: String((payload.sender as Record<string, any> | undefined)?.login ?? info?.author ?? "slipway"),
      secrets,
      vars: {},
      masker,
      reporter: recorder,
      signal: controller.signal,
      slots: new Semaphore(1_000_000),
      actionsDir: join(this.dataDir, "actions"),
      verbose: false,
      platforms: {},
      cleanJobDirs: false,
      hostEnv: hostChildEnv(),
      untrusted: runsForkCode(run),
    };
    await this.store.runs.update(run.id, { status: "running", startedAt: run.startedAt ?? Date.now() });
    this.emit({ type: "run", runId: run.id, status: "running", conclusion: null });
    const inputs =
      event.name === "workflow_dispatch"
        ? dispatchInputValues([workflow], (payload.inputs ?? {}) as Record<string, string>)
        : {};
    const result = await driveRun(
      ctx,
      [{ workflow, matched: true, reason: "", jobs: workflow.jobs.map((j) => j.id) }],
      {
        inputs,
        groups: this.groups,
        executeLeg: (inv) => this.executeLeg(run, repo, inv),
      },
    );
    await Promise.all(pending);
    const conclusion = controller.signal.aborted && result.status !== "failure" ? "cancelled" : result.status;
    await this.finishRun(run, conclusion);
  }

  private async finishRun(run: Run, conclusion: Status, reason?: string): Promise<void> {
    // A `notify:` section that cannot be used is said on the run (its notifications are not sent), in
    // the same write that completes it; the run's own result never depends on it.
    const warning = await this.notifyWarning(run);
    const why = [reason, warning ? `warning: ${warning}` : undefined].filter(Boolean).join("\n");
    await this.store.runs.update(run.id, {
      status: "completed",
      conclusion,
      finishedAt: Date.now(),
      ...(why ? { reason: why } : {}),
    });
    this.emit({ type: "run", runId: run.id, status: "completed", conclusion });
    this.notifyFinished(run.id);
  }

  // --- notifications ---

  /**
   * The `notify:` section that applies to a run. A fork's code never configures the server: for its
   * runs the section comes from the pull request's base commit (written by people who can push to the
   * repository), and when that commit is unknown the repository's own notifications are not sent.
   */
  private async repoNotifyForRun(repo: Repo, run: Run): Promise<RepoNotify> {
    if (!runsForkCode(run)) return this.repoNotifyConfig(repo, run.sha);
    const base = pullRequestBase(payloadOf(run));
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
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
        const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
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
    const repo = await this.repoByName(name);
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    await this.fetch(mirror).catch((err) => this.log(`fetch ${repo.name}: ${describeError(err)}`));
    const sha = await resolveRef(mirror, `refs/heads/${repo.branch}`);
    if (!sha) throw new UserError(`${repo.name} has no branch ${repo.branch}`);
    const r = await this.repoNotifyConfig(repo, sha);
    if (r.warning) throw new UserError(r.warning);
    return r.config;
  }

  private async notifyWarning(run: Run): Promise<string | undefined> {
    if (!this.opts.notify) return undefined;
    try {
      const repo = await this.store.repos.get(run.repoId);
      if (!repo) return undefined;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<RepoNotify>((resolve) => {
        timer = setTimeout(() => resolve({}), notifyConfigWaitMs);
      });
      const r = await Promise.race([this.repoNotifyForRun(repo, run), late]);
      clearTimeout(timer);
      if (r.warning) this.log(`run ${run.id}: ${r.warning}`);
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
  private notifyFinished(runId: number): void {
    const notify = this.opts.notify;
    if (!notify) return;
    const p = (async () => {
      const run = await this.store.runs.get(runId);
      if (run?.status !== "completed") return;
      const repo = await this.store.repos.get(run.repoId);
      if (!repo) return;
      const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
      const [jobs, commit, previous, repoNotify] = await Promise.all([
        this.store.jobs.list(run.id, run.attempt),
        commitInfo(mirror, run.sha).catch(() => undefined),
        previousConclusion(this.store, run),
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
      .catch((err) => this.log(`run ${runId}: cannot notify: ${describeError(err)}`))
      .finally(() => this.notifying.delete(p));
    this.notifying.add(p);
  }

  /** Records the jobs the graph decided without running them (skipped, cancelled before start, failed to plan). */
  private placeholderRecorder(run: Run, pending: Set<Promise<void>>): Reporter {
    return {
      jobStarted() {},
      stepStarted() {},
      log() {},
      annotation() {},
      stepFinished() {},
      jobFinished: (ref, result) => {
        const p = (async () => {
          const fresh = (await this.store.runs.get(run.id)) ?? run;
          const existing = (await this.store.jobs.list(run.id, fresh.attempt)).find(
            (j) => j.jobKey === ref.key,
          );
          if (existing) return;
          const [row] = await this.store.jobs.insertMany(run.id, fresh.attempt, [
            {
              jobKey: ref.key,
              jobId: ref.id,
              name: result.name,
              matrix: result.matrix,
              status: result.status,
              reason: result.message ?? null,
            },
          ]);
          this.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: row.jobKey, status: row.status });
        })()
          .catch((err) => this.log(`run ${run.id}: cannot record job ${ref.key}: ${(err as Error).message}`))
          .finally(() => pending.delete(p));
        pending.add(p);
      },
    };
  }

  private async executeLeg(run: Run, repo: Repo, inv: JobInvocation): Promise<JobResult> {
    const attempt = inv.run.runAttempt;
    const key = inv.ref.key;
    // A leg with a row in this attempt already ran, is running, or is reused from an earlier attempt.
    const existing = (await this.store.jobs.list(run.id, attempt)).find((j) => j.jobKey === key);
    if (existing && ["success", "failure", "cancelled", "skipped"].includes(existing.status))
      return this.resultOf(existing);
    let row = existing;
    let releaseSlots: (() => void) | undefined;
    if (!row) {
      const labels = inv.job.runsOn
        ? labelsOf(
            evaluateToken(inv.job.runsOn, {
              contexts: {
                github: inv.github,
                needs: inv.needs,
                strategy: inv.strategy,
                matrix: inv.matrix ?? {},
                inputs: inv.inputs,
                vars: inv.run.vars,
              },
            }),
          )
        : [];
      const spec = this.sealSecrets(
        legSpecOf(inv, repo.url, labels, repo.mirrorPath ?? this.mirrorDir(repo)),
        run.id,
        key,
      );
      [row] = await this.store.jobs.insertMany(run.id, attempt, [
        {
          jobKey: key,
          jobId: inv.ref.id,
          name: inv.ref.name,
          matrix: inv.matrix,
          labels,
          status: "waiting",
          spec,
          untrusted: spec.run.untrusted === true,
        },
      ]);
      this.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: key, status: "waiting" });
      // The concurrency limits hold legs back before they are offered to runners.
      try {
        const g = await this.globalSlots.acquire(inv.signal);
        let r: () => void = () => {};
        try {
          r = await this.repoSemaphore(repo.id).acquire(inv.signal);
        } catch (err) {
          g();
          throw err;
        }
        releaseSlots = () => {
          r();
          g();
        };
      } catch {
        await this.store.jobs.cancel(row.id, "cancelled before it started");
        return this.resultOf((await this.store.jobs.get(row.id))!);
      }
      await this.store.jobs.update(row.id, { status: "queued" }, { ifStatus: ["waiting"] });
      this.emit({ type: "job", runId: run.id, jobRowId: row.id, jobKey: key, status: "queued" });
      this.events.emit("queued");
    }
    const rowId = row.id;
    const onAbort = () => {
      void this.store.jobs.cancel(rowId, "the run was cancelled").then((ok) => {
        if (!ok) return;
        this.emit({ type: "job", runId: run.id, jobRowId: rowId, jobKey: key, status: "cancelled" });
        this.jobFinished(rowId);
      });
    };
    if (inv.signal.aborted) onAbort();
    else inv.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const final = await this.waitForJob(rowId);
      return this.resultOf(final);
    } finally {
      inv.signal.removeEventListener("abort", onAbort);
      releaseSlots?.();
    }
  }

  /** Secrets travel in the spec sealed with the master key; only a claim opens them. */
  private sealSecrets(
    spec: LegSpec,
    runId: number,
    key: string,
  ): LegSpec & { sealedSecrets?: EncryptedSecret } {
    if (Object.keys(spec.secrets).length === 0) return spec;
    if (!this.opts.masterKey)
      throw new OperationError("the job has secrets but the server has no master key to seal them");
    const sealedSecrets = encryptSecret(this.opts.masterKey, Buffer.from(JSON.stringify(spec.secrets)), {
      name: `job-spec:${key}`,
      repo: String(runId),
      env: null,
    });
    return { ...spec, secrets: {}, sealedSecrets };
  }

  /** The spec a runner receives: with its secrets opened. */
  openSpec(job: Job): LegSpec {
    const spec = job.spec as LegSpec & { sealedSecrets?: EncryptedSecret };
    if (!spec.sealedSecrets) return spec;
    if (!this.opts.masterKey)
      throw new OperationError("a job's secrets are sealed but the server has no master key");
    const plain = decryptSecret(this.opts.masterKey, spec.sealedSecrets, {
      name: `job-spec:${job.jobKey}`,
      repo: String(job.runId),
      env: null,
    });
    const { sealedSecrets: _sealed, ...rest } = spec;
    return { ...rest, secrets: JSON.parse(plain.toString("utf8")) as Record<string, string> };
  }

  private repoSemaphore(repoId: number): Semaphore {
    let s = this.repoSlots.get(repoId);
    if (!s) {
      s = new Semaphore(this.opts.maxJobsPerRepo ?? 1_000_000);
      this.repoSlots.set(repoId, s);
    }
    return s;
  }

  /** Called when a job row reached a final status (by a runner, a cancel or the lease reaper). */
  jobFinished(rowId: number): void {
    const waiters = this.finishedWaiters.get(rowId);
    if (waiters) for (const w of waiters) w();
  }

  private async waitForJob(rowId: number): Promise<Job> {
    for (;;) {
      const row = await this.store.jobs.get(rowId);
      if (!row) throw new OperationError(`job row ${rowId} disappeared`);
      if (["success", "failure", "cancelled", "skipped"].includes(row.status)) return row;
      // A status outside the state machine (stored before reports were checked) would be waited on
      // forever, and a cancel or shutdown with it: it is failed, with the reason.
      if (!(jobStatuses as readonly string[]).includes(row.status)) {
        await this.store.jobs.failUnknownStatus(rowId);
        continue;
      }
      await new Promise<void>((resolve) => {
        let set = this.finishedWaiters.get(rowId);
        if (!set) {
          set = new Set();
          this.finishedWaiters.set(rowId, set);
        }
        const wake = () => {
          clearTimeout(timer);
          set!.delete(wake);
          if (set!.size === 0) this.finishedWaiters.delete(rowId);
          resolve();
        };
        // The database is the truth (another server process or a missed wake-up); look again now and then.
        const timer = setTimeout(wake, 2000);
        set.add(wake);
      });
    }
  }

  private async resultOf(row: Job): Promise<JobResult> {
    const steps = await this.store.steps.list(row.id);
    return {
      id: row.jobId,
      name: row.name,
      workflow: "",
      matrix: row.matrix as Record<string, Json> | null,
      status: jobStatusToResult(row.status),
      outputs: row.outputs,
      durationMs: row.finishedAt && row.startedAt ? row.finishedAt - row.startedAt : 0,
      steps: steps.map((s) => ({
        id: s.stepId,
        name: s.name,
        outcome: (s.outcome ?? "skipped") as JobResult["status"],
        conclusion: (s.conclusion ?? "skipped") as JobResult["status"],
        durationMs: s.finishedAt && s.startedAt ? s.finishedAt - s.startedAt : 0,
        outputs: {},
      })),
      annotations: [],
      summary: "",
      ...(row.reason ? { message: row.reason } : {}),
    };
  }

  async cancel(runId: number): Promise<Run> {
    const run = await this.store.runs.get(runId);
    if (!run) throw new UserError(`no run ${runId}`);
    if (run.status === "completed") return run;
    const active = this.active.get(runId);
    const cancelled = await this.store.jobs.cancelRun(runId, {
      reason: "cancelled by a user",
      attempt: run.attempt,
    });
    for (const j of cancelled) {
      // The server's own runner stops the leg at once; remote runners learn it at their next heartbeat.
      this.emit({ type: "job", runId, jobRowId: j.id, jobKey: j.jobKey, status: "cancelled" });
      this.jobFinished(j.id);
    }
    if (active) {
      active.controller.abort(new Error("cancelled by a user"));
      // Bounded: an always() job waiting for a runner that never comes must not hold the request (the
      // run still ends when its orchestration does).
      await boundedWait(active.done, cancelWaitMs);
    } else {
      await this.finishRun(run, "cancelled", "cancelled by a user");
    }
    return (await this.store.runs.get(runId))!;
  }

  /**
   * Starts a run held for approval (a fork's pull request under `require-approval`). Approval lets the
   * fork's workflow run, never with secrets (as on GitHub). The pull request's author cannot approve
   * it under their own name; the approval is recorded in the audit log.
   */
  async approve(runId: number, actor: string): Promise<Run> {
    const { run, repo } = await this.waitingRun(runId, actor, "approve");
    const started = await this.store.transaction(async (tx) => {
      if (!(await tx.runs.update(run.id, { status: "queued", reason: null }, { ifStatus: ["waiting"] })))
        return false;
      await tx.audit.append({
        actor,
        action: "run.approve",
        subject: `run ${run.id}`,
        repo: repo.name,
        detail: { pullRequest: run.pullRequest?.number ?? null, author: run.pullRequest?.author ?? null },
      });
      return true;
    });
    if (!started) throw new UserError(`run ${runId} is no longer waiting for approval`);
    this.log(`run ${run.id}: approved by ${actor}; it runs without secrets`);
    this.emit({ type: "run", runId: run.id, status: "queued", conclusion: null });
    this.launch(run.id);
    return (await this.store.runs.get(run.id))!;
  }

  /** Ends a run held for approval without running it: `cancelled`, with who rejected it and why. */
  async reject(runId: number, actor: string, why?: string): Promise<Run> {
    const { run, repo } = await this.waitingRun(runId, actor, "reject");
    const reason = `rejected by ${actor}${why ? `: ${why}` : ""}`;
    const ended = await this.store.transaction(async (tx) => {
      const ok = await tx.runs.update(
        run.id,
        { status: "completed", conclusion: "cancelled", finishedAt: Date.now(), reason },
        { ifStatus: ["waiting"] },
      );
      if (!ok) return false;
      await tx.audit.append({
        actor,
        action: "run.reject",
        subject: `run ${run.id}`,
        repo: repo.name,
        detail: { pullRequest: run.pullRequest?.number ?? null, reason: why ?? null },
      });
      return true;
    });
    if (!ended) throw new UserError(`run ${runId} is no longer waiting for approval`);
    this.emit({ type: "run", runId: run.id, status: "completed", conclusion: "cancelled" });
    this.notifyFinished(run.id);
    return (await this.store.runs.get(run.id))!;
  }

  private async waitingRun(runId: number, actor: string, verb: string): Promise<{ run: Run; repo: Repo }> {
    const run = await this.store.runs.get(runId);
    if (!run) throw new UserError(`no run ${runId}`);
    if (run.status !== "waiting")
      throw new UserError(
        `run ${runId} is not waiting for approval (it is ${run.status === "completed" ? (run.conclusion ?? "completed") : run.status})`,
      );
    const author = run.pullRequest?.author;
    // An author may withdraw their own run, never let it in.
    if (verb === "approve" && author && author.toLowerCase() === actor.toLowerCase())
      throw new UserError(
        `${actor} opened pull request #${run.pullRequest?.number} and cannot ${verb} its run`,
      );
    const repo = await this.store.repos.get(run.repoId);
    if (!repo) throw new UserError(`no repository for run ${runId}`);
    return { run, repo };
  }

  async rerun(runId: number, req: RerunRequest): Promise<Run> {
    const run = await this.store.runs.get(runId);
    if (!run) throw new UserError(`no run ${runId}`);
    if (run.status !== "completed")
      throw new UserError(`run ${runId} is still ${run.status}; cancel it or wait for it to finish`);
    if (!req.job && !req.failed) throw new UserError("say which jobs to re-run: --job ID or --failed");
    const previous = await this.store.jobs.list(run.id, run.attempt);
    const repo = (await this.store.repos.get(run.repoId))!;
    const root = await checkoutWorkflows(
      repo.mirrorPath ?? this.mirrorDir(repo),
      run.sha,
      join(this.dataDir, "workflows"),
    );
    const workflow = await loadWorkflowFile(join(root, run.workflowFile), root);
    const top = (id: string) => id.split("/")[0];
    let targets: Set<string>;
    if (req.job) {
      if (!workflow.jobs.some((j) => j.id === req.job)) {
        throw new UserError(
          `no job '${req.job}' in ${run.workflowFile} (jobs: ${workflow.jobs.map((j) => j.id).join(", ")})`,
        );
      }
      targets = new Set([req.job]);
    } else {
      targets = new Set(
        previous.filter((j) => j.status === "failure" || j.status === "cancelled").map((j) => top(j.jobId)),
      );
      if (targets.size === 0) throw new UserError(`run ${runId} has no failed jobs`);
    }
    // Re-running a job re-runs everything that depends on it.
    const rerunSet = new Set(targets);
    let grew = true;
    while (grew) {
      grew = false;
      for (const j of workflow.jobs) {
        if (!rerunSet.has(j.id) && j.needs.some((n) => rerunSet.has(n))) {
          rerunSet.add(j.id);
          grew = true;
        }
      }
    }
    const matrixFilter = req.matrix;
    const reruns = (job: Job) => {
      const id = top(job.jobId);
      if (!rerunSet.has(id)) return false;
      if (matrixFilter && req.job && id === req.job) {
        const m = (job.matrix ?? {}) as Record<string, Json>;
        return Object.entries(matrixFilter).every(([k, v]) => coerceToString(m[k] ?? null) === v);
      }
      return true;
    };
    if (matrixFilter && req.job && !previous.some((j) => top(j.jobId) === req.job && reruns(j))) {
      throw new UserError(`no leg of job '${req.job}' matches ${JSON.stringify(matrixFilter)}`);
    }
    const attempt = await this.store.runs.startAttempt(run.id);
    if (attempt === null) throw new OperationError(`cannot start a new attempt of run ${runId}`);
    // What is not re-run is carried over now, so the new attempt (and a restart in the middle of it)
    // finds those results recorded and never runs them again.
    const reused = previous.filter((j) => !reruns(j));
    await this.store.jobs.insertMany(
      run.id,
      attempt,
      reused.map((j) => ({
        jobKey: j.jobKey,
        jobId: j.jobId,
        name: j.name,
        matrix: j.matrix,
        labels: j.labels,
        status: j.status,
        outputs: j.outputs,
        reason: j.reason,
        reusedFrom: j.reusedFrom ?? j.id,
      })),
    );
    await this.store.runs.update(run.id, {
      status: "queued",
      conclusion: null,
      finishedAt: null,
      reason: null,
    });
    this.emit({ type: "run", runId: run.id, status: "queued", conclusion: null });
    this.launch(run.id);
    return (await this.store.runs.get(run.id))!;
  }

  /** Waits until a run is no longer being driven by this process (tests, graceful shutdown). */
  async settled(runId: number): Promise<void> {
    await this.active.get(runId)?.done;
  }

  // --- lifecycle ---

  /** Crash recovery and the background loops; call once at start. */
  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    // First stop what an earlier server process left running (kill -9 spares a step's process group),
    // so that no step of a job declared failed below — or of the always() jobs after it — still runs.
    const reaped = await this.processLedger.reap(killGraceMs);
    if (reaped.groups.length > 0)
      this.log(`stopped ${reaped.groups.length} step process group(s) left by an earlier server process`);
    if (reaped.dirs.length > 0) this.log(`removed ${reaped.dirs.length} leftover leg directories`);
    const failed = await this.store.jobs.recoverAfterCrash({ localRunnerIds: await this.localRunnerIds() });
    // The step that was cut off ends too: no step of a finished job stays "running".
    await this.store.steps.finishUnfinished(
      failed.map((j) => j.id),
      "failure",
    );
    for (const j of failed)
      this.log(`job ${j.jobKey} of run ${j.runId} failed: the server restarted while it ran`);
    const unfinished = [
      ...(await this.store.runs.list({ status: "queued" })),
      ...(await this.store.runs.list({ status: "running" })),
    ];
    // Their graphs are driven again: recorded legs are not run twice, legs still running on remote
    // runners are waited for, and the rest go on.
    for (const run of unfinished) this.launch(run.id);
  }

  private async localRunnerIds(): Promise<string[]> {
    // Every embedded runner of an earlier server process had an id starting with "local-".
    const rows = await this.store.db
      .selectFrom("jobs")
      .select("runner_id")
      .distinct()
      .where("status", "=", "running")
      .where("runner_id", "like", "local-%")
      .execute();
    return rows.map((r) => r.runner_id!).filter(Boolean);
  }

  /** Fails jobs whose runner stopped heartbeating; runs on a timer in the server. */
  async reapLeases(): Promise<void> {
    const expired = await this.store.jobs.expireLeases();
    // Their runners are gone: the steps they were running will never report an end.
    await this.store.steps.finishUnfinished(
      expired.map((j) => j.id),
      "failure",
    );
    for (const j of expired) {
      this.emit({ type: "job", runId: j.runId, jobRowId: j.id, jobKey: j.jobKey, status: j.status });
      this.jobFinished(j.id);
    }
  }

  /** Polls repositories that have a poll interval: new branch heads and tags become push events. */
  async pollRepos(now = Date.now()): Promise<void> {
    for (const repo of await this.store.repos.list()) {
      if (!repo.pollIntervalS || (repo.lastPolledAt && now - repo.lastPolledAt < repo.pollIntervalS * 1000))
        continue;
      try {
        await this.pollRepo(repo, now);
      } catch (err) {
        this.log(`poll ${repo.name}: ${(err as Error).message}`);
      }
    }
  }

  async pollRepo(repo: Repo, now = Date.now()): Promise<Run[]> {
    const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
    await this.fetch(mirror);
    const heads = await refHeads(mirror);
    let seen: Record<string, string> | undefined;
    try {
      seen = repo.lastSeenSha ? (JSON.parse(repo.lastSeenSha) as Record<string, string>) : undefined;
    } catch {
      seen = undefined;
    }
    await this.store.repos.update(repo.id, { lastPolledAt: now, lastSeenSha: JSON.stringify(heads) });
    // The first poll only records where the branches are.
    if (!seen) return [];
    const runs: Run[] = [];
    for (const [ref, sha] of Object.entries(heads)) {
      if (seen[ref] === sha) continue;
      const before = seen[ref] ?? zeroSha;
      const event = await this.pushEvent(repo, mirror, ref, before, sha);
      runs.push(...(await this.triggerEvent(repo, event, "poll")));
    }
    return runs;
  }

  private async pushEvent(
    repo: Repo,
    mirror: string,
    ref: string,
    before: string,
    after: string,
  ): Promise<TriggerEvent> {
    const info = await commitInfo(mirror, after);
    const repository = this.repositoryInfo(repo);
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

  /** Fires `on.schedule` crons of the default branch's workflows that came due since the last check. */
  async runSchedules(lastChecked: Date, now: Date): Promise<Run[]> {
    const runs: Run[] = [];
    for (const repo of await this.store.repos.list()) {
      const mirror = repo.mirrorPath ?? this.mirrorDir(repo);
      if (!existsSync(mirror)) continue;
      const sha = await resolveRef(mirror, `refs/heads/${repo.branch}`);
      if (!sha) continue;
      const root = await checkoutWorkflows(mirror, sha, join(this.dataDir, "workflows"));
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
              repository: { full_name: this.repositoryInfo(repo).fullName, default_branch: repo.branch },
            },
            ref: `refs/heads/${repo.branch}`,
            sha,
          };
          runs.push(
            ...(await this.triggerEvent(
              repo,
              event,
              "schedule",
              undefined,
              undefined,
              wf.relPath.split("/").pop(),
            )),
          );
        }
      }
    }
    return runs;
  }

  /** Graceful stop: no new runs start; running orchestrations are aborted after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const all = [...this.active.values()];
    const timer = setTimeout(() => {
      for (const a of all) a.controller.abort(new Error("the server is shutting down"));
    }, graceMs);
    // Bounded too: past the grace period and the kill grace, what has not ended is left to the next
    // start (its legs are failed by recovery or by their lease), rather than hanging the shutdown.
    const ended = await boundedWait(
      Promise.allSettled(all.map((a) => a.done)),
      graceMs + killGraceMs + cancelWaitMs,
    );
    if (!ended) this.log(`stopping: ${this.active.size} run(s) did not end in time; left to the next start`);
    clearTimeout(timer);
    // The events of the runs that just ended are recorded before the store closes; delivering them is
    // the Notifier's (pending ones resume at the next start).
    while (this.notifying.size > 0) await Promise.allSettled([...this.notifying]);
  }

  get activeRuns(): number {
    return this.active.size;
  }
}
