// The CI service behind `slipway serve`: one façade over its parts, so that the server and the CLI see
// one object. Repositories and mirrors (repos.ts), triggers turned into runs (triggers.ts), the driving
// of runs and their legs (orchestration.ts, legs.ts), cancel, re-run and approval (control.ts) and
// notifications (notifications.ts) share one CiContext (context.ts).
import { randomBytes } from "node:crypto";
import type { LegSpec } from "../runner/index.js";
import type { Environment, Gate, Job, Repo, Run, Store } from "../store/index.js";
import type { NotifyConfig } from "../notify/index.js";
import { ServerArtifacts } from "./artifacts.js";
import { type CiEvent, CiContext, type CiOptions } from "./context.js";
import { type RerunRequest, RunControl } from "./control.js";
import { parseEnvironmentRules, type Reviewer } from "./environment-rules.js";
import { NotFoundError } from "../lib/errors.js";
import { Legs } from "./legs.js";
import { RunNotifications } from "./notifications.js";
import { Orchestrator } from "./orchestration.js";
import { Repos } from "./repos.js";
import { Triggers } from "./triggers.js";
import type { WebhookLimits, WebhookRequest, WebhookResponse } from "./webhook-intake.js";

export type { CiEvent, CiOptions, RunNotifyOptions } from "./context.js";
export type { RerunRequest } from "./control.js";

export class CiService {
  readonly localRunnerId = `local-${randomBytes(4).toString("hex")}`;
  private readonly ctx: CiContext;
  private readonly repos: Repos;
  private readonly notifications: RunNotifications;
  private readonly legs: Legs;
  private readonly runs: Orchestrator;
  private readonly control: RunControl;
  private readonly triggers: Triggers;
  /** Artifacts uploaded by the runs' jobs. */
  readonly artifacts: ServerArtifacts;

  constructor(opts: CiOptions) {
    this.ctx = new CiContext(opts);
    this.repos = new Repos(this.ctx);
    this.notifications = new RunNotifications(this.ctx, this.repos);
    this.legs = new Legs(this.ctx);
    this.runs = new Orchestrator(this.ctx, this.legs, this.notifications);
    this.control = new RunControl(this.ctx, this.runs, this.legs, this.notifications);
    this.triggers = new Triggers(this.ctx, this.repos, this.runs, this.notifications);
    // Commit statuses follow every run and job state change; the reporter never throws or waits.
    const forge = opts.forge;
    if (forge) this.ctx.events.on("event", (e: CiEvent) => forge.onCiEvent(e));
    this.artifacts = new ServerArtifacts(opts.store, opts.dataDir, opts.artifacts);
  }

  get store(): Store {
    return this.ctx.store;
  }
  /** The forge reporter, when the server has one. */
  get forge() {
    return this.ctx.opts.forge;
  }
  get dataDir(): string {
    return this.ctx.dataDir;
  }
  get events() {
    return this.ctx.events;
  }
  /** Step process groups and leg directories of the server's own runner, found again after a crash. */
  get processLedger() {
    return this.ctx.processLedger;
  }
  get webhookLimits(): WebhookLimits {
    return this.triggers.webhookLimits;
  }
  get leaseMs(): number {
    return this.ctx.opts.leaseMs ?? 30_000;
  }
  get maxJobLogBytes(): number | undefined {
    return this.ctx.opts.maxJobLogBytes;
  }
  get activeRuns(): number {
    return this.runs.activeRuns;
  }

  log(line: string): void {
    this.ctx.log(line);
  }

  emit(event: CiEvent): void {
    this.ctx.emit(event);
  }

  // --- repositories ---

  mirrorDir(repo: { id: number }): string {
    return this.ctx.mirrorDir(repo);
  }
  addRepo(input: {
    url: string;
    name?: string;
    branch?: string;
    pollIntervalS?: number | null;
    actor: string;
  }) {
    return this.repos.addRepo(input);
  }
  /** A new webhook secret (admin), returned once; the old one stops verifying. Audited. */
  rotateWebhookSecret(name: string, actor: string) {
    return this.repos.rotateWebhookSecret(name, actor);
  }
  repoByName(name: string): Promise<Repo> {
    return this.repos.repoByName(name);
  }
  /** Changes a repository's settings (admin); audited. Bad values are UserErrors and change nothing. */
  updateRepo(name: string, patch: { forkPullRequests?: unknown }, actor: string): Promise<Repo> {
    return this.repos.updateRepo(name, patch, actor);
  }

  // --- triggers ---

  /** A webhook delivery; refusals are WebhookErrors with their status (see webhook-intake.ts). */
  handleWebhook(req: WebhookRequest): Promise<WebhookResponse> {
    return this.triggers.handleWebhook(req);
  }
  resumePendingDeliveries(): Promise<number> {
    return this.triggers.resumePendingDeliveries();
  }
  /** Starts a run for every workflow the event triggers (see Triggers.triggerEvent). */
  triggerEvent(...args: Parameters<Triggers["triggerEvent"]>): Promise<Run[]> {
    return this.triggers.triggerEvent(...args);
  }
  dispatch(input: Parameters<Triggers["dispatch"]>[0]): Promise<Run[]> {
    return this.triggers.dispatch(input);
  }
  pollRepos(now = Date.now()): Promise<void> {
    return this.triggers.pollRepos(now);
  }
  pollRepo(repo: Repo, now = Date.now()): Promise<Run[]> {
    return this.triggers.pollRepo(repo, now);
  }
  runSchedules(lastChecked: Date, now: Date): Promise<Run[]> {
    return this.triggers.runSchedules(lastChecked, now);
  }

  // --- notifications ---

  repoNotifyConfigAtHead(name: string): Promise<NotifyConfig | undefined> {
    return this.notifications.repoNotifyConfigAtHead(name);
  }

  // --- legs (the runner API's claim path) ---

  /** The spec a runner receives: with its secrets opened. */
  openSpec(job: Job): LegSpec {
    return this.legs.openSpec(job);
  }
  /** Called when a job row reached a final status (by a runner, a cancel or the lease reaper). */
  jobFinished(rowId: number): void {
    this.legs.jobFinished(rowId);
  }

  // --- control ---

  cancel(runId: number): Promise<Run> {
    return this.control.cancel(runId);
  }
  /** A fork's held run, or the run's jobs waiting at an environment's gate (`env`: only that one). */
  approve(runId: number, who: Reviewer, env?: string): Promise<Run> {
    return this.control.approve(runId, who, env);
  }
  reject(runId: number, who: Reviewer, why?: string, env?: string): Promise<Run> {
    return this.control.reject(runId, who, why, env);
  }

  // --- environments ---

  /** The run's environment gates (every attempt), for `runs show`. */
  environmentGates(runId: number): Promise<Gate[]> {
    return this.ctx.store.environments.gates(runId);
  }
  async environments(repoName: string): Promise<Environment[]> {
    return this.ctx.store.environments.list((await this.repos.repoByName(repoName)).id);
  }
  async environment(repoName: string, name: string): Promise<Environment> {
    const env = await this.ctx.store.environments.get((await this.repos.repoByName(repoName)).id, name);
    if (!env) throw new NotFoundError(`no environment ${name} in ${repoName}`);
    return env;
  }
  /** Sets an environment's protection rules and vars (admin); bad rules are UserErrors; audited. */
  async setEnvironment(repoName: string, name: string, body: unknown, actor: string) {
    const repo = await this.repos.repoByName(repoName);
    const rules = parseEnvironmentRules(body);
    return this.ctx.store.environments.put({ repoId: repo.id, repo: repo.name, name, rules, actor });
  }
  async removeEnvironment(repoName: string, name: string, actor: string): Promise<void> {
    const repo = await this.repos.repoByName(repoName);
    if (!(await this.ctx.store.environments.remove({ repoId: repo.id, repo: repo.name, name, actor })))
      throw new NotFoundError(`no environment ${name} in ${repoName}`);
  }
  rerun(runId: number, req: RerunRequest): Promise<Run> {
    return this.control.rerun(runId, req);
  }

  // --- lifecycle ---

  /** Crash recovery; call once at start (the background loops are background.ts's). */
  start(): Promise<void> {
    return this.runs.start();
  }
  /** Fails jobs whose runner stopped heartbeating; runs on a timer in the server. */
  reapLeases(): Promise<void> {
    return this.runs.reapLeases();
  }
  /** Waits until a run is no longer being driven by this process (tests, graceful shutdown). */
  settled(runId: number): Promise<void> {
    return this.runs.settled(runId);
  }
  /** Graceful stop: no new runs start; running orchestrations are aborted after `graceMs`. */
  stop(graceMs: number): Promise<void> {
    return this.runs.stop(graceMs);
  }
}
