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
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { delimiter, join } from "node:path";
import { OperationError, UserError } from "../lib/errors.js";
import type { Release, Store } from "../store/index.js";
import {
  createHaproxyRouter,
  createRouter,
  type Router,
  type RouteRule,
  unroutedVersion,
  type VersionStats,
} from "../traffic/index.js";
import { probeInstance, waitReady } from "./health.js";
import { DeployMasker } from "./masking.js";
import {
  type CurrentRelease,
  type ImageRef,
  type LiveState,
  planDeploy,
  type ReleaseDocument,
} from "./plan.js";
import { specHash, startLevels } from "./spec.js";
import { strategies } from "./strategies/index.js";
import { CanaryAborted, HealthError, type Member, type Rollout, weightsByCount } from "./strategies/types.js";
import type { DeployPhase, DeploySpec, InstanceInfo, Runtime, ServiceSpec, StrategyName } from "./types.js";

export type { ReleaseDocument } from "./plan.js";

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

type InstanceState = "starting" | "ready" | "kept" | "draining";

type Managed = {
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

type ServiceState = {
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

type ActiveDeploy = {
  release: Release;
  abort: AbortController;
  /** `slipway abort` (recorded as aborted, not failed). */
  abortedByUser?: boolean;
  command?: (c: "promote" | "abort") => void;
  pendingCommand?: "promote" | "abort";
};

class Semaphore {
  private free: number;
  private waiters: (() => void)[] = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  resize(n: number) {
    this.free += Math.max(1, n) - this.size;
    this.size = Math.max(1, n);
    while (this.free > 0 && this.waiters.length > 0) {
      this.free--;
      this.waiters.shift()!();
    }
  }
  size = 1;
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          this.waiters = this.waiters.filter((w) => w !== go);
          reject(signal!.reason);
        };
        this.waiters.push(go);
        signal?.addEventListener("abort", stop, { once: true });
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}

const revisionOf = (release: { number: number }) => `r${release.number}`;

/** The current release as a plan reads it. */
function currentOf(release: Release): CurrentRelease {
  return {
    number: release.number,
    version: release.version,
    doc: release.spec as ReleaseDocument,
    images: release.images as Record<string, ImageRef>,
  };
}

export class Deployer {
  readonly app: string;
  readonly env: string;
  private readonly o: DeployerOptions;
  private readonly services = new Map<string, ServiceState>();
  private readonly instances = new Map<string, Managed>();
  private readonly slots = new Semaphore(2);
  private active: ActiveDeploy | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private monitor: NodeJS.Timeout | undefined;
  private closed = false;
  private current: ReleaseDocument | undefined;
  private currentRelease: Release | undefined;
  private readonly secretCache = new Map<string, Record<string, string>>();
  /** Deploys and rollbacks accepted and not yet finished (running or waiting their turn). */
  private queued = 0;
  /** Every secret value this deployer resolved: masked in all it stores, streams, logs, tells and throws. */
  readonly masker = new DeployMasker();

  constructor(options: DeployerOptions) {
    const masker = this.masker;
    // The one point where a deploy's text leaves the deployer: the store it writes through, its notices
    // and its log. Events (EventLog) and thrown errors (exclusive) are masked on their way out too.
    this.o = {
      ...options,
      store: masker.store(options.store),
      notify: options.notify && ((n) => options.notify!(masker.redact(n))),
      log: options.log && ((line) => options.log!(masker.mask(line))),
    };
    this.app = options.app;
    this.env = options.env;
  }

  // Start: recovery, re-adoption, convergence ---------------------------------------------------------

  /**
   * Marks deploys a crash interrupted as failed, adopts the running instances of the current release,
   * replaces what is missing, stops what does not belong, and starts the monitor.
   */
  async start(): Promise<{ adopted: number; started: number; stopped: number; interrupted: number[] }> {
    const { store } = this.o;
    const interrupted: number[] = [];
    for (const r of await store.releases.unfinished({ app: this.app, env: this.env })) {
      const ok = await store.releases.finish(r.id, "failed", {
        error: "interrupted: slipway stopped during this deploy",
        phase: "rolled back on restart" satisfies DeployPhase,
      });
      if (ok) {
        interrupted.push(r.number);
        await store.releases.addEvent(r.id, {
          level: "error",
          type: "deploy.interrupted",
          message:
            "slipway stopped during this deploy; on restart it was rolled back to the last successful release",
        });
        const done = await store.releases.get(r.id);
        if (done)
          this.o.notify?.({
            type: "deploy.rolled_back",
            release: done,
            strategy: done.strategy as Record<string, StrategyName>,
            config: (done.spec as ReleaseDocument | undefined)?.notify,
          });
      }
    }
    const current = await store.releases.current(this.app, this.env);
    const doc = current ? (current.spec as ReleaseDocument) : undefined;
    this.current = doc;
    this.currentRelease = current;
    // The current release's secrets are registered with the masker before any probe or crash of an
    // adopted instance can be recorded (those instances were started by an earlier process).
    if (doc?.spec.services.some((x) => x.secrets.length > 0))
      await this.resolveSecrets(doc.spec.services).catch((err) =>
        this.log(`secrets of the current release: ${describe(err)}`),
      );
    const found = await this.o.runtime.list({ app: this.app, env: this.env });
    let adopted = 0;
    let started = 0;
    let stopped = 0;
    const keep = new Set<string>();
    if (doc) {
      this.slots.resize(doc.spec.maxStarting);
      this.routerKind = doc.spec.router ?? "auto";
      for (const level of startLevels(doc.spec)) {
        await Promise.all(
          level.map(async (name) => {
            const spec = doc.spec.services.find((s) => s.name === name)!;
            const revision = doc.revisions[name];
            const s = await this.serviceState(spec);
            s.revision = revision;
            s.spec = spec;
            s.specs.set(revision, spec);
            s.images.set(
              revision,
              (current!.images[name] as { image?: string } | undefined)?.image ?? spec.image,
            );
            const mine = found.filter(
              (i) => i.labels.service === name && i.labels.release === revision && i.running,
            );
            for (const info of mine.slice(0, spec.replicas)) {
              const probe = await probeInstance(spec.health, info, this.o.runtime);
              if (!probe.ok) continue;
              this.instances.set(info.id, this.managed(await resolveAddress(info), "ready"));
              keep.add(info.id);
              adopted++;
            }
            const missing = spec.replicas - this.members(name, revision).length;
            for (let i = 0; i < missing; i++) {
              try {
                await this.startInstance(s, revision, "converge");
                started++;
              } catch (err) {
                this.log(`converge: ${name}: ${(err as Error).message}`);
              }
            }
            s.weights = { [revision]: 100 };
            this.syncRouter(s);
            await settle(s.router);
          }),
        );
      }
    }
    for (const info of found) {
      if (keep.has(info.id)) continue;
      if (this.instances.has(info.id)) continue;
      await this.o.runtime.stop(info.id, { timeoutMs: 10_000 }).catch(() => {});
      stopped++;
    }
    this.monitor = setInterval(() => void this.tick(), this.o.monitorIntervalMs ?? 1000);
    this.monitor.unref();
    return { adopted, started, stopped, interrupted };
  }

  // Deploy ----------------------------------------------------------------------------------------------

  /** Rolls the spec out; resolves with the finished release (succeeded, or failed after rolling back). */
  async deploy(request: DeployRequest, onEvent?: (e: DeployProgress) => void): Promise<Release> {
    return this.exclusive(request.wait ?? false, () => this.applyDeploy(request, onEvent));
  }

  /** Deploys an earlier release's spec and images again (default: the one before the current). */
  async rollback(
    request: { to?: number; actor: string; trigger: string; wait?: boolean },
    onEvent?: (e: DeployProgress) => void,
  ): Promise<Release> {
    return this.exclusive(request.wait ?? false, async () => {
      const { store } = this.o;
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
      return this.applyDeploy(
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
    const a = this.active;
    if (!a) throw new UserError(`no deploy of ${this.app}/${this.env} is in progress`);
    if (a.command) a.command("promote");
    else a.pendingCommand = "promote";
    return { release: a.release.number };
  }

  /** Stops the deploy in progress and rolls it back. */
  abort(): { release: number } {
    const a = this.active;
    if (!a) throw new UserError(`no deploy of ${this.app}/${this.env} is in progress`);
    a.abortedByUser = true;
    if (a.command) a.command("abort");
    else a.pendingCommand = "abort";
    a.abort.abort(new CanaryAborted(`release #${a.release.number} aborted (slipway abort)`));
    return { release: a.release.number };
  }

  private async exclusive<T>(wait: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new OperationError("the deployer is shutting down");
    if (this.active && !wait)
      throw new OperationError(
        `a deploy of ${this.app}/${this.env} is in progress (release #${this.active.release.number} by ${this.active.release.actor}); wait for it, use --wait, or slipway abort`,
      );
    const masked = () =>
      fn().catch((err: unknown) => {
        throw this.masker.error(err);
      });
    this.queued++;
    const run = this.queue.then(masked, masked).finally(() => {
      this.queued--;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async applyDeploy(
    request: DeployRequest,
    onEvent: ((e: DeployProgress) => void) | undefined,
    rollback?: {
      kind: "rollback";
      rollbackOf: number;
      revisions: Record<string, string>;
      /** The target release's images: for process services, the snapshot they ran from. */
      images: Record<string, { image?: string; digest?: string }>;
    },
  ): Promise<Release> {
    const { store, runtime } = this.o;
    // The app name comes from the repository's own slipway.yaml: only the repository that owns the app
    // environment may deploy it (and so receive its secrets). The server checks this too; here it holds
    // for every caller of the agent that names a repository.
    if (request.repo !== undefined) {
      const owner = await store.deployApps.get(this.app, this.env);
      if (owner?.repo !== request.repo)
        throw new UserError(
          owner
            ? `${this.app}/${this.env} belongs to repository ${owner.repo}; a deploy from ${request.repo} is refused (an admin can rebind it)`
            : `${this.app}/${this.env} is bound to no repository; a deploy from ${request.repo} must go through the server, which binds it`,
        );
    }
    const current = await store.releases.current(this.app, this.env);
    const planned = current ? currentOf(current) : undefined;
    // The plan before preparing: the whole desired spec, what goes away, the strategies. Which services
    // change and to what revision is planned again once preparing has found images and secrets.
    const draft = planDeploy(planned, { spec: request.spec, only: request.only, revision: "next" });
    const merged = draft.spec;
    const strategyOf = draft.strategy;
    const selected = new Set(Object.keys(draft.strategy));

    const holder = this.o.holder;
    const release = await store.releases.create({
      app: this.app,
      env: this.env,
      kind: rollback ? "rollback" : "deploy",
      rollbackOf: rollback?.rollbackOf,
      version: request.version,
      strategy: strategyOf,
      specHash: specHash(merged),
      spec: {
        spec: merged,
        revisions: {},
        hashes: {},
        changed: [],
        notify: request.notify,
      } satisfies ReleaseDocument,
      images: {},
      trigger: request.trigger,
      actor: request.actor,
      phase: "locking" satisfies DeployPhase,
    });
    const tell = (type: DeployNotice["type"], r: Release) =>
      this.o.notify?.({
        type,
        release: r,
        strategy: strategyOf,
        previousVersion: current?.version ?? undefined,
        config: request.notify,
      });
    const abort = new AbortController();
    const active: ActiveDeploy = { release, abort };
    this.active = active;
    const emitter = new EventLog(store, release, onEvent, (l) => this.log(l), this.masker);
    const emit = emitter.emit;
    let renew: NodeJS.Timeout | undefined;
    try {
      // The lock across processes (another agent, the server) — taken or refused before anything else.
      const ttl = this.o.lockTtlMs ?? 30_000;
      for (;;) {
        const lock = await store.deployLocks.acquire({
          app: this.app,
          env: this.env,
          holder,
          ttlMs: ttl,
          releaseId: release.id,
        });
        if (lock.acquired) break;
        if (!request.wait)
          throw new OperationError(
            `${this.app}/${this.env} is locked by ${lock.holder} (release ${lock.releaseId ?? "?"}, since ${new Date(lock.acquiredAt).toISOString()}); retry with --wait`,
          );
        emit("lock.wait", `waiting for ${lock.holder} to finish its deploy`);
        await sleep(1000, abort.signal);
      }
      renew = setInterval(() => {
        void store.deployLocks.renew({ app: this.app, env: this.env, holder, ttlMs: ttl }).catch(() => {});
      }, ttl / 3);
      renew.unref();
      emit(
        "deploy.started",
        `release #${release.number} of ${this.app}/${this.env}${request.version ? ` (${request.version})` : ""} by ${request.actor}`,
      );
      tell("deploy.started", release);

      // Prepare everything before touching anything. Secrets are read afresh: a `secret set` since the
      // last deploy changes the hash and so rolls the service out.
      await this.phase(release, "preparing");
      this.secretCache.clear();
      this.routerKind = merged.router ?? "auto";
      const images: Record<string, { image?: string; digest?: string }> = {};
      for (const s of merged.services) {
        if (!selected.has(s.name)) {
          const carried = current?.images[s.name];
          if (carried) images[s.name] = carried as { image?: string; digest?: string };
          continue;
        }
        emit("prepare", `preparing ${s.name}${s.image ? ` (${s.image})` : ""}`, undefined, "info", s.name);
        // A rollback runs a process service from the very snapshot the target release ran from.
        const pinned = rollback?.images[s.name];
        if (s.runtime === "process" && pinned?.image) {
          if (existsSync(pinned.image)) {
            images[s.name] = pinned;
            continue;
          }
          emit(
            "prepare.snapshot-gone",
            `${s.name}: the snapshot release #${rollback!.rollbackOf} ran from was pruned; deploying its spec with the current files`,
            undefined,
            "warn",
            s.name,
          );
        }
        images[s.name] = await runtime.prepare(s, abort.signal);
      }
      const secretValues = await this.resolveSecrets(merged.services.filter((s) => selected.has(s.name)));
      // Routers for newly published ports: a port in use fails here, before any instance is touched.
      for (const s of merged.services) if (selected.has(s.name)) await this.serviceState(s);
      const plan = planDeploy(
        planned,
        {
          spec: request.spec,
          only: request.only,
          revision: revisionOf(release),
          rollbackRevisions: rollback?.revisions,
          prepared: { images, secrets: secretValues },
        },
        this.liveState(),
      );
      const { revisions, hashes, changed, removed } = plan;
      const doc: ReleaseDocument = { spec: merged, revisions, hashes, changed, notify: request.notify };
      await store.releases.update(release.id, {
        images,
        phase: "rolling out" satisfies DeployPhase,
        spec: doc,
      });
      this.slots.resize(merged.maxStarting);
      if (changed.length === 0)
        emit("deploy.unchanged", "nothing changed: every service already runs this spec");

      const baseline = this.snapshotStats();
      const done: { name: string; from?: { spec: ServiceSpec; revision: string } }[] = [];
      try {
        for (const level of startLevels(merged)) {
          const inLevel = level.filter((n) => changed.includes(n));
          const results = await Promise.allSettled(
            inLevel.map(async (name) => {
              const spec = merged.services.find((s) => s.name === name)!;
              const state = await this.serviceState(spec);
              const from =
                state.revision && state.spec ? { spec: state.spec, revision: state.revision } : undefined;
              await this.rolloutService(
                state,
                spec,
                revisions[name],
                images[name]?.image,
                from,
                active,
                emit,
              );
              done.push({ name, from });
            }),
          );
          const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
          if (failed) throw failed.reason;
        }
        for (const s of removed) {
          emit(
            "service.removed",
            `${s.name} is no longer in the spec: stopping it`,
            undefined,
            "info",
            s.name,
          );
          await this.removeService(s.name);
        }
      } catch (err) {
        const reason = describe(err);
        emit(
          "deploy.failed",
          reason,
          err instanceof HealthError ? { health: err.detail } : undefined,
          "error",
        );
        await this.phase(release, "rolling back");
        let revertOk = true;
        for (const d of [...done].reverse()) {
          try {
            await this.revertService(d.name, d.from, emit, active);
          } catch (e) {
            revertOk = false;
            emit(
              "rollback.failed",
              `${d.name}: could not restore ${d.from?.revision ?? "the previous state"}: ${describe(e)}`,
              undefined,
              "error",
              d.name,
            );
          }
        }
        const aborted = active.abortedByUser === true;
        const detail = err instanceof HealthError ? `${reason}\n${err.detail}` : reason;
        await emitter.flush();
        await this.statsCaughtUp();
        await store.releases.finish(release.id, aborted ? "aborted" : "failed", {
          error: detail,
          phase: (revertOk ? "rolled back" : "rollback failed") satisfies DeployPhase,
          impact: this.impact(baseline),
        });
        const final = (await store.releases.get(release.id))!;
        tell("deploy.failed", final);
        if (revertOk) tell("deploy.rolled_back", final);
        return final;
      }
      this.current = doc;
      await emitter.flush();
      await this.statsCaughtUp();
      await store.releases.finish(release.id, "succeeded", {
        phase: "done" satisfies DeployPhase,
        impact: this.impact(baseline),
      });
      const final = (await store.releases.get(release.id))!;
      this.currentRelease = final;
      emit(
        "deploy.succeeded",
        `release #${release.number} succeeded (${changed.length} service(s) rolled out)`,
      );
      await this.pruneArtifacts();
      await emitter.flush();
      tell("deploy.succeeded", final);
      return final;
    } catch (err) {
      // Failed before anything running was touched (lock, prepare, secrets).
      emit("deploy.failed", describe(err), undefined, "error");
      await emitter.flush();
      await store.releases.finish(release.id, "failed", {
        error: describe(err),
        phase: "nothing changed" satisfies DeployPhase,
      });
      const final = (await store.releases.get(release.id))!;
      tell("deploy.failed", final);
      // An abort (CanaryAborted, the signal's reason) is told as the deploy's failure, as any other cause.
      if (err instanceof UserError || (err instanceof OperationError && !(err instanceof CanaryAborted))) {
        (err as Error & { release?: Release }).release = final;
        throw err;
      }
      throw new OperationError(
        `release #${release.number} failed before any instance was touched: ${describe(err)}`,
        { cause: err },
      );
    } finally {
      if (renew) clearInterval(renew);
      await store.deployLocks.release({ app: this.app, env: this.env, holder }).catch(() => {});
      if (this.active === active) this.active = undefined;
    }
  }

  /** Drops snapshots no recent release and no instance uses (the last 5 successful releases are kept). */
  private async pruneArtifacts() {
    try {
      const recent = await this.o.store.releases.list({
        app: this.app,
        env: this.env,
        status: "succeeded",
        limit: 5,
      });
      const keep = new Set<string>();
      for (const r of recent)
        for (const ref of Object.values(r.images)) {
          const image = (ref as { image?: string } | undefined)?.image;
          if (image) keep.add(image);
        }
      for (const s of this.services.values())
        for (const image of s.images.values()) if (image) keep.add(image);
      const { removed } = (await this.o.runtime.prune?.([...keep])) ?? { removed: 0 };
      if (removed > 0) this.log(`pruned ${removed} snapshot(s) no release needs`);
    } catch (err) {
      this.log(`prune: ${describe(err)}`);
    }
  }

  /** What serves each service now, as a plan compares it with the current release's record. */
  private liveState(): LiveState {
    const live: LiveState = {};
    for (const s of this.services.values())
      live[s.name] = {
        revision: s.revision,
        ready: s.revision ? this.members(s.name, s.revision).length : 0,
      };
    return live;
  }

  private async phase(release: Release, phase: DeployPhase) {
    await this.o.store.releases.update(release.id, { phase });
  }

  /** preDeploy hook → strategy → postDeploy hook for one service; the strategy undoes its own partial work. */
  private async rolloutService(
    state: ServiceState,
    spec: ServiceSpec,
    revision: string,
    image: string | undefined,
    from: { spec: ServiceSpec; revision: string } | undefined,
    active: ActiveDeploy,
    emit: EventLog["emit"],
  ) {
    state.busy = true;
    try {
      state.specs.set(revision, spec);
      state.images.set(revision, image ?? spec.image);
      if (spec.hooks.preDeploy)
        await this.hook(state, spec, revision, "pre-deploy", active.abort.signal, emit);
      emit(
        "service.rollout",
        `${spec.name}: ${spec.strategy.type} ${from ? `${from.revision} → ` : ""}${revision}`,
        undefined,
        "info",
        spec.name,
      );
      const rollout = this.rollout(state, spec, revision, from, active, emit);
      if (this.reviveKept(spec.name, revision) >= spec.replicas) {
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
          await this.hook(state, spec, revision, "post-deploy", active.abort.signal, emit);
        } catch (err) {
          // The new revision serves already: put the old one back before reporting the failure.
          await this.revertService(spec.name, from, emit, active);
          throw err;
        }
      }
      await settle(state.router);
      emit(
        "service.done",
        `${spec.name}: ${revision} serves (${this.members(spec.name, revision).length} instance(s))`,
        undefined,
        "info",
        spec.name,
      );
    } finally {
      state.busy = false;
    }
  }

  private async hook(
    state: ServiceState,
    spec: ServiceSpec,
    revision: string,
    which: "pre-deploy" | "post-deploy",
    signal: AbortSignal,
    emit: EventLog["emit"],
  ) {
    const hook = which === "pre-deploy" ? spec.hooks.preDeploy! : spec.hooks.postDeploy!;
    emit(
      `hook.${which}`,
      `${spec.name}: running the ${which} hook: ${hook.command.join(" ")}`,
      undefined,
      "info",
      spec.name,
    );
    const { env } = await this.instanceEnv(spec, revision, `${spec.name}-${which}`);
    const result = await this.o.runtime.runTask({
      id: `${spec.name}-${which}-${revision}-${randomBytes(2).toString("hex")}`,
      service: spec,
      labels: {
        app: this.app,
        env: this.env,
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
  private async revertService(
    name: string,
    from: { spec: ServiceSpec; revision: string } | undefined,
    emit: EventLog["emit"],
    active: ActiveDeploy,
  ) {
    const state = this.services.get(name);
    if (!state) return;
    const now = state.revision;
    state.busy = true;
    try {
      if (!from) {
        emit("rollback.service", `${name}: first deploy failed, stopping it`, undefined, "warn", name);
        await this.removeService(name);
        return;
      }
      emit("rollback.service", `${name}: back to ${from.revision}`, undefined, "warn", name);
      this.reviveKept(name, from.revision);
      if (now && now !== from.revision) {
        const spec = { ...from.spec, strategy: { type: "rolling" as const, maxSurge: 1, maxUnavailable: 0 } };
        const ab = new AbortController();
        const r = this.rollout(
          state,
          spec,
          from.revision,
          { spec: state.spec!, revision: now },
          { release: active.release, abort: ab },
          emit,
        );
        if (this.members(name, from.revision).length >= from.spec.replicas) {
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

  /** Kept (idle) instances of a revision become ready again; returns how many are ready now. */
  private reviveKept(service: string, revision: string): number {
    for (const m of this.instances.values()) {
      if (m.service !== service || m.revision !== revision || m.state !== "kept") continue;
      clearTimeout(m.keepTimer);
      m.state = "ready";
      m.keptUntil = undefined;
    }
    return this.members(service, revision).length;
  }

  private async removeService(name: string) {
    const state = this.services.get(name);
    const mine = [...this.instances.values()].filter((m) => m.service === name);
    if (state) {
      state.weights = {};
      this.syncRouter(state);
    }
    await Promise.all(mine.map((m) => this.stopInstance(m, false)));
    if (state?.router) await state.router.close({ timeoutMs: 5000 });
    this.services.delete(name);
  }

  /** The Rollout a strategy drives for one service. */
  private rollout(
    state: ServiceState,
    spec: ServiceSpec,
    revision: string,
    previous: { spec: ServiceSpec; revision: string } | undefined,
    active: ActiveDeploy,
    emit: EventLog["emit"],
  ): Rollout {
    const signal = active.abort.signal;
    const name = spec.name;
    return {
      service: spec,
      revision,
      previous,
      signal,
      members: (rev) => this.members(name, rev).map((m) => ({ id: m.id, revision: m.revision })),
      start: async (count, which = "new") => {
        const rev = which === "new" ? revision : previous!.revision;
        // Going back to the previous revision must not be stopped by the abort that caused it.
        const sig = which === "new" ? signal : undefined;
        const results = await Promise.allSettled(
          Array.from({ length: count }, () => this.startInstance(state, rev, "deploy", sig, emit)),
        );
        const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
        const bad = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (bad) {
          await Promise.all(ok.map((m) => this.stopInstance(m, true)));
          throw bad.reason;
        }
        return ok.map((m) => ({ id: m.id, revision: m.revision }));
      },
      route: async (weights, rules) => {
        const same =
          JSON.stringify(state.weights) === JSON.stringify(weights) &&
          JSON.stringify(state.rules) === JSON.stringify(rules ?? []);
        state.weights = { ...weights };
        state.rules = rules ?? [];
        this.syncRouter(state);
        await settle(state.router);
        if (state.router && !same)
          emit("route", `${name}: ${formatWeights(weights)}`, { weights, rules: rules ?? [] }, "info", name);
      },
      retire: async (members: Member[]) => {
        const list = members
          .map((m) => this.instances.get(m.id))
          .filter((m): m is Managed => m !== undefined);
        await Promise.all(list.map((m) => this.stopInstance(m, true, emit)));
      },
      keep: (members, ms) => {
        for (const mem of members) {
          const m = this.instances.get(mem.id);
          if (!m) continue;
          m.state = "kept";
          m.keptUntil = Date.now() + ms;
          m.keepTimer = setTimeout(() => {
            if (m.state === "kept") void this.stopInstance(m, true);
          }, ms);
          m.keepTimer.unref();
        }
        this.syncRouter(state);
      },
      emit: (type, message, data, level) => emit(type, `${name}: ${message}`, data, level ?? "info", name),
      figures: () => {
        const w = state.router?.stats(revision).window;
        if (!w) return { requests: 0, errors: 0, errorRate: 0, p99: null };
        const errors = w.errors5xx + w.failed;
        return {
          requests: w.requests,
          errors,
          errorRate: w.requests ? errors / w.requests : 0,
          p99: w.latency.p99,
        };
      },
      waitForCommand: (ms) =>
        new Promise((resolve) => {
          if (active.pendingCommand) {
            const c = active.pendingCommand;
            active.pendingCommand = undefined;
            return resolve(c);
          }
          // Held until someone decides: the record says paused meanwhile.
          if (ms === undefined)
            void this.o.store.releases.update(active.release.id, { status: "paused" }).catch(() => {});
          const timer = ms === undefined ? undefined : setTimeout(() => finish("elapsed"), ms);
          // A shutdown or abort must not wait for a pause to end.
          const onAbort = () => finish("abort");
          const finish = (c: "promote" | "abort" | "elapsed") => {
            clearTimeout(timer);
            signal.removeEventListener("abort", onAbort);
            active.command = undefined;
            if (ms === undefined)
              void this.o.store.releases.update(active.release.id, { status: "running" }).catch(() => {});
            resolve(c);
          };
          if (signal.aborted) return finish("abort");
          signal.addEventListener("abort", onAbort, { once: true });
          active.command = finish;
        }),
      warmUp: async (members, path, requests) => {
        await Promise.all(
          members.map(async (mem) => {
            const m = this.instances.get(mem.id);
            if (!m?.info.address) return;
            const url = `http://${m.info.address.host}:${m.info.address.port}${path}`;
            for (let i = 0; i < requests; i++) {
              const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
              await res?.arrayBuffer().catch(() => {});
            }
          }),
        );
      },
    };
  }

  // Instances -----------------------------------------------------------------------------------------

  private managed(info: InstanceInfo, state: InstanceState): Managed {
    return {
      id: info.id,
      service: info.labels.service,
      revision: info.labels.release,
      info,
      state,
      healthy: state === "ready",
      failures: 0,
      lastProbeAt: Date.now(),
    };
  }

  private members(service: string, revision: string): Managed[] {
    return [...this.instances.values()].filter(
      (m) => m.service === service && m.revision === revision && m.state === "ready",
    );
  }

  /** Starts one instance of a revision and waits until it is ready; on failure it is stopped again. */
  private async startInstance(
    state: ServiceState,
    revision: string,
    why: "deploy" | "converge" | "heal",
    signal?: AbortSignal,
    emit?: EventLog["emit"],
  ): Promise<Managed> {
    const spec = state.specs.get(revision);
    if (!spec) throw new Error(`no spec known for ${state.name} ${revision}`);
    const release = await this.slots.acquire(signal);
    const id = `${state.name}-${revision}-${randomBytes(3).toString("hex")}`;
    try {
      const { env, files } = await this.instanceEnv(spec, revision, id);
      const info = await resolveAddress(
        await this.o.runtime.start({
          id,
          service: spec,
          labels: { app: this.app, env: this.env, service: state.name, release: revision, instance: id },
          env,
          files,
          image: state.images.get(revision),
          signal,
        }),
      );
      const m = this.managed(info, "starting");
      this.instances.set(id, m);
      const where = info.address ? ` on ${info.address.host}:${info.address.port}` : "";
      emit?.("instance.started", `${state.name}: ${id} started${where}`, { id, why }, "info", state.name);
      const ready = await waitReady(spec.health, info, this.o.runtime, { signal });
      if (!ready.ok) {
        const logs = await this.o.runtime.logs(id, { tail: 20 }).catch(() => "");
        await this.o.runtime.stop(id, { timeoutMs: spec.stopTimeoutMs }).catch(() => {});
        this.instances.delete(id);
        if (signal?.aborted) throw signal.reason;
        const detail = `${ready.detail}${logs && !ready.detail.includes(logs.trim()) ? `\n--- last output of ${id} ---\n${logs.trimEnd()}` : ""}`;
        throw new HealthError(
          `${state.name}: instance ${id} of ${revision} did not become ready: ${firstLine(ready.detail)}`,
          detail,
        );
      }
      m.state = "ready";
      m.healthy = true;
      emit?.(
        "instance.ready",
        `${state.name}: ${id} ready after ${ready.durationMs} ms`,
        { id, probes: ready.probes },
        "info",
        state.name,
      );
      return m;
    } catch (err) {
      const m = this.instances.get(id);
      if (m && m.state === "starting") {
        this.instances.delete(id);
        await this.o.runtime.stop(id, { timeoutMs: spec.stopTimeoutMs }).catch(() => {});
      }
      throw err;
    } finally {
      release();
    }
  }

  /** Out of rotation, drained (when routed), stopped and forgotten. */
  private async stopInstance(m: Managed, drain: boolean, emit?: EventLog["emit"], maxDrainMs?: number) {
    const state = this.services.get(m.service);
    const spec = state?.specs.get(m.revision) ?? state?.spec;
    clearTimeout(m.keepTimer);
    m.state = "draining";
    if (state) this.syncRouter(state);
    // The routes without this instance are in effect before it drains (HAProxy applies them asynchronously).
    await settle(state?.router);
    if (drain && state?.router && state.router.instances().some((i) => i.id === m.id)) {
      const timeoutMs = Math.min(spec?.drainTimeoutMs ?? 30_000, maxDrainMs ?? Number.POSITIVE_INFINITY);
      const result = await state.router.drain(m.id, { timeoutMs });
      if (!result.graceful)
        emit?.(
          "instance.drain",
          `${m.service}: ${m.id} drain timed out; ${result.forcedRequests} request(s) cut`,
          result,
          "warn",
          m.service,
        );
    }
    await this.o.runtime.stop(m.id, { timeoutMs: spec?.stopTimeoutMs ?? 10_000 }).catch((err) => {
      this.log(`stop ${m.id}: ${describe(err)}`);
    });
    this.instances.delete(m.id);
    if (state) this.syncRouter(state);
    emit?.("instance.stopped", `${m.service}: ${m.id} stopped`, { id: m.id }, "info", m.service);
  }

  private async instanceEnv(spec: ServiceSpec, revision: string, id: string) {
    const values = await this.resolveSecrets([spec]);
    const env: Record<string, string> = { ...spec.env };
    const files: { path: string; content: Buffer }[] = [];
    for (const ref of spec.secrets) {
      const v = values[ref.name];
      if (v === undefined) continue;
      if (ref.file) files.push({ path: ref.file, content: Buffer.from(v) });
      else env[ref.env ?? ref.name] = v;
    }
    const version = this.active?.release.version ?? this.currentRelease?.version;
    if (version) env.SLIPWAY_VERSION = version;
    Object.assign(env, {
      SLIPWAY_APP: this.app,
      SLIPWAY_ENV: this.env,
      SLIPWAY_SERVICE: spec.name,
      SLIPWAY_RELEASE: revision,
      SLIPWAY_INSTANCE: id,
    });
    return { env, files };
  }

  private async resolveSecrets(services: ServiceSpec[]): Promise<Record<string, string>> {
    const names = [...new Set(services.flatMap((s) => s.secrets.map((r) => r.name)))];
    if (names.length === 0) return {};
    const key = names.sort().join(",");
    const cached = this.secretCache.get(key);
    if (cached) return cached;
    if (!this.o.secrets)
      throw new UserError(`secrets ${names.join(", ")} are referenced but no secret store is available`);
    const values = await this.o.secrets(names);
    // Registered before anything can print them (a hook, a health check, an instance's log tail).
    this.masker.add(Object.values(values));
    const missing = names.filter((n) => values[n] === undefined);
    if (missing.length > 0)
      throw new UserError(
        `secret${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found for ${this.app}/${this.env} (slipway secret set NAME --env ${this.env})`,
      );
    // Kept for restarts only while this process lives; a new deploy reads them again.
    this.secretCache.set(key, values);
    return values;
  }

  private async serviceState(spec: ServiceSpec): Promise<ServiceState> {
    let s = this.services.get(spec.name);
    if (!s) {
      s = {
        name: spec.name,
        weights: {},
        rules: [],
        specs: new Map(),
        images: new Map(),
        busy: false,
        healing: false,
        crashes: 0,
        lastCrashAt: 0,
      };
      this.services.set(spec.name, s);
    }
    const want = spec.publish;
    const have = s.router?.address;
    if (want && (!have || have.port !== want.port || s.router!.address.host !== want.host)) {
      const old = s.router;
      try {
        s.router = await this.makeRouter(spec.name, want);
      } catch (cause) {
        throw new UserError(
          `${spec.name}: cannot listen on ${want.host}:${want.port} (${describe((cause as Error).cause ?? cause)}); is the port in use?`,
          [],
          { cause },
        );
      }
      s.router.onEvent = undefined;
      if (old) await old.close({ timeoutMs: 5000 });
    }
    return s;
  }

  /** The router kind: the spec's choice; auto means HAProxy when its binary is installed. */
  private routerKind: "auto" | "haproxy" | "node" = "auto";

  private async makeRouter(name: string, listen: { host: string; port: number }): Promise<Router> {
    const kind = this.routerKind === "auto" ? (haproxyInstalled() ? "haproxy" : "node") : this.routerKind;
    const make = () =>
      kind === "haproxy" ? createHaproxyRouter({ name, listen }) : createRouter({ name, listen });
    // The router of an agent that was just killed can hold the port for a moment (its haproxy notices
    // the owner is gone within a second): a busy port is tried again for a few seconds before it is an error.
    const until = Date.now() + 5000;
    for (;;) {
      try {
        return await make();
      } catch (err) {
        if (Date.now() > until || !/EADDRINUSE|cannot listen/.test(describeChain(err))) throw err;
        await sleep(250);
      }
    }
  }

  /** Backends are every ready or kept instance; weights are renormalised over versions that can serve. */
  private syncRouter(s: ServiceState) {
    if (!s.router) return;
    const backends: Record<string, { id: string; url: string }[]> = {};
    const serving = new Map<string, number>();
    for (const m of this.instances.values()) {
      if (m.service !== s.name || !m.info.address) continue;
      if (m.state === "starting") continue;
      const host = m.info.address.host.includes(":") ? `[${m.info.address.host}]` : m.info.address.host;
      backends[m.revision] = [
        ...(backends[m.revision] ?? []),
        { id: m.id, url: `http://${host}:${m.info.address.port}` },
      ];
      if (m.state === "ready") serving.set(m.revision, (serving.get(m.revision) ?? 0) + 1);
    }
    const weights = effectiveWeights(s.weights, serving);
    const rules = s.rules.filter((r) => (serving.get(r.version) ?? 0) > 0);
    try {
      s.router.configure({ backends, routes: { weights, rules } });
    } catch (err) {
      this.log(`router ${s.name}: ${describe(err)}`);
    }
  }

  private snapshotStats(): Map<string, Map<string, { requests: number; failed: number; errors5xx: number }>> {
    const out = new Map<string, Map<string, { requests: number; failed: number; errors5xx: number }>>();
    for (const s of this.services.values()) {
      if (!s.router) continue;
      const m = new Map<string, { requests: number; failed: number; errors5xx: number }>();
      for (const v of s.router.versions()) {
        const st = s.router.stats(v);
        m.set(v, { requests: st.requests, failed: st.failed, errors5xx: st.errors5xx });
      }
      const un = s.router.unroutedStats();
      m.set(unroutedVersion, { requests: un.requests, failed: un.failed, errors5xx: un.errors5xx });
      out.set(s.name, m);
    }
    return out;
  }

  /** Waits until every router's figures include the requests that have ended (see impact()). */
  private async statsCaughtUp(): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.router?.statsCaughtUp()));
  }

  /** The router's own figures for the rollout window: what this deploy cost the users. */
  private impact(baseline: ReturnType<Deployer["snapshotStats"]>) {
    const services: Record<string, Record<string, unknown>> = {};
    for (const s of this.services.values()) {
      if (!s.router) continue;
      const versions: Record<string, unknown> = {};
      // Every request the router received in the window, including those no version could take (a
      // recreate's gap): a release never claims 0 failed while its clients saw 503s.
      const all: [string, VersionStats][] = s.router.versions().map((v) => [v, s.router!.stats(v)]);
      all.push([unroutedVersion, s.router.unroutedStats()]);
      for (const [v, st] of all) {
        const b = baseline.get(s.name)?.get(v) ?? { requests: 0, failed: 0, errors5xx: 0 };
        const requests = st.requests - b.requests;
        if (requests === 0) continue;
        versions[v] = {
          requests,
          failed: st.failed - b.failed,
          errors5xx: st.errors5xx - b.errors5xx,
          p50Ms: st.window.latency.p50,
          p99Ms: st.window.latency.p99,
        };
      }
      services[s.name] = versions;
    }
    return { services };
  }

  // Self-healing ----------------------------------------------------------------------------------------

  private ticking = false;

  private async tick() {
    // One pass at a time: a slow engine must not pile up overlapping passes.
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      await this.checkInstances();
    } finally {
      this.ticking = false;
    }
  }

  private async checkInstances() {
    for (const s of this.services.values()) {
      if (s.busy || s.healing) continue;
      for (const m of [...this.instances.values()]) {
        if (m.service !== s.name || m.state !== "ready") continue;
        const spec = s.specs.get(m.revision);
        if (!spec) continue;
        const info = await this.o.runtime.inspect(m.id).catch(() => undefined);
        if (!info || !info.running) {
          void this.heal(s, m, info ? `exited with ${info.exitCode ?? "?"}` : "disappeared", info?.exitCode);
          continue;
        }
        // A container Docker restarted may have a new published port (hosts are compared resolved).
        if (info.address && m.info.address && info.address.port !== m.info.address.port) {
          m.info = await resolveAddress(info);
          this.syncRouter(s);
        }
        const health = spec.health;
        const interval = health?.intervalMs ?? 1000;
        if (Date.now() - m.lastProbeAt < interval) continue;
        m.lastProbeAt = Date.now();
        const probe = await probeInstance(health, m.info, this.o.runtime).catch((e) => ({
          ok: false,
          detail: describe(e),
        }));
        m.lastProbe = probe.detail;
        if (probe.ok) {
          m.failures = 0;
          m.healthy = true;
          if (s.crashes > 0 && Date.now() - s.lastCrashAt > 60_000) s.crashes = 0;
          continue;
        }
        m.failures++;
        if (m.failures >= (health?.unhealthyThreshold ?? 3)) {
          m.healthy = false;
          void this.heal(s, m, `unhealthy: ${probe.detail}`, undefined);
        }
      }
    }
  }

  /** Replaces a crashed or unhealthy instance (restart policy, exponential backoff). */
  private async heal(s: ServiceState, m: Managed, why: string, exitCode: number | undefined) {
    const spec = s.specs.get(m.revision)!;
    const policy = spec.restart.policy;
    s.healing = true;
    try {
      this.log(`${m.id}: ${why}`);
      await this.record("instance.crashed", `${s.name}: ${m.id} ${why}`, "warn", s.name);
      await this.stopInstance(m, false);
      if (policy === "no" || (policy === "on-failure" && exitCode === 0)) return;
      s.crashes++;
      s.lastCrashAt = Date.now();
      const delay = Math.min(
        spec.restart.maxBackoffMs,
        spec.restart.backoffMs * 2 ** Math.max(0, s.crashes - 1),
      );
      if (s.crashes > 1) await sleep(delay);
      if (this.closed || s.revision !== m.revision) return;
      const replacement = await this.startInstance(s, m.revision, "heal");
      this.syncRouter(s);
      await this.record(
        "instance.restarted",
        `${s.name}: ${replacement.id} replaces ${m.id}`,
        "info",
        s.name,
      );
    } catch (err) {
      this.log(`heal ${s.name}: ${describe(err)}`);
    } finally {
      s.healing = false;
    }
  }

  /** An event on the current release (self-healing happens outside any deploy). */
  private async record(type: string, message: string, level: "info" | "warn" | "error", service: string) {
    const r = this.currentRelease;
    if (!r) return;
    await this.o.store.releases.addEvent(r.id, { type, message, level, service }).catch(() => {});
  }

  // Status and shutdown -----------------------------------------------------------------------------------

  async status() {
    const current = await this.o.store.releases.current(this.app, this.env);
    const a = this.active;
    return {
      app: this.app,
      env: this.env,
      runtime: this.o.runtime.kind,
      current: current
        ? {
            number: current.number,
            version: current.version,
            finishedAt: current.finishedAt,
            actor: current.actor,
          }
        : null,
      active: a ? { number: a.release.number, actor: a.release.actor, startedAt: a.release.startedAt } : null,
      services: [...this.services.values()].map((s) => {
        const cfg = s.router?.config();
        return {
          name: s.name,
          revision: s.revision ?? null,
          replicas: s.spec?.replicas ?? 0,
          router: s.router
            ? { url: s.router.url, weights: cfg?.routes?.weights ?? {}, rules: cfg?.routes?.rules ?? [] }
            : null,
          instances: [...this.instances.values()]
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
    this.closed = true;
    clearInterval(this.monitor);
    this.active?.abort.abort(new OperationError("slipway is shutting down"));
    await this.queue.catch(() => {});
    if (options.stopInstances) {
      for (const s of this.services.values()) s.weights = {};
      // Everything stops: requests in flight get a short grace, not each service's full drain timeout.
      await Promise.all([...this.instances.values()].map((m) => this.stopInstance(m, true, undefined, 5000)));
      const rest = await this.o.runtime.list({ app: this.app, env: this.env }).catch(() => []);
      await Promise.all(rest.map((i) => this.o.runtime.stop(i.id, { timeoutMs: 10_000 }).catch(() => {})));
      await this.o.runtime.cleanup?.({ app: this.app, env: this.env }).catch(() => {});
    }
    for (const m of this.instances.values()) clearTimeout(m.keepTimer);
    await Promise.all([...this.services.values()].map((s) => s.router?.close({ timeoutMs: 5000 })));
  }

  /**
   * Nothing to keep an agent alive for: no deploy in progress or queued, no instance it supervises
   * (running, starting or kept) and none being replaced. A router with no instance behind it only
   * answers 503; an agent that holds routers for running instances is never idle.
   */
  idle(): boolean {
    return (
      this.active === undefined &&
      this.queued === 0 &&
      this.instances.size === 0 &&
      ![...this.services.values()].some((s) => s.busy || s.healing)
    );
  }

  /** The routers of the routed services (for /metrics). */
  routers(): Router[] {
    return [...this.services.values()].flatMap((s) => (s.router ? [s.router] : []));
  }

  private log(line: string) {
    this.o.log?.(line);
  }
}

/** Events go to the caller at once and to the store in order (one chain, so seqs follow emission). */
class EventLog {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly store: Store;
  private readonly release: Release;
  private readonly onEvent: ((e: DeployProgress) => void) | undefined;
  private readonly log: (line: string) => void;
  private readonly masker: DeployMasker;
  constructor(
    store: Store,
    release: Release,
    onEvent: ((e: DeployProgress) => void) | undefined,
    log: (line: string) => void,
    masker: DeployMasker,
  ) {
    this.store = store;
    this.release = release;
    this.onEvent = onEvent;
    this.log = log;
    this.masker = masker;
  }
  emit = (
    type: string,
    message: string,
    data?: unknown,
    level: "info" | "warn" | "error" = "info",
    service?: string,
  ) => {
    const e: DeployProgress = this.masker.redact({
      at: Date.now(),
      level,
      type,
      message,
      release: this.release.number,
      data,
      service,
    });
    this.log(`#${this.release.number} ${e.message}`);
    try {
      this.onEvent?.(e);
    } catch {
      // A client that went away does not stop the deploy.
    }
    this.chain = this.chain
      .then(() =>
        this.store.releases.addEvent(this.release.id, {
          type: e.type,
          message: e.message,
          level,
          service: e.service,
          data: e.data,
          now: e.at,
        }),
      )
      .catch(() => {});
  };
  flush(): Promise<unknown> {
    return this.chain;
  }
}

/** Weights over the versions that have ready instances; if none of the asked-for ones can serve, by counts. */
export function effectiveWeights(
  asked: Record<string, number>,
  serving: Map<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  let sum = 0;
  for (const [v, w] of Object.entries(asked)) {
    if (w > 0 && (serving.get(v) ?? 0) > 0) {
      out[v] = w;
      sum += w;
    }
  }
  const askedAny = Object.values(asked).some((w) => w > 0);
  if (sum === 0) {
    if (!askedAny) return {};
    // Never point traffic at nothing while something can serve.
    const counts = Object.fromEntries(serving);
    return weightsByCount(counts);
  }
  return sum === 100 ? out : weightsByCount(out);
}

let haproxyFound: boolean | undefined;
/** Whether an haproxy binary is on PATH (checked once). */
function haproxyInstalled(): boolean {
  if (haproxyFound === undefined) {
    const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
    haproxyFound = dirs.some((d) => existsSync(join(d, "haproxy")));
  }
  return haproxyFound;
}

function formatWeights(w: Record<string, number>): string {
  const parts = Object.entries(w).filter(([, v]) => v > 0);
  return parts.length === 0 ? "no traffic" : parts.map(([k, v]) => `${k} ${v}%`).join(", ");
}

/** An instance reached by host name (a remote Docker host) gets its IP: HAProxy's servers take addresses. */
async function resolveAddress(info: InstanceInfo): Promise<InstanceInfo> {
  const host = info.address?.host;
  if (!host || isIP(host) !== 0) return info;
  try {
    const { address } = await lookup(host === "localhost" ? "127.0.0.1" : host);
    return { ...info, address: { host: address, port: info.address!.port } };
  } catch {
    return info;
  }
}

/** Waits until a router has applied the last configuration (HAProxy's runtime API is asynchronous). */
async function settle(router: Router | undefined): Promise<void> {
  const r = router as (Router & { settled?: () => Promise<void> }) | undefined;
  await r?.settled?.().catch(() => {});
}

/** Whether two releases run different things: a service's spec, image/snapshot or secrets differ. */
function differs(a: Release, b: Release): boolean {
  const ha = (a.spec as ReleaseDocument | undefined)?.hashes;
  const hb = (b.spec as ReleaseDocument | undefined)?.hashes;
  if (!ha || !hb) return a.specHash !== b.specHash;
  const keys = new Set([...Object.keys(ha), ...Object.keys(hb)]);
  return [...keys].some((k) => ha[k] !== hb[k]);
}

function describeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) parts.push(e.message);
  return parts.join(": ");
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

function lastLines(s: string, n: number): string {
  return s.trimEnd().split("\n").slice(-n).join("\n");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
