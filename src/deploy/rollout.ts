// One service's rollout: the adapter a strategy drives (ServiceRollout: starting with health gating,
// routing, draining, keeping, the canary's figures and commands, all on the deployer's state), the
// pre/post-deploy hooks around the strategy, and the revert to the previous revision.
import { randomBytes } from "node:crypto";
import { OperationError } from "../lib/errors.js";
import type { RouteRule } from "../traffic/index.js";
import type { Emit } from "./events.js";
import { instanceEnv, removeService, reviveKept, startInstance, stopInstance } from "./instances.js";
import { formatWeights, settle, syncRouter } from "./routing.js";
import type { ActiveDeploy, DeployContext, Managed, ServiceState } from "./state.js";
import { strategies } from "./strategies/index.js";
import type { CanaryFigures, Member, Rollout } from "./strategies/types.js";
import type { ServiceSpec } from "./types.js";
import { lastLines } from "./util.js";

type Previous = { spec: ServiceSpec; revision: string };

/** The Rollout a strategy drives for one service. */
export class ServiceRollout implements Rollout {
  readonly service: ServiceSpec;
  readonly revision: string;
  readonly previous: Previous | undefined;
  readonly signal: AbortSignal;
  readonly #ctx: DeployContext;
  readonly #state: ServiceState;
  readonly #active: ActiveDeploy;
  readonly #emit: Emit;

  constructor(
    ctx: DeployContext,
    state: ServiceState,
    spec: ServiceSpec,
    revision: string,
    previous: Previous | undefined,
    active: ActiveDeploy,
    emit: Emit,
  ) {
    this.#ctx = ctx;
    this.#state = state;
    this.#active = active;
    this.#emit = emit;
    this.service = spec;
    this.revision = revision;
    this.previous = previous;
    this.signal = active.abort.signal;
  }

  members(revision: string): Member[] {
    return this.#ctx.members(this.service.name, revision).map((m) => ({ id: m.id, revision: m.revision }));
  }

  async start(count: number, which: "new" | "previous" = "new"): Promise<Member[]> {
    const rev = which === "new" ? this.revision : this.previous!.revision;
    // Going back to the previous revision must not be stopped by the abort that caused it.
    const sig = which === "new" ? this.signal : undefined;
    const results = await Promise.allSettled(
      Array.from({ length: count }, () =>
        startInstance(this.#ctx, this.#state, rev, "deploy", sig, this.#emit),
      ),
    );
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const bad = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (bad) {
      await Promise.all(ok.map((m) => stopInstance(this.#ctx, m, true)));
      throw bad.reason;
    }
    return ok.map((m) => ({ id: m.id, revision: m.revision }));
  }

  async route(weights: Record<string, number>, rules?: RouteRule[]): Promise<void> {
    const state = this.#state;
    const same =
      JSON.stringify(state.weights) === JSON.stringify(weights) &&
      JSON.stringify(state.rules) === JSON.stringify(rules ?? []);
    state.weights = { ...weights };
    state.rules = rules ?? [];
    syncRouter(this.#ctx, state);
    await settle(state.router);
    if (state.router && !same)
      this.#emit(
        "route",
        `${this.service.name}: ${formatWeights(weights)}`,
        { weights, rules: rules ?? [] },
        "info",
        this.service.name,
      );
  }

  async retire(members: Member[]): Promise<void> {
    const list = members
      .map((m) => this.#ctx.instances.get(m.id))
      .filter((m): m is Managed => m !== undefined);
    await Promise.all(list.map((m) => stopInstance(this.#ctx, m, true, this.#emit)));
  }

  keep(members: Member[], ms: number): void {
    for (const mem of members) {
      const m = this.#ctx.instances.get(mem.id);
      if (!m) continue;
      m.state = "kept";
      m.keptUntil = Date.now() + ms;
      m.keepTimer = setTimeout(() => {
        if (m.state === "kept") void stopInstance(this.#ctx, m, true);
      }, ms);
      m.keepTimer.unref();
    }
    syncRouter(this.#ctx, this.#state);
  }

  emit(type: string, message: string, data?: unknown, level?: "info" | "warn" | "error"): void {
    const name = this.service.name;
    this.#emit(type, `${name}: ${message}`, data, level ?? "info", name);
  }

  figures(): CanaryFigures {
    const w = this.#state.router?.stats(this.revision).window;
    if (!w) return { requests: 0, errors: 0, errorRate: 0, p99: null };
    const errors = w.errors5xx + w.failed;
    return {
      requests: w.requests,
      errors,
      errorRate: w.requests ? errors / w.requests : 0,
      p99: w.latency.p99,
    };
  }

  waitForCommand(ms: number | undefined): Promise<"promote" | "abort" | "elapsed"> {
    const active = this.#active;
    const { signal } = this;
    const releases = this.#ctx.o.store.releases;
    return new Promise((resolve) => {
      if (active.pendingCommand) {
        const c = active.pendingCommand;
        active.pendingCommand = undefined;
        return resolve(c);
      }
      // Held until someone decides: the record says paused meanwhile.
      if (ms === undefined) void releases.update(active.release.id, { status: "paused" }).catch(() => {});
      const timer = ms === undefined ? undefined : setTimeout(() => finish("elapsed"), ms);
      // A shutdown or abort must not wait for a pause to end.
      const onAbort = () => finish("abort");
      const finish = (c: "promote" | "abort" | "elapsed") => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        active.command = undefined;
        if (ms === undefined) void releases.update(active.release.id, { status: "running" }).catch(() => {});
        resolve(c);
      };
      if (signal.aborted) return finish("abort");
      signal.addEventListener("abort", onAbort, { once: true });
      active.command = finish;
    });
  }

  async warmUp(members: Member[], path: string, requests: number): Promise<void> {
    await Promise.all(
      members.map(async (mem) => {
        const m = this.#ctx.instances.get(mem.id);
        if (!m?.info.address) return;
        const url = `http://${m.info.address.host}:${m.info.address.port}${path}`;
        for (let i = 0; i < requests; i++) {
          const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
          await res?.arrayBuffer().catch(() => {});
        }
      }),
    );
  }
}

/** preDeploy hook → strategy → postDeploy hook for one service; the strategy undoes its own partial work. */
export async function rolloutService(
  ctx: DeployContext,
  state: ServiceState,
  spec: ServiceSpec,
  revision: string,
  image: string | undefined,
  from: Previous | undefined,
  active: ActiveDeploy,
  emit: Emit,
) {
  state.busy = true;
  try {
    state.specs.set(revision, spec);
    state.images.set(revision, image ?? spec.image);
    if (spec.hooks.preDeploy)
      await runHook(ctx, state, spec, revision, "pre-deploy", active.abort.signal, emit);
    emit(
      "service.rollout",
      `${spec.name}: ${spec.strategy.type} ${from ? `${from.revision} → ` : ""}${revision}`,
      undefined,
      "info",
      spec.name,
    );
    const rollout = new ServiceRollout(ctx, state, spec, revision, from, active, emit);
    if (reviveKept(ctx, spec.name, revision) >= spec.replicas) {
      // Blue-green kept this revision's set idle: going back to it is one router swap.
      await rollout.route({ [revision]: 100 });
      emit(
        "service.switch",
        `${spec.name}: switched back to the kept instances of ${revision}`,
        undefined,
        "info",
        spec.name,
      );
      if (from) await rollout.retire(rollout.members(from.revision));
    } else await strategies[spec.strategy.type](rollout);
    state.revision = revision;
    state.spec = spec;
    if (spec.hooks.postDeploy) {
      try {
        await runHook(ctx, state, spec, revision, "post-deploy", active.abort.signal, emit);
      } catch (err) {
        // The new revision serves already: put the old one back before reporting the failure.
        await revertService(ctx, spec.name, from, emit, active);
        throw err;
      }
    }
    await settle(state.router);
    emit(
      "service.done",
      `${spec.name}: ${revision} serves (${ctx.members(spec.name, revision).length} instance(s))`,
      undefined,
      "info",
      spec.name,
    );
  } finally {
    state.busy = false;
  }
}

async function runHook(
  ctx: DeployContext,
  state: ServiceState,
  spec: ServiceSpec,
  revision: string,
  which: "pre-deploy" | "post-deploy",
  signal: AbortSignal,
  emit: Emit,
) {
  const hook = which === "pre-deploy" ? spec.hooks.preDeploy! : spec.hooks.postDeploy!;
  emit(
    `hook.${which}`,
    `${spec.name}: running the ${which} hook: ${hook.command.join(" ")}`,
    undefined,
    "info",
    spec.name,
  );
  const { env } = await instanceEnv(ctx, spec, revision, `${spec.name}-${which}`);
  const result = await ctx.o.runtime.runTask({
    id: `${spec.name}-${which}-${revision}-${randomBytes(2).toString("hex")}`,
    service: spec,
    labels: {
      app: ctx.app,
      env: ctx.env,
      service: spec.name,
      release: revision,
      instance: `${spec.name}-${which}`,
    },
    command: hook.command,
    env: { ...env, ...hook.env },
    image: hook.image ?? state.images.get(revision),
    timeoutMs: hook.timeoutMs,
    signal,
  });
  if (result.exitCode !== 0 || result.timedOut)
    throw new OperationError(
      `${spec.name}: the ${which} hook ${result.timedOut ? `timed out after ${hook.timeoutMs} ms` : `exited with ${result.exitCode}`}:\n${lastLines(result.output, 20)}`,
    );
  emit(
    `hook.${which}.done`,
    `${spec.name}: ${which} hook passed`,
    { output: lastLines(result.output, 5) },
    "info",
    spec.name,
  );
}

/** Puts a service back on `from` (blue-green's kept set: one swap; otherwise a rolling replacement). */
export async function revertService(
  ctx: DeployContext,
  name: string,
  from: Previous | undefined,
  emit: Emit,
  active: ActiveDeploy,
) {
  const state = ctx.services.get(name);
  if (!state) return;
  const now = state.revision;
  state.busy = true;
  try {
    if (!from) {
      emit("rollback.service", `${name}: first deploy failed, stopping it`, undefined, "warn", name);
      await removeService(ctx, name);
      return;
    }
    emit("rollback.service", `${name}: back to ${from.revision}`, undefined, "warn", name);
    reviveKept(ctx, name, from.revision);
    if (now && now !== from.revision) {
      const spec = { ...from.spec, strategy: { type: "rolling" as const, maxSurge: 1, maxUnavailable: 0 } };
      const r = new ServiceRollout(
        ctx,
        state,
        spec,
        from.revision,
        { spec: state.spec!, revision: now },
        { release: active.release, abort: new AbortController() },
        emit,
      );
      if (ctx.members(name, from.revision).length >= from.spec.replicas) {
        await r.route({ [from.revision]: 100 });
        await r.retire(r.members(now));
      } else await strategies.rolling(r);
    }
    state.revision = from.revision;
    state.spec = from.spec;
    await settle(state.router);
  } finally {
    state.busy = false;
  }
}
