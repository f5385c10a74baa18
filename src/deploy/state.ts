// The state one environment's deployer keeps, shared by its parts (apply, rollout, instances, routing,
// monitor, converge): what it was asked to run, every instance it manages, the routers, the deploy in
// progress. Only the deployer's modules see it; the domain's API is the Deployer (controller.ts).
import type { Release, Store } from "../store/index.js";
import type { Router, RouteRule } from "../traffic/index.js";
import type { DeployMasker } from "./masking.js";
import type { ReleaseDocument } from "./plan.js";
import { Semaphore } from "./semaphore.js";
import type { DeployPhase, DeploySpec, InstanceInfo, Runtime, ServiceSpec, StrategyName } from "./types.js";

export type DeployRequest = {
  spec: DeploySpec;
  /** Only these services are deployed; the others keep what the current release runs. */
  only?: string[];
  version?: string;
  trigger: string;
  actor: string;
  /** Wait for a deploy in progress instead of refusing. */
  wait?: boolean;
  /** slipway.yaml's notify: section: where deploy events go. */
  notify?: unknown;
  /**
   * The registered repository the spec came from (deploys through the server). It must own the app
   * environment (store.deployApps), or the deploy is refused before anything is recorded or started.
   */
  repo?: string;
};

export type DeployProgress = {
  at: number;
  level: "info" | "warn" | "error";
  type: string;
  service?: string;
  message: string;
  release?: number;
  data?: unknown;
};

export type DeployNotice = {
  type: "deploy.started" | "deploy.succeeded" | "deploy.failed" | "deploy.rolled_back";
  release: Release;
  strategy: Record<string, StrategyName>;
  /** The version that served before this release. */
  previousVersion?: string;
  /** The notify: section that applies (the request's, or the interrupted release's). */
  config?: unknown;
};

/** Resolves secret names to values for this environment; throws a UserError naming the missing ones. */
export type SecretResolver = (names: string[]) => Promise<Record<string, string>>;

export type DeployerOptions = {
  app: string;
  env: string;
  runtime: Runtime;
  store: Store;
  /** Lock holder name, e.g. "agent host:pid". */
  holder: string;
  secrets?: SecretResolver;
  notify?: (notice: DeployNotice) => void;
  log?: (line: string) => void;
  lockTtlMs?: number;
  /** How often instances are checked for crashes (liveness probes follow each service's interval). */
  monitorIntervalMs?: number;
};

export type InstanceState = "starting" | "ready" | "kept" | "draining";

export type Managed = {
  id: string;
  service: string;
  revision: string;
  info: InstanceInfo;
  state: InstanceState;
  healthy: boolean;
  failures: number;
  lastProbeAt: number;
  lastProbe?: string;
  keepTimer?: NodeJS.Timeout;
  keptUntil?: number;
};

export type ServiceState = {
  name: string;
  router?: Router;
  /** The traffic split asked for; applied to the versions that have ready instances. */
  weights: Record<string, number>;
  rules: RouteRule[];
  /** Desired: the revision the current release runs and its spec. */
  revision?: string;
  spec?: ServiceSpec;
  specs: Map<string, ServiceSpec>;
  images: Map<string, string | undefined>;
  /** A rollout holds the service: the monitor leaves it alone meanwhile. */
  busy: boolean;
  healing: boolean;
  crashes: number;
  lastCrashAt: number;
};

export type ActiveDeploy = {
  release: Release;
  abort: AbortController;
  /** `slipway abort` (recorded as aborted, not failed). */
  abortedByUser?: boolean;
  command?: (c: "promote" | "abort") => void;
  pendingCommand?: "promote" | "abort";
};

/** What the deployer's parts share. */
export class DeployContext {
  readonly app: string;
  readonly env: string;
  /** The options with the store, notices and log masked. */
  readonly o: DeployerOptions;
  readonly masker: DeployMasker;
  readonly services = new Map<string, ServiceState>();
  readonly instances = new Map<string, Managed>();
  readonly slots = new Semaphore(2);
  readonly secretCache = new Map<string, Record<string, string>>();
  active: ActiveDeploy | undefined;
  current: ReleaseDocument | undefined;
  currentRelease: Release | undefined;
  /** The router kind: the spec's choice; auto means HAProxy when its binary is installed. */
  routerKind: "auto" | "haproxy" | "node" = "auto";
  closed = false;

  constructor(options: DeployerOptions, masker: DeployMasker) {
    this.app = options.app;
    this.env = options.env;
    this.masker = masker;
    // The one point where a deploy's text leaves the deployer: the store it writes through, its notices
    // and its log. Events (EventLog) and thrown errors (exclusive) are masked on their way out too.
    this.o = {
      ...options,
      store: masker.store(options.store),
      notify: options.notify && ((n) => options.notify!(masker.redact(n))),
      log: options.log && ((line) => options.log!(masker.mask(line))),
    };
  }

  log(line: string) {
    this.o.log?.(line);
  }

  /** Ready instances of a service's revision (not starting, kept or draining). */
  members(service: string, revision: string): Managed[] {
    return [...this.instances.values()].filter(
      (m) => m.service === service && m.revision === revision && m.state === "ready",
    );
  }

  async phase(release: Release, phase: DeployPhase) {
    await this.o.store.releases.update(release.id, { phase });
  }
}

export const revisionOf = (release: { number: number }) => `r${release.number}`;
