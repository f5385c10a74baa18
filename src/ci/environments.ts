// Jobs bound for a deployment environment (`jobs.<id>.environment`) on the server. Before a leg is
// queued: its environment's name is evaluated, a ref the environment does not allow fails it, and it
// gets the environment's secrets and vars (only this leg: no other job of the run sees them). A
// protected environment holds the leg `waiting` at the run's gate for it (in the store, so a restarted
// server resumes the wait) until a reviewer approves and its wait timer has passed; a rejection fails
// it with the reviewer's reason. After the leg, the environment's URL is evaluated and kept on the gate.
import { isMapping, isString } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { coerceToString, type Json } from "../expressions/index.js";
import { RefusalError, UserError } from "../lib/errors.js";
import type { JobInvocation, Status } from "../runner/index.js";
import { revealSecrets } from "../secrets/index.js";
import type { Gate, Repo, Run } from "../store/index.js";
import { evaluateToken } from "../workflow/index.js";
import { type CiContext, ServerShutdown } from "./context.js";
import {
  describeReviewers,
  gateWaitsFor,
  type Reviewer,
  refRefusal,
  reviewRefusal,
  waitingReason,
} from "./environment-rules.js";
import { runsForkCode } from "./forks.js";

/** What a leg bound for an environment may do before it is queued. */
export type Admission =
  | { kind: "refused"; reason: string }
  | {
      kind: "admitted";
      name: string;
      /** The environment's own secrets (its scope and repository + its scope), over the run's. */
      secrets: Record<string, string>;
      vars: Record<string, string>;
      gate: Gate;
    };

export type GateOutcome =
  | { status: "approved" }
  /** The server is stopping: the leg stays waiting in the store and is waited for again at the next start. */
  | { status: "left" }
  | { status: Exclude<Status, "success">; reason: string };

/** Who started the run (`github.actor`): the one who may not approve it unless self-review is allowed. */
export function runActor(run: Run): string | undefined {
  const stored = run.event as { payload?: Record<string, any> } | null;
  const payload = (stored?.payload ?? stored ?? {}) as Record<string, any>;
  const login = payload.sender?.login;
  return typeof login === "string" ? login : (run.pullRequest?.author ?? undefined);
}

/** The `environment:` value's parts: a name, or `{ name, url }`. */
function environmentTokens(token: TemplateToken): { name?: TemplateToken; url?: TemplateToken } {
  if (!isMapping(token)) return { name: token };
  const out: { name?: TemplateToken; url?: TemplateToken } = {};
  for (const { key, value } of token) {
    if (isString(key) && (key.value === "name" || key.value === "url")) out[key.value] = value;
  }
  return out;
}

function contextsOf(inv: JobInvocation): Record<string, Json> {
  return {
    github: inv.github,
    needs: inv.needs as unknown as Json,
    strategy: inv.strategy,
    matrix: inv.matrix ?? {},
    inputs: inv.inputs,
    vars: inv.run.vars,
  };
}

export class EnvironmentGates {
  private readonly ctx: CiContext;
  private readonly now: () => number;
  private readonly waiters = new Map<number, Set<() => void>>();

  constructor(ctx: CiContext, now: () => number = Date.now) {
    this.ctx = ctx;
    this.now = now;
  }

  /** The environment's name for this leg, or undefined when the job has none. */
  nameOf(inv: JobInvocation): string | undefined {
    if (!inv.job.environment) return undefined;
    const { name } = environmentTokens(inv.job.environment);
    if (!name) throw new UserError(`job ${inv.job.id}: environment has no name`);
    const value = coerceToString(evaluateToken(name, { contexts: contextsOf(inv) })).trim();
    if (!value) throw new UserError(`job ${inv.job.id}: the environment's name is empty`);
    return value;
  }

  /**
   * Checks the leg's ref against the environment's rules and opens (or finds) the run's gate for it.
   * Undefined when the job has no environment.
   */
  async admit(run: Run, repo: Repo, inv: JobInvocation): Promise<Admission | undefined> {
    let name: string | undefined;
    try {
      name = this.nameOf(inv);
    } catch (err) {
      return { kind: "refused", reason: `cannot evaluate the environment: ${(err as Error).message}` };
    }
    if (name === undefined) return undefined;
    const store = this.ctx.store;
    const rules = await store.environments.get(repo.id, name);
    const refused = rules ? refRefusal(name, rules, run.ref) : undefined;
    if (refused) return { kind: "refused", reason: refused };
    const protectedEnv = !!rules && (rules.reviewers.length > 0 || rules.waitTimerS > 0);
    const now = this.now();
    const gate = await store.environments.openGate({
      runId: run.id,
      attempt: inv.run.runAttempt,
      environment: name,
      reviewers: rules?.reviewers ?? [],
      allowSelfReview: rules?.allowSelfReview ?? false,
      waitUntil: rules && rules.waitTimerS > 0 ? now + rules.waitTimerS * 1000 : null,
      status: protectedEnv ? "pending" : "approved",
      now,
    });
    return {
      kind: "admitted",
      name,
      secrets: await this.secretsOf(run, repo, name),
      vars: rules?.vars ?? {},
      gate,
    };
  }

  /** The secrets scoped to the environment (any repository's, then this one's), by name. */
  private async secretsOf(run: Run, repo: Repo, env: string): Promise<Record<string, string>> {
    const secrets = this.ctx.opts.secrets;
    // A fork's code gets no secret at all, an environment's included.
    if (!secrets || runsForkCode(run)) return {};
    const scoped = [
      ...(await secrets.list({ repo: null, env })),
      ...(await secrets.list({ repo: repo.name, env })),
    ].map((s) => s.name);
    const resolved = revealSecrets(await secrets.resolve({ repo: repo.name, env }));
    return Object.fromEntries(scoped.map((n) => [n, resolved[n]]).filter(([, v]) => v !== undefined));
  }

  /**
   * Waits at the gate until it lets the leg go (approved and its timer passed), it is rejected, or
   * the leg is cancelled. The run shows `waiting` while any of its gates holds a leg.
   */
  async pass(
    run: Run,
    gate: Gate,
    job: { id: number; jobKey: string },
    signal: AbortSignal,
  ): Promise<GateOutcome> {
    const store = this.ctx.store;
    let shown = "";
    let held = false;
    try {
      for (;;) {
        if (signal.aborted)
          return signal.reason instanceof ServerShutdown
            ? { status: "left" }
            : { status: "cancelled", reason: "the run was cancelled" };
        const g = (await store.environments.gate(gate.runId, gate.attempt, gate.environment)) ?? gate;
        if (g.status === "rejected")
          return {
            status: "failure",
            reason: `environment ${g.environment}: rejected by ${g.decidedBy}${g.reason ? `: ${g.reason}` : ""}`,
          };
        if (g.status === "cancelled") return { status: "cancelled", reason: "the run was cancelled" };
        const { approval, timerMs } = gateWaitsFor(g, this.now());
        if (!approval && timerMs === 0) {
          // Only the timer held it: it is passed as the timer's decision, not audited as anyone's.
          if (g.status === "pending")
            await store.environments.decide({
              gateId: g.id,
              status: "approved",
              actor: "wait timer",
              repo: "",
              audited: false,
            });
          return { status: "approved" };
        }
        // The job says what it waits for before the run shows `waiting`, so whoever sees the run
        // waiting sees who may approve.
        const reason = waitingReason(g, this.now());
        if (reason !== shown) {
          shown = reason;
          await store.jobs.update(job.id, { reason }, { ifStatus: ["waiting"] });
          this.ctx.emit({
            type: "job",
            runId: run.id,
            jobRowId: job.id,
            jobKey: job.jobKey,
            status: "waiting",
          });
        }
        if (!held) {
          held = true;
          await this.holdRun(run.id);
        }
        // Woken by a decision; the store is the truth (another server process, a missed wake-up).
        await this.sleep(g.id, Math.min(timerMs || 2000, 2000), signal);
      }
    } finally {
      if (held) await this.releaseRun(run.id, gate.attempt);
    }
  }

  private async holdRun(runId: number): Promise<void> {
    if (await this.ctx.store.runs.update(runId, { status: "waiting" }, { ifStatus: ["running", "queued"] }))
      this.ctx.emit({ type: "run", runId, status: "waiting", conclusion: null });
  }

  /** The run runs again once none of its gates holds a leg. */
  private async releaseRun(runId: number, attempt: number): Promise<void> {
    const pending = (await this.ctx.store.environments.gates(runId, attempt)).filter(
      (g) => g.status === "pending",
    );
    if (pending.length > 0) return;
    if (await this.ctx.store.runs.update(runId, { status: "running" }, { ifStatus: ["waiting"] }))
      this.ctx.emit({ type: "run", runId, status: "running", conclusion: null });
  }

  private sleep(gateId: number, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(gateId);
      if (!set) {
        set = new Set();
        this.waiters.set(gateId, set);
      }
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", wake);
        set!.delete(wake);
        if (set!.size === 0) this.waiters.delete(gateId);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener("abort", wake, { once: true });
      set.add(wake);
    });
  }

  private wake(gateId: number): void {
    for (const w of [...(this.waiters.get(gateId) ?? [])]) w();
  }

  /**
   * After the leg: its environment's URL. The one its runner evaluated at the job's end (with the
   * steps context, as GitHub's runner does) when it reported one; otherwise (an older runner, a leg
   * that never ran) evaluated here with what the server knows of the job, and no steps.
   */
  async recordUrl(
    inv: JobInvocation,
    gate: Gate,
    job: { id: number; status: Status; outputs: Record<string, string> },
  ) {
    const { url } = environmentTokens(inv.job.environment!);
    if (!url) return;
    const reported = (await this.ctx.store.jobReports.forJobs([job.id])).get(job.id)?.environmentUrl;
    let value: string;
    if (reported !== undefined) value = reported;
    else
      try {
        value = coerceToString(
          evaluateToken(url, {
            contexts: { ...contextsOf(inv), job: { status: job.status, outputs: job.outputs }, steps: {} },
          }),
        );
      } catch (err) {
        value = `(cannot evaluate the URL: ${(err as Error).message})`;
      }
    if (value) await this.ctx.store.environments.setUrl(gate.id, value.slice(0, 2048));
  }

  // --- reviewers ---

  /** The pending gates of the run's current attempt (one environment with `env`). */
  async pendingGates(run: Run, env?: string): Promise<Gate[]> {
    return (await this.ctx.store.environments.gates(run.id, run.attempt)).filter(
      (g) => g.status === "pending" && (env === undefined || g.environment === env),
    );
  }

  /**
   * Approves or rejects the run's pending gates (those of `env`, or all of them), after checking the
   * reviewer against each: a reviewer the rules refuse gets a 403 naming the rule. Audited per gate.
   */
  async decide(
    run: Run,
    repo: Repo,
    who: Reviewer,
    verb: "approve" | "reject",
    opts: { env?: string; reason?: string },
  ): Promise<Gate[]> {
    let gates = await this.pendingGates(run, opts.env);
    // Without --env, the decision is about the gates someone can decide: a gate held only by its wait
    // timer (no reviewers) is left to its timer rather than making the whole decision fail.
    const reviewed = gates.filter((g) => g.reviewers.length > 0);
    if (!opts.env && reviewed.length > 0) gates = reviewed;
    if (gates.length === 0) {
      const all = await this.pendingGates(run);
      throw new UserError(
        opts.env
          ? `run ${run.id} is not waiting for environment ${opts.env}${all.length ? ` (it waits for ${all.map((g) => g.environment).join(", ")})` : ""}`
          : `run ${run.id} is not waiting for an environment`,
      );
    }
    const triggeredBy = runActor(run);
    for (const g of gates) {
      const refusal = reviewRefusal(g, who, verb, triggeredBy);
      if (refusal) throw new RefusalError(403, refusal);
    }
    const decided: Gate[] = [];
    for (const g of gates) {
      const ok = await this.ctx.store.environments.decide({
        gateId: g.id,
        status: verb === "approve" ? "approved" : "rejected",
        actor: who.name,
        reason: opts.reason ?? null,
        repo: repo.name,
      });
      if (!ok) continue;
      this.ctx.log(
        `run ${run.id}: environment ${g.environment} ${verb === "approve" ? "approved" : "rejected"} by ${who.name}`,
      );
      this.wake(g.id);
      decided.push(g);
    }
    if (decided.length === 0) throw new UserError(`run ${run.id}: another reviewer decided first`);
    if (verb === "reject") {
      const reason = `environment ${decided.map((g) => g.environment).join(", ")} rejected by ${who.name}${opts.reason ? `: ${opts.reason}` : ""}`;
      await this.ctx.store.runs.update(run.id, { reason });
    }
    return decided;
  }

  /** A cancelled run's gates close, so nothing resumes them after a restart. */
  async cancelGates(runId: number): Promise<void> {
    for (const g of await this.ctx.store.environments.gates(runId)) {
      if (g.status !== "pending") continue;
      await this.ctx.store.environments.decide({
        gateId: g.id,
        status: "cancelled",
        actor: "cancel",
        repo: "",
        audited: false,
      });
      this.wake(g.id);
    }
  }

  /** Who may approve, for `runs show`: "role deployer or token alice". */
  static reviewersOf(gate: Gate): string {
    return describeReviewers(gate.reviewers);
  }
}
