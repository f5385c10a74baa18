// State shared by every job of one `slipway run` (or one server run): identity, event, secrets, limits.
import type { Json } from "../expressions/index.js";
import type { TriggerEvent } from "../workflow/index.js";
import type { ActionSource } from "./actions/source.js";
import type { ArtifactBackend } from "./builtin/storage.js";
import type { RunAs } from "./isolation.js";
import type { Masker } from "./masker.js";
import type { Reporter } from "./reporter.js";

export type RunContext = {
  /** The git repository jobs check out from (a working repository or the server's mirror). */
  repoDir: string;
  /** Where the workflow files were read from (reusable workflows are loaded relative to it). */
  workflowRoot: string;
  dataDir: string;
  /** Where job workspaces and temp dirs of this run are made. */
  workDir: string;
  runId: string;
  runNumber: number;
  runAttempt: number;
  event: TriggerEvent;
  sha: string;
  ref: string;
  repository: string;
  defaultBranch: string;
  actor: string;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  masker: Masker;
  reporter: Reporter;
  /** Aborted when the whole run is cancelled (Ctrl-C). */
  signal: AbortSignal;
  /** Limits how many job legs run at once. */
  slots: Semaphore;
  /** The action cache (runner/actions/cache.ts): fetched actions by commit, and those `actions add` put there. */
  actionsDir: string;
  /** Where remote actions are fetched from; default: this process's settings (SLIPWAY_ACTIONS_URL, ...). */
  actionSource?: ActionSource;
  verbose: boolean;
  /** runs-on labels mapped to container images (`-P label=image`); `-self-hosted` = the host. */
  platforms: Record<string, string>;
  /** Remove each job leg's directory when it ends (a runner); false when the whole work dir goes at the end. */
  cleanJobDirs: boolean;
  /**
   * The environment steps on the host start from: built by lib/child-env (an allow-list and the names the
   * operator passes), never a copy of slipway's own, which holds its keys and tokens.
   */
  hostEnv: Record<string, string>;
  /** Bytes of log one job leg may write; past it the output is dropped with one notice (default: jobLogLimit()). */
  logLimit?: number;
  /**
   * The run executes a fork's pull request code: it has no secrets, and the built-in actions that act
   * with the server's own credentials (slipway/deploy, slipway/build with push) refuse to run.
   */
  untrusted?: boolean;
  /**
   * An isolated fork leg: its host processes run as this unprivileged user, in a job dir it owns
   * outside the data dir (runner/isolation.ts).
   */
  runAs?: RunAs;
  /**
   * Set when the leg runs for a server: actions/upload-artifact and download-artifact use the server's
   * artifact store instead of `<dataDir>/artifacts`, so the run's other jobs (on other runners) and
   * `slipway artifacts download` see them.
   */
  artifacts?: ArtifactBackend;
};

/** The `github` context fields that stay the same for every job of a workflow. */
export function githubContext(
  run: RunContext,
  workflow: { name: string; relPath: string },
): Record<string, Json> {
  const ev = run.event;
  const payload = ev.payload as Record<string, any>;
  const ref = run.ref;
  const refType = ref.startsWith("refs/tags/") ? "tag" : "branch";
  const refName = ref.replace(/^refs\/(heads|tags)\//, "");
  const pr = payload.pull_request as Record<string, any> | undefined;
  const [owner] = run.repository.split("/");
  const serverUrl = "https://github.com";
  return {
    action: "",
    action_path: "",
    action_ref: "",
    action_repository: "",
    action_status: "",
    actor: run.actor,
    actor_id: "0",
    api_url: "https://api.github.com",
    base_ref: pr ? String(pr.base?.ref ?? "") : "",
    env: "",
    event: payload as Json,
    event_name: ev.name,
    event_path: "",
    graphql_url: "https://api.github.com/graphql",
    head_ref: pr ? String(pr.head?.ref ?? "") : "",
    job: "",
    path: "",
    ref,
    ref_name: refName,
    ref_protected: false,
    ref_type: refType,
    repository: run.repository,
    repository_id: "0",
    repository_owner: owner,
    repository_owner_id: "0",
    repositoryUrl: `git://github.com/${run.repository}.git`,
    retention_days: "90",
    run_attempt: String(run.runAttempt),
    run_id: run.runId,
    run_number: String(run.runNumber),
    secret_source: "Actions",
    server_url: serverUrl,
    sha: run.sha,
    state: "",
    step_summary: "",
    token: run.secrets.GITHUB_TOKEN ?? "",
    triggering_actor: run.actor,
    workflow: workflow.name,
    workflow_ref: `${run.repository}/${workflow.relPath}@${ref}`,
    workflow_sha: run.sha,
    workspace: "",
    output: "",
  };
}

/** A counting semaphore for job slots (`--jobs N`). */
export class Semaphore {
  private waiters: (() => void)[] = [];
  private used = 0;
  private readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.used >= this.size) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== go);
          reject(signal?.reason ?? new Error("aborted"));
        };
        const go = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        this.waiters.push(go);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    } else {
      this.used++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.used--;
    };
  }
}
