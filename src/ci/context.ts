// What the parts of the CI service share: the store, the data directory, the options, the event bus and
// the log. Each part (repos, triggers, orchestration, control, notifications) takes this one object, so
// none of them holds a copy of the others' state.
import type { ActionSourceSettings } from "../runner/index.js";
import { EventEmitter } from "node:events";
import { join } from "node:path";
import { ProcessLedger } from "../lib/process-ledger.js";
import type { Notifier, NotifyConfig } from "../notify/index.js";
import type { MasterKey, SecretStore } from "../secrets/index.js";
import type { Repo, Store } from "../store/index.js";
import type { ArtifactSettings } from "./artifacts.js";
import type { WebhookIntakeOptions } from "./webhook-intake.js";
import type { WorkflowDeploy } from "./workflow-deploys.js";

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
  /** Artifact retention and the per-run size cap (ci/artifacts.ts). */
  artifacts?: ArtifactSettings;
  /** The encrypted secret store: runs get the secrets of their repository (global < repository). */
  secrets?: SecretStore;
  /** Seals the secrets inside queued job specs, so the database never holds them in clear. */
  masterKey?: MasterKey;
  /** Notifications of finished runs; without it, none are sent. */
  notify?: RunNotifyOptions;
  /** Webhook intake limits: bytes in flight, the legacy URL's body cap, the replay window. */
  webhooks?: WebhookIntakeOptions;
  /** Where runs fetch remote actions from, and whether offline (passed to runners without the token). */
  actions?: ActionSourceSettings;
  /** Reports runs and jobs to the repositories' forges (src/forge); it sees every run and job event. */
  forge?: {
    onCiEvent(event: CiEvent): void;
    /** A release made by a run's `slipway/deploy` step (workflow-deploys.ts). */
    onWorkflowDeploy?(deploy: WorkflowDeploy): void;
  };
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

/**
 * Why a run's orchestration was aborted when the server stops: a run whose jobs wait at an
 * environment's gate is then left as it is in the store, to be driven again at the next start.
 */
export class ServerShutdown extends Error {
  constructor() {
    super("the server is shutting down");
    this.name = "ServerShutdown";
  }
}

export const zeroSha = "0000000000000000000000000000000000000000";

export class CiContext {
  readonly store: Store;
  readonly dataDir: string;
  readonly opts: CiOptions;
  readonly events = new EventEmitter();
  /** Step process groups and leg directories of the server's own runner, found again after a crash. */
  readonly processLedger: ProcessLedger;

  constructor(opts: CiOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.dataDir = opts.dataDir;
    this.processLedger = new ProcessLedger(join(opts.dataDir, "processes"));
    this.events.setMaxListeners(0);
  }

  log(line: string): void {
    this.opts.log?.(line);
  }

  emit(event: CiEvent): void {
    this.events.emit("event", event);
  }

  mirrorDir(repo: { id: number }): string {
    return join(this.dataDir, "mirrors", `${repo.id}.git`);
  }

  /** The repository's mirror: where it was recorded, else where it is made. */
  mirrorOf(repo: Repo): string {
    return repo.mirrorPath ?? this.mirrorDir(repo);
  }

  repositoryInfo(repo: Repo) {
    const fullName = repo.name.includes("/") ? repo.name : `local/${repo.name}`;
    return { fullName, defaultBranch: repo.branch, cloneUrl: repo.url };
  }
}
