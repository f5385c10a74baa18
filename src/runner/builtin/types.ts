// Built-in actions are well-known actions (actions/checkout, actions/cache, ...) that slipway implements
// natively so that workflows run offline with no action download.
import type { ArtifactBackend } from "./storage.js";

export type BuiltinActionContext = {
  /** The step's `with:` values after expression evaluation; absent inputs are missing (apply defaults yourself). */
  inputs: Record<string, string>;
  /** The job's workspace (GITHUB_WORKSPACE); relative paths in inputs are relative to it. */
  workspace: string;
  /** Slipway's persistent data directory; artifacts and caches live below it and survive across runs. */
  dataDir: string;
  /** `owner/name` of the repository the run belongs to; caches and artifacts are scoped by it. */
  repository: string;
  /** The run's id (a string of digits, like GITHUB_RUN_ID). */
  runId: string;
  /** The git ref of the run (refs/heads/main, refs/pull/1/merge, ...). */
  ref: string;
  /** The repository's default branch name (e.g. "main"), for cache scoping. */
  defaultBranch: string;
  /** The environment a `run:` step here would get (host, workflow, job and step `env:`, GITHUB_*). */
  env?: Record<string, string>;
  /** The user's home directory, for expanding `~` in paths. */
  home: string;
  log(line: string): void;
  warning(message: string): void;
  setOutput(name: string, value: string): void;
  /** State saved by `main` that `post` receives in `state`. */
  saveState(name: string, value: string): void;
  state: Record<string, string>;
  /** Whether the job has succeeded so far (for post steps that only act on success). */
  jobStatus: "success" | "failure" | "cancelled";
  signal: AbortSignal;
  /** The run executes a fork's pull request code (see RunContext.untrusted). */
  untrusted?: boolean;
  /** A job run for a server keeps its artifacts there (see RunContext.artifacts). */
  artifacts?: ArtifactBackend;
};

export type BuiltinAction = {
  main(ctx: BuiltinActionContext): Promise<void>;
  post?(ctx: BuiltinActionContext): Promise<void>;
  /** The condition under which `post` runs, as in action.yml's `post-if` (default `success()`). */
  postIf?: string;
};
