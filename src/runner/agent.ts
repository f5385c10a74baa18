// A runner: claims job legs whose runs-on labels it has, executes them with the engine, streams steps
// and log lines back and heartbeats; a lost lease (cancelled, or the server gave up on it) aborts the
// leg. The server's own runner and `slipway runner` on another machine differ only in the transport.
import type { ActionSourceSettings } from "./actions/source.js";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { retry, sleep } from "../lib/async.js";
import { git, resolveCommit } from "../lib/git.js";
import type { ArtifactBackend } from "./builtin/storage.js";
import type { UntrustedPolicy } from "./isolation.js";
import { executeLegSpec, type LegSpec } from "./leg-spec.js";
import type { JobRef, LogKind, Reporter } from "./reporter.js";
import type { JobResult, StepResult } from "./types.js";
import type { Annotation } from "./workflow-commands.js";

export type ClaimedLeg = { jobRowId: string; spec: LegSpec };

export type StepReport = {
  idx: number;
  id: string;
  name: string;
  status: "running" | "completed";
  outcome?: string;
  conclusion?: string;
  startedAt?: number;
  finishedAt?: number;
};

export interface RunnerTransport {
  claim(signal: AbortSignal): Promise<ClaimedLeg | null>;
  /** Extends the lease; false means the runner must stop the leg (cancelled, or the lease was lost). */
  heartbeat(jobRowId: string): Promise<boolean>;
  appendLog(jobRowId: string, seq: number, content: string): Promise<void>;
  step(jobRowId: string, step: StepReport): Promise<void>;
  complete(jobRowId: string, result: JobResult): Promise<void>;
  /** The server's artifact store, bound to the job this runner holds. */
  artifacts?(jobRowId: string): ArtifactBackend;
}

export type AgentOptions = {
  dataDir: string;
  /** Legs run at once by this runner. */
  concurrency: number;
  /** Stops claiming new legs; the running ones go on. */
  signal: AbortSignal;
  /** Aborts the running legs (after a graceful-shutdown timeout, or a hard stop). */
  abortLegs?: AbortSignal;
  heartbeatMs?: number;
  /** Idle wait between claims when nothing was queued. */
  pollMs?: number;
  /** A local repository for a repo URL (the server's own runner uses its mirrors). */
  resolveRepo?: (url: string, sha: string) => Promise<string>;
  log?: (line: string) => void;
  verbose?: boolean;
  /** The environment steps start from (lib/child-env); default: built from this process's environment. */
  hostEnv?: Record<string, string>;
  /** Bytes of log one leg may write; default: jobLogLimit(). */
  logLimit?: number;
  /**
   * Calls `cancel` as soon as the server cancels the leg (the server's own runner hears it at once;
   * remote runners learn it at their next heartbeat). Returns an unsubscribe function.
   */
  watchCancel?: (jobRowId: string, cancel: () => void) => () => void;
  /**
   * What this runner does with forks' legs (runner/isolation.ts); it declares `accepts` when it claims.
   * Default: it takes none.
   */
  untrusted?: UntrustedPolicy;
  /** This runner's own actions setting (flag, env); the server's is used where it says nothing. */
  actions?: ActionSourceSettings;
};

/** Keeps a clone per repository URL under the runner's data dir and makes sure it has the commit. */
export async function cachedRepo(dataDir: string, url: string, sha: string): Promise<string> {
  const dir = join(dataDir, "repos", createHash("sha256").update(url).digest("hex").slice(0, 16));
  if (!existsSync(join(dir, "HEAD"))) {
    mkdirSync(join(dataDir, "repos"), { recursive: true });
    // From this process's directory, as before: a relative url or data dir means what it always did.
    await git(process.cwd(), ["clone", "--quiet", "--mirror", "--", url, dir]);
  }
  if ((await resolveCommit(dir, sha)) === undefined)
    await git(dir, ["fetch", "--quiet", "--prune", "origin", "+refs/*:refs/*"]);
  return dir;
}

/** Batches a leg's log lines into numbered chunks. */
class LogShipper {
  private buf: string[] = [];
  private size = 0;
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly send: (seq: number, content: string) => Promise<void>;
  constructor(send: (seq: number, content: string) => Promise<void>) {
    this.send = send;
  }
  push(line: string): void {
    this.buf.push(line);
    this.size += line.length + 1;
    if (this.size > 64 * 1024) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 200);
  }
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buf.length) {
      const content = `${this.buf.join("\n")}\n`;
      const seq = ++this.seq;
      this.buf = [];
      this.size = 0;
      // One chunk that could not be sent must not silently stop every later one.
      this.chain = this.chain.catch(() => {}).then(() => this.sendWithRetry(seq, content));
    }
    return this.chain;
  }
  private sendWithRetry(seq: number, content: string): Promise<void> {
    // Waits of 200, 400, 800, 1600 and 3200 ms between six tries.
    return retry(() => this.send(seq, content), { attempts: 6, backoff: { baseMs: 200 } });
  }
}

function logText(kind: LogKind, text: string): string {
  switch (kind) {
    case "group-start":
      return `::group::${text}`;
    case "group-end":
      return "::endgroup::";
    case "error":
    case "warning":
    case "notice":
    case "debug":
      return `##[${kind}]${text}`;
    default:
      return text;
  }
}

/** Runs one claimed leg to the end, reporting through the transport. */
export async function runClaimedLeg(
  transport: RunnerTransport,
  claimed: ClaimedLeg,
  opts: AgentOptions,
): Promise<JobResult> {
  const id = claimed.jobRowId;
  const controller = new AbortController();
  const stopSignal = opts.abortLegs ?? new AbortController().signal;
  const onStop = () => controller.abort(stopSignal.reason);
  if (stopSignal.aborted) onStop();
  else stopSignal.addEventListener("abort", onStop, { once: true });
  const shipper = new LogShipper((seq, content) => transport.appendLog(id, seq, content));
  const stepIdx = new Map<string, number>();
  let nextIdx = 0;
  const pending: Promise<unknown>[] = [];
  const track = (p: Promise<unknown>) => {
    pending.push(p.catch((err) => opts.log?.(`runner: report failed: ${(err as Error).message}`)));
  };
  const reporter: Reporter = {
    jobStarted() {},
    stepStarted(_job: JobRef, step) {
      // The engine's number when it gives one: the one annotations name (stepNumber = idx + 1).
      const idx = step.number !== undefined ? step.number - 1 : nextIdx;
      nextIdx = idx + 1;
      stepIdx.set(step.id + step.name, idx);
      shipper.push(`##[step]${step.name}`);
      track(
        transport.step(id, { idx, id: step.id, name: step.name, status: "running", startedAt: Date.now() }),
      );
    },
    log(_job, text, kind) {
      shipper.push(logText(kind, text));
    },
    annotation(_job, a: Annotation) {
      shipper.push(`##[${a.level}]${a.file ? `${a.file}:${a.line ?? ""}: ` : ""}${a.message}`);
    },
    stepFinished(_job, step: StepResult) {
      let idx = step.number !== undefined ? step.number - 1 : stepIdx.get(step.id + step.name);
      if (idx === undefined) {
        // A skipped step never started.
        idx = nextIdx++;
      } else nextIdx = Math.max(nextIdx, idx + 1);
      track(
        transport.step(id, {
          idx,
          id: step.id,
          name: step.name,
          status: "completed",
          outcome: step.outcome,
          conclusion: step.conclusion,
          finishedAt: Date.now(),
        }),
      );
    },
    jobFinished() {},
  };
  const beat = setInterval(() => {
    transport.heartbeat(id).then(
      (ok) => {
        if (!ok) controller.abort(new Error("the server cancelled the job or took back its lease"));
      },
      (err) => opts.log?.(`runner: heartbeat failed: ${(err as Error).message}`),
    );
  }, opts.heartbeatMs ?? 5000);
  const unwatch = opts.watchCancel?.(id, () => controller.abort(new Error("the server cancelled the job")));
  let result: JobResult;
  try {
    // The server offers forks' legs only to runners that declared they take them; one that offers it
    // anyway (an older server, a bug) is refused here rather than run as this process's user.
    if (claimed.spec.run.untrusted && !opts.untrusted?.accepts)
      throw new Error(`this runner ${opts.untrusted?.describe ?? "does not take fork pull requests"}`);
    const repoDir = await (opts.resolveRepo ?? ((url, sha) => cachedRepo(opts.dataDir, url, sha)))(
      claimed.spec.repoUrl,
      claimed.spec.run.sha,
    );
    result = await executeLegSpec(claimed.spec, {
      repoDir,
      dataDir: opts.dataDir,
      reporter,
      signal: controller.signal,
      verbose: opts.verbose,
      hostEnv: opts.hostEnv,
      logLimit: opts.logLimit,
      runAs: opts.untrusted?.runAs,
      ...(opts.actions ? { actions: opts.actions } : {}),
      artifacts: transport.artifacts?.(id),
    });
  } catch (err) {
    const message = (err as Error).message;
    shipper.push(`##[error]${message}`);
    result = {
      id: claimed.spec.ref.id,
      name: claimed.spec.ref.name,
      workflow: claimed.spec.workflow.relPath,
      matrix: claimed.spec.matrix,
      status: "failure",
      outputs: {},
      durationMs: 0,
      steps: [],
      annotations: [{ level: "error", message }],
      summary: "",
      message,
    };
  } finally {
    clearInterval(beat);
    unwatch?.();
    stopSignal.removeEventListener("abort", onStop);
  }
  await shipper
    .flush()
    .catch((err) => opts.log?.(`runner: log lines could not be sent: ${(err as Error).message}`));
  await Promise.all(pending);
  await transport.complete(id, result);
  return result;
}

/** Claims and runs legs until the signal is aborted; running legs are finished first. */
export async function runAgent(transport: RunnerTransport, opts: AgentOptions): Promise<void> {
  const running = new Set<Promise<unknown>>();
  while (!opts.signal.aborted) {
    if (running.size >= opts.concurrency) {
      await Promise.race(running);
      continue;
    }
    let claimed: ClaimedLeg | null = null;
    try {
      claimed = await transport.claim(opts.signal);
    } catch (err) {
      if (opts.signal.aborted) break;
      opts.log?.(`runner: claim failed: ${(err as Error).message}`);
    }
    if (!claimed) {
      await sleep(opts.pollMs ?? 1000, opts.signal, { resolveOnAbort: true });
      continue;
    }
    opts.log?.(
      `runner: running ${claimed.spec.ref.name} (${claimed.spec.workflow.relPath}, run ${claimed.spec.run.id})`,
    );
    const p = runClaimedLeg(transport, claimed, opts).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.allSettled(running);
}
