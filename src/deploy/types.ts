// The deploy domain's shapes: the normalized app spec (what config/sections/deploy.ts validates and
// resolves, durations in milliseconds, paths absolute), the runtime interface the strategies drive, and
// what a deploy reports. Everything here is plain data except Runtime.

/** How an instance is judged ready (before it takes traffic) and alive (self-healing). */
export type HealthSpec = {
  /** http: GET path on the instance's port, 2xx/3xx is healthy; tcp: a connect succeeds; exec: exit code 0. */
  type: "http" | "tcp" | "exec";
  /** http only, e.g. "/healthz". */
  path?: string;
  /** exec only: the argv run inside the instance (docker) or next to it (process, with the instance's env). */
  command?: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before an instance counts as healthy (readiness). */
  healthyThreshold: number;
  /** Consecutive failures before a healthy instance counts as unhealthy (liveness → restart). */
  unhealthyThreshold: number;
  /** Failures during this window after start do not count; readiness gives up after startPeriodMs + timeoutMs × healthyThreshold … see waitHealthy. */
  startPeriodMs: number;
  /** Readiness gives up after this long (the deploy then fails and rolls back). */
  deadlineMs: number;
};

export type CanaryStep = { setWeight: number } | { pause: { durationMs?: number } };

export type CanaryAnalysis = {
  /** How often the router's window is read while a canary step holds. */
  intervalMs: number;
  /** Abort when the canary's (5xx + failed) / requests over the window exceeds this (0..1). */
  maxErrorRate?: number;
  /** Abort when the canary's p99 latency over the window exceeds this. */
  maxP99Ms?: number;
  /** Below this many canary requests in the window, nothing is judged yet. */
  minRequests: number;
};

export type StrategySpec =
  | { type: "recreate" }
  | { type: "rolling"; maxSurge: number; maxUnavailable: number }
  | { type: "blue-green"; keepOldMs: number; warmup?: { path: string; requests: number } }
  | {
      type: "canary";
      steps: CanaryStep[];
      analysis?: CanaryAnalysis;
      /** Requests with this header (or cookie) value always go to the canary. */
      match?: { header?: string; cookie?: string; value: string };
    };

export type StrategyName = StrategySpec["type"];

/** Where a deploy is (a release record's `phase`): while it runs, then how it ended. */
export type DeployPhase =
  | "locking"
  | "preparing"
  | "rolling out"
  | "rolling back"
  | "done"
  | "rolled back"
  | "rollback failed"
  | "nothing changed"
  | "rolled back on restart";
export const strategyNames = ["recreate", "rolling", "blue-green", "canary"] as const;

export type HookSpec = {
  /** argv; a string in slipway.yaml becomes ["sh", "-c", string]. */
  command: string[];
  /** docker: defaults to the service's image of the new release. */
  image?: string;
  env: Record<string, string>;
  timeoutMs: number;
};

export type VolumeSpec = {
  /** A named volume (kept across releases) or an absolute host path (bind). */
  source: string;
  kind: "named" | "bind";
  /** Path inside the container (docker). The process runtime gives named volumes a directory and SLIPWAY_VOLUME_<NAME> its path. */
  target: string;
  readOnly: boolean;
};

export type SecretRef = {
  /** The secret's name in the secret store. */
  name: string;
  /** Environment variable to set (default: the secret's name), or a file path when `file` is set. */
  env?: string;
  /** Write the value to this path (0600) inside the instance instead; process runtime: relative to the instance dir. */
  file?: string;
};

export type RestartSpec = {
  policy: "always" | "on-failure" | "no";
  /** First delay after a crash; doubles per crash up to maxBackoffMs; reset after 60 s of health. */
  backoffMs: number;
  maxBackoffMs: number;
};

export type ServiceSpec = {
  name: string;
  runtime: "process" | "docker";
  /** docker: the image reference (may be overridden per deploy with --image S=REF). */
  image?: string;
  /** process: argv (required); docker: overrides the image's CMD. */
  command?: string[];
  /** process: working directory (absolute). */
  cwd?: string;
  /**
   * process: the directory the service's files come from (slipway.yaml's). Instances run from a
   * content-addressed snapshot of it (cwd at the same place inside), so code outside cwd (a monorepo's
   * shared library) comes along, and a checkout that changes or disappears does not touch them.
   */
  root?: string;
  replicas: number;
  /** The port the instance listens on: docker, inside the container; process, the port slipway assigns is given in PORT (and this is ignored unless fixed). */
  port?: number;
  /** Where slipway's router listens for this service (HTTP services only). Without it the service takes no routed traffic. */
  publish?: { host: string; port: number };
  env: Record<string, string>;
  secrets: SecretRef[];
  volumes: VolumeSpec[];
  health?: HealthSpec;
  dependsOn: { service: string; condition: "started" | "healthy" }[];
  resources?: { memoryBytes?: number; cpus?: number };
  restart: RestartSpec;
  hooks: { preDeploy?: HookSpec; postDeploy?: HookSpec };
  strategy: StrategySpec;
  drainTimeoutMs: number;
  /** SIGTERM → SIGKILL grace when an instance is stopped. */
  stopTimeoutMs: number;
  /**
   * process: how the instance's log file is rotated (deploy.logs of slipway.yaml); absent: the default
   * (10 MiB, 5 kept). Left out unless configured, so that specs from before it hash the same.
   */
  logs?: { maxBytes: number; keep: number };
};

export type DeploySpec = {
  /** The application's name (labels, container names); default: the repository directory's name. */
  app: string;
  /** docker runtime: DOCKER_HOST-style address (unix://, tcp://, ssh://user@host); default: the local engine. */
  dockerHost?: string;
  /** At most this many instances are starting (not yet healthy) at once, across services. */
  maxStarting: number;
  /** The router implementation: haproxy, node, or auto (haproxy when installed). */
  router?: "auto" | "haproxy" | "node";
  /** In dependency order (depends_on first), names unique. */
  services: ServiceSpec[];
};

/** Labels every instance carries (docker labels / the process runtime's record): how slipway re-adopts them. */
export type InstanceLabels = {
  app: string;
  env: string;
  service: string;
  /** The release (router version key), e.g. "r7". */
  release: string;
  instance: string;
};

export type InstanceInfo = {
  id: string;
  labels: InstanceLabels;
  runtime: "process" | "docker";
  /** Where the router (and HTTP/TCP probes) reach the instance; undefined without a port. */
  address?: { host: string; port: number };
  /** Process id (process runtime) or container id (docker). */
  ref: string;
  running: boolean;
  exitCode?: number;
  startedAt: number;
};

export type StartRequest = {
  id: string;
  service: ServiceSpec;
  labels: InstanceLabels;
  /** The service's env, the environment's, secrets and slipway's own (SLIPWAY_RELEASE, …), merged. */
  env: Record<string, string>;
  /** Secret files to place (mode 0600). */
  files: { path: string; content: Buffer }[];
  /** docker: the resolved image reference (from prepare). */
  image?: string;
  signal?: AbortSignal;
};

export type TaskRequest = {
  /** Used in names and logs, e.g. "api-pre-deploy-r7". */
  id: string;
  service: ServiceSpec;
  labels: InstanceLabels;
  command: string[];
  env: Record<string, string>;
  image?: string;
  timeoutMs: number;
  signal?: AbortSignal;
};

export type TaskResult = { exitCode: number; output: string; timedOut: boolean };

/** One line of an instance's output; `at` when the runtime knows when it was written. */
export type InstanceLogLine = { at?: number; stream: "stdout" | "stderr" | "output"; line: string };

export type LogStreamOptions = {
  /** The last N lines (after `since`); undefined: all. */
  tail?: number;
  /** Only lines written at or after this time (ms since the epoch). */
  since?: number;
  /** Keep streaming new lines until `signal` aborts (docker: or the container stops). */
  follow?: boolean;
  signal?: AbortSignal;
  onLine: (line: InstanceLogLine) => void;
};

/** The terminal of an attached command (`slipway exec`): its input, output and size. */
export type AttachIo = {
  /** Give the command a terminal (docker; the process runtime has none to give and says so). */
  tty: boolean;
  stdin: NodeJS.ReadableStream;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** Registers the listener for terminal size changes. */
  onResize?: (listener: (size: { rows: number; cols: number }) => void) => void;
  /** Aborted when the client goes away: the command is killed. */
  signal: AbortSignal;
};

/**
 * What runs the instances. Strategies only use this, so they do not care whether an instance is a
 * process or a container. Every method is safe to call for an instance that is already gone.
 */
export interface Runtime {
  readonly kind: "process" | "docker";
  /**
   * Checks everything a service's release needs before any running instance is touched: the image
   * exists locally or is pulled (docker), the command and cwd exist (process). Returns the reference to
   * start (with its digest when the engine knows one). Throws OperationError/UserError naming what is missing.
   */
  prepare(service: ServiceSpec, signal?: AbortSignal): Promise<{ image?: string; digest?: string }>;
  start(request: StartRequest): Promise<InstanceInfo>;
  /** Graceful stop (SIGTERM, then SIGKILL after timeoutMs) and removal; named volumes are kept. */
  stop(id: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;
  inspect(id: string): Promise<InstanceInfo | undefined>;
  /** Every instance of an app's environment this runtime knows (running or exited): re-adoption. */
  list(filter: { app: string; env: string }): Promise<InstanceInfo[]>;
  /** Runs argv in (docker) or beside (process: same env and cwd) an instance. */
  exec(
    id: string,
    command: string[],
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<TaskResult>;
  /** A one-off job (pre/post-deploy hook): runs to completion, output captured (last 64 KiB). */
  runTask(request: TaskRequest): Promise<TaskResult>;
  /** The instance's recent output (last `tail` lines). */
  logs(id: string, options?: { tail?: number }): Promise<string>;
  /** The instance's output line by line (`slipway logs`); with `follow`, as it comes. */
  streamLogs(id: string, options: LogStreamOptions): Promise<void>;
  /** Runs argv in (docker) or beside (process) an instance with stdin and stdout attached; its exit code. */
  attach(id: string, command: string[], io: AttachIo): Promise<number>;
  /**
   * Removes what prepare() made for releases no longer needed (process: snapshots), keeping every path in
   * `keep` (the images of recent releases and of running instances).
   */
  prune?(keep: string[]): Promise<{ removed: number }>;
  /** After the environment's last instance is stopped (`slipway down`): what it shared (Docker: its network). */
  cleanup?(filter: { app: string; env: string }): Promise<void>;
  close(): Promise<void>;
}

export type ProbeResult = { ok: boolean; detail: string };
