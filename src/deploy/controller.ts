// The deployer of one application environment: it owns the routers, knows every instance it started,
// runs deploys and rollbacks through the strategies, keeps the instances alive (self-healing), and on
// start re-adopts what an earlier slipway left running and converges it to the last good release.
//
// Invariants:
// - one deploy per environment at a time: in this process (`active`) and across processes (the store's
//   deploy lock, renewed while the deploy runs);
// - nothing running is touched before every changed service is prepared (images present, secrets found);
// - a failed deploy leaves the previous release serving: the failing service's strategy restores itself,
//   the services already rolled out are reverted, the record says `failed` with the reason;
// - a deploy interrupted by a crash is recorded as failed and rolled back when the deployer starts again;
// - traffic is never pointed at a version without ready instances (routes are renormalised on every
//   change; all-zero is only ever asked for by recreate).
import type { Release } from "../store/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import type { Router } from "../traffic/index.js";
import { applyDeploy } from "./apply.js";
import { type Converged, converge } from "./converge.js";
import { CanaryAborted } from "./errors.js";
import { stopInstance } from "./instances.js";
import { DeployMasker } from "./masking.js";
import { Monitor } from "./monitor.js";
import type { ReleaseDocument } from "./plan.js";
import { DeployContext, type DeployerOptions, type DeployProgress, type DeployRequest } from "./state.js";

export type { ReleaseDocument } from "./plan.js";
export { effectiveWeights } from "./routing.js";
export type {
  DeployerOptions,
  DeployNotice,
  DeployProgress,
  DeployRequest,
  SecretResolver,
} from "./state.js";

export class Deployer {
  readonly app: string;
  readonly env: string;
  /** Every secret value this deployer resolved: masked in all it stores, streams, logs, tells and throws. */
  readonly masker = new DeployMasker();
  readonly #ctx: DeployContext;
  readonly #monitor: Monitor;
  #queue: Promise<unknown> = Promise.resolve();
  /** Deploys and rollbacks accepted and not yet finished (running or waiting their turn). */
  #queued = 0;

  constructor(options: DeployerOptions) {
    this.#ctx = new DeployContext(options, this.masker);
    this.#monitor = new Monitor(this.#ctx);
    this.app = options.app;
    this.env = options.env;
  }

  /**
   * Marks deploys a crash interrupted as failed, adopts the running instances of the current release,
   * replaces what is missing, stops what does not belong, and starts the monitor.
   */
  async start(): Promise<Converged> {
    const converged = await converge(this.#ctx);
    this.#monitor.start(this.#ctx.o.monitorIntervalMs ?? 1000);
    return converged;
  }

  // Deploy ----------------------------------------------------------------------------------------------

  /** Rolls the spec out; resolves with the finished release (succeeded, or failed after rolling back). */
  async deploy(request: DeployRequest, onEvent?: (e: DeployProgress) => void): Promise<Release> {
    return this.exclusive(request.wait ?? false, () => applyDeploy(this.#ctx, request, onEvent));
  }

  /** Deploys an earlier release's spec and images again (default: the one before the current). */
  async rollback(
    request: { to?: number; actor: string; trigger: string; wait?: boolean },
    onEvent?: (e: DeployProgress) => void,
  ): Promise<Release> {
    return this.exclusive(request.wait ?? false, async () => {
      const { store } = this.#ctx.o;
      const current = await store.releases.current(this.app, this.env);
      if (!current)
        throw new UserError(`${this.app}/${this.env} has no successful release to roll back from`);
      let target: Release | undefined;
      if (request.to !== undefined) {
        target = await store.releases.byNumber(this.app, this.env, request.to);
        if (!target) throw new UserError(`${this.app}/${this.env} has no release #${request.to}`);
        if (target.status !== "succeeded")
          throw new UserError(
            `release #${request.to} ${target.status.replace("_", " ")}; only a release that succeeded can be rolled back to`,
          );
      } else {
        const earlier = await store.releases.list({
          app: this.app,
          env: this.env,
          status: "succeeded",
          limit: 50,
        });
        target = earlier.find((r) => r.number < current.number && differs(r, current));
        if (!target)
          throw new UserError(`${this.app}/${this.env} has no earlier successful release to roll back to`);
      }
      if (target.id === current.id)
        throw new UserError(`release #${target.number} is already the current release`);
      const doc = target.spec as ReleaseDocument;
      return applyDeploy(
        this.#ctx,
        {
          spec: doc.spec,
          version: target.version ?? undefined,
          trigger: request.trigger,
          actor: request.actor,
        },
        onEvent,
        {
          kind: "rollback",
          rollbackOf: target.number,
          revisions: doc.revisions,
          images: target.images as Record<string, { image?: string; digest?: string }>,
        },
      );
    });
  }

  /** Resumes a paused canary to full rollout. */
  promote(): { release: number } {
    const a = this.#ctx.active;
    if (!a) throw new UserError(`no deploy of ${this.app}/${this.env} is in progress`);
    if (a.command) a.command("promote");
    else a.pendingCommand = "promote";
    return { release: a.release.number };
  }

  /** Stops the deploy in progress and rolls it back. */
  abort(): { release: number } {
    const a = this.#ctx.active;
    if (!a) throw new UserError(`no deploy of ${this.app}/${this.env} is in progress`);
    a.abortedByUser = true;
    if (a.command) a.command("abort");
    else a.pendingCommand = "abort";
    a.abort.abort(new CanaryAborted(`release #${a.release.number} aborted (slipway abort)`));
    return { release: a.release.number };
  }

  private async exclusive<T>(wait: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.#ctx.closed) throw new OperationError("the deployer is shutting down");
    if (this.#ctx.active && !wait)
      throw new OperationError(
        `a deploy of ${this.app}/${this.env} is in progress (release #${this.#ctx.active.release.number} by ${this.#ctx.active.release.actor}); wait for it, use --wait, or slipway abort`,
      );
    const masked = () =>
      fn().catch((err: unknown) => {
        throw this.masker.error(err);
      });
    this.#queued++;
    const run = this.#queue.then(masked, masked).finally(() => {
      this.#queued--;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  // Status and shutdown -----------------------------------------------------------------------------------

  async status() {
    const current = await this.#ctx.o.store.releases.current(this.app, this.env);
    const a = this.#ctx.active;
    return {
      app: this.app,
      env: this.env,
      runtime: this.#ctx.o.runtime.kind,
      current: current
        ? {
            number: current.number,
            version: current.version,
            finishedAt: current.finishedAt,
            actor: current.actor,
          }
        : null,
      active: a ? { number: a.release.number, actor: a.release.actor, startedAt: a.release.startedAt } : null,
      services: [...this.#ctx.services.values()].map((s) => {
        const cfg = s.router?.config();
        return {
          name: s.name,
          revision: s.revision ?? null,
          replicas: s.spec?.replicas ?? 0,
          router: s.router
            ? { url: s.router.url, weights: cfg?.routes?.weights ?? {}, rules: cfg?.routes?.rules ?? [] }
            : null,
          instances: [...this.#ctx.instances.values()]
            .filter((m) => m.service === s.name)
            .map((m) => ({
              id: m.id,
              revision: m.revision,
              state: m.state,
              healthy: m.healthy,
              address: m.info.address ? `${m.info.address.host}:${m.info.address.port}` : null,
              ref: m.info.ref,
              startedAt: m.info.startedAt,
              keptUntil: m.keptUntil ?? null,
              lastProbe: m.lastProbe === undefined ? null : this.masker.mask(m.lastProbe),
            })),
        };
      }),
    };
  }

  /** Stops the monitor and routers; with `stopInstances` also every instance (`slipway down`). */
  async close(options: { stopInstances?: boolean } = {}) {
    this.#ctx.closed = true;
    this.#monitor.stop();
    this.#ctx.active?.abort.abort(new OperationError("slipway is shutting down"));
    await this.#queue.catch(() => {});
    if (options.stopInstances) {
      for (const s of this.#ctx.services.values()) s.weights = {};
      // Everything stops: requests in flight get a short grace, not each service's full drain timeout.
      await Promise.all(
        [...this.#ctx.instances.values()].map((m) => stopInstance(this.#ctx, m, true, undefined, 5000)),
      );
      const rest = await this.#ctx.o.runtime.list({ app: this.app, env: this.env }).catch(() => []);
      await Promise.all(
        rest.map((i) => this.#ctx.o.runtime.stop(i.id, { timeoutMs: 10_000 }).catch(() => {})),
      );
      await this.#ctx.o.runtime.cleanup?.({ app: this.app, env: this.env }).catch(() => {});
    }
    for (const m of this.#ctx.instances.values()) clearTimeout(m.keepTimer);
    await Promise.all([...this.#ctx.services.values()].map((s) => s.router?.close({ timeoutMs: 5000 })));
  }

  /**
   * Nothing to keep an agent alive for: no deploy in progress or queued, no instance it supervises
   * (running, starting or kept) and none being replaced. A router with no instance behind it only
   * answers 503; an agent that holds routers for running instances is never idle.
   */
  idle(): boolean {
    return (
      this.#ctx.active === undefined &&
      this.#queued === 0 &&
      this.#ctx.instances.size === 0 &&
      ![...this.#ctx.services.values()].some((s) => s.busy || s.healing)
    );
  }

  /** The routers of the routed services (for /metrics). */
  routers(): Router[] {
    return [...this.#ctx.services.values()].flatMap((s) => (s.router ? [s.router] : []));
  }
}

/** Whether two releases run different things: a service's spec, image/snapshot or secrets differ. */
function differs(a: Release, b: Release): boolean {
  const ha = (a.spec as ReleaseDocument | undefined)?.hashes;
  const hb = (b.spec as ReleaseDocument | undefined)?.hashes;
  if (!ha || !hb) return a.specHash !== b.specHash;
  const keys = new Set([...Object.keys(ha), ...Object.keys(hb)]);
  return [...keys].some((k) => ha[k] !== hb[k]);
}
