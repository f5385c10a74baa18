// Applying a deploy: the release record, the lock, preparing (images, secrets, routers) before anything
// running is touched, the plan, then each changed service's rollout level by level (depends_on first);
// on a failure the services already rolled out are reverted and the record says why.
import { existsSync } from "node:fs";
import { OperationError, UserError } from "../lib/errors.js";
import type { Release } from "../store/index.js";
import { CanaryAborted, HealthError } from "./errors.js";
import { EventLog } from "./events.js";
import { removeService, resolveSecrets } from "./instances.js";
import { releaseDeployLock, takeDeployLock } from "./lock.js";
import {
  type CurrentRelease,
  type ImageRef,
  type LiveState,
  planDeploy,
  type ReleaseDocument,
} from "./plan.js";
import { revertService, rolloutService } from "./rollout.js";
import { serviceState, snapshotStats, statsCaughtUp, impact } from "./routing.js";
import { specHash, startLevels } from "./spec.js";
import {
  type ActiveDeploy,
  type DeployContext,
  type DeployNotice,
  type DeployProgress,
  type DeployRequest,
  revisionOf,
} from "./state.js";
import type { DeployPhase, ServiceSpec } from "./types.js";
import { describe } from "./util.js";

/** A rollback deploys an earlier release's spec again, on that release's revisions and snapshots. */
export type RollbackTarget = {
  kind: "rollback";
  rollbackOf: number;
  revisions: Record<string, string>;
  /** The target release's images: for process services, the snapshot they ran from. */
  images: Record<string, ImageRef>;
};

/** The current release as a plan reads it. */
export function currentOf(release: Release): CurrentRelease {
  return {
    number: release.number,
    version: release.version,
    doc: release.spec as ReleaseDocument,
    images: release.images as Record<string, ImageRef>,
  };
}

export async function applyDeploy(
  ctx: DeployContext,
  request: DeployRequest,
  onEvent: ((e: DeployProgress) => void) | undefined,
  rollback?: RollbackTarget,
): Promise<Release> {
  const { store, runtime } = ctx.o;
  // The app name comes from the repository's own slipway.yaml: only the repository that owns the app
  // environment may deploy it (and so receive its secrets). The server checks this too; here it holds
  // for every caller of the agent that names a repository.
  if (request.repo !== undefined) {
    const owner = await store.deployApps.get(ctx.app, ctx.env);
    if (owner?.repo !== request.repo)
      throw new UserError(
        owner
          ? `${ctx.app}/${ctx.env} belongs to repository ${owner.repo}; a deploy from ${request.repo} is refused (an admin can rebind it)`
          : `${ctx.app}/${ctx.env} is bound to no repository; a deploy from ${request.repo} must go through the server, which binds it`,
      );
  }
  const current = await store.releases.current(ctx.app, ctx.env);
  const planned = current ? currentOf(current) : undefined;
  // The plan before preparing: the whole desired spec, what goes away, the strategies. Which services
  // change and to what revision is planned again once preparing has found images and secrets.
  const draft = planDeploy(planned, { spec: request.spec, only: request.only, revision: "next" });
  const merged = draft.spec;
  const strategyOf = draft.strategy;
  const selected = new Set(Object.keys(draft.strategy));

  const release = await store.releases.create({
    app: ctx.app,
    env: ctx.env,
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
    ctx.o.notify?.({
      type,
      release: r,
      strategy: strategyOf,
      previousVersion: current?.version ?? undefined,
      config: request.notify,
    });
  const abort = new AbortController();
  const active: ActiveDeploy = { release, abort };
  ctx.active = active;
  const emitter = new EventLog(store, release, onEvent, (l) => ctx.log(l), ctx.masker);
  const emit = emitter.emit;
  let stopRenewing: (() => void) | undefined;
  try {
    // The lock across processes (another agent, the server) — taken or refused before anything else.
    stopRenewing = await takeDeployLock(ctx, release, {
      wait: request.wait ?? false,
      signal: abort.signal,
      emit,
    });
    emit(
      "deploy.started",
      `release #${release.number} of ${ctx.app}/${ctx.env}${request.version ? ` (${request.version})` : ""} by ${request.actor}`,
    );
    tell("deploy.started", release);

    // Prepare everything before touching anything. Secrets are read afresh: a `secret set` since the
    // last deploy changes the hash and so rolls the service out.
    await ctx.phase(release, "preparing");
    ctx.secretCache.clear();
    ctx.routerKind = merged.router ?? "auto";
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
    const secretValues = await resolveSecrets(
      ctx,
      merged.services.filter((s) => selected.has(s.name)),
    );
    // Routers for newly published ports: a port in use fails here, before any instance is touched.
    for (const s of merged.services) if (selected.has(s.name)) await serviceState(ctx, s);
    const plan = planDeploy(
      planned,
      {
        spec: request.spec,
        only: request.only,
        revision: revisionOf(release),
        rollbackRevisions: rollback?.revisions,
        prepared: { images, secrets: secretValues },
      },
      liveState(ctx),
    );
    const { revisions, hashes, changed, removed } = plan;
    const doc: ReleaseDocument = { spec: merged, revisions, hashes, changed, notify: request.notify };
    await store.releases.update(release.id, {
      images,
      phase: "rolling out" satisfies DeployPhase,
      spec: doc,
    });
    ctx.slots.resize(merged.maxStarting);
    if (changed.length === 0)
      emit("deploy.unchanged", "nothing changed: every service already runs this spec");

    const baseline = snapshotStats(ctx);
    const done: { name: string; from?: { spec: ServiceSpec; revision: string } }[] = [];
    try {
      for (const level of startLevels(merged)) {
        const inLevel = level.filter((n) => changed.includes(n));
        const results = await Promise.allSettled(
          inLevel.map(async (name) => {
            const spec = merged.services.find((s) => s.name === name)!;
            const state = await serviceState(ctx, spec);
            const from =
              state.revision && state.spec ? { spec: state.spec, revision: state.revision } : undefined;
            await rolloutService(ctx, state, spec, revisions[name], images[name]?.image, from, active, emit);
            done.push({ name, from });
          }),
        );
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      }
      for (const s of removed) {
        emit("service.removed", `${s.name} is no longer in the spec: stopping it`, undefined, "info", s.name);
        await removeService(ctx, s.name);
      }
    } catch (err) {
      const reason = describe(err);
      emit("deploy.failed", reason, err instanceof HealthError ? { health: err.detail } : undefined, "error");
      await ctx.phase(release, "rolling back");
      let revertOk = true;
      for (const d of [...done].reverse()) {
        try {
          await revertService(ctx, d.name, d.from, emit, active);
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
      await statsCaughtUp(ctx);
      await store.releases.finish(release.id, aborted ? "aborted" : "failed", {
        error: detail,
        phase: (revertOk ? "rolled back" : "rollback failed") satisfies DeployPhase,
        impact: impact(ctx, baseline),
      });
      const final = (await store.releases.get(release.id))!;
      tell("deploy.failed", final);
      if (revertOk) tell("deploy.rolled_back", final);
      return final;
    }
    ctx.current = doc;
    await emitter.flush();
    await statsCaughtUp(ctx);
    await store.releases.finish(release.id, "succeeded", {
      phase: "done" satisfies DeployPhase,
      impact: impact(ctx, baseline),
    });
    const final = (await store.releases.get(release.id))!;
    ctx.currentRelease = final;
    emit(
      "deploy.succeeded",
      `release #${release.number} succeeded (${changed.length} service(s) rolled out)`,
    );
    await pruneArtifacts(ctx);
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
    stopRenewing?.();
    await releaseDeployLock(ctx);
    if (ctx.active === active) ctx.active = undefined;
  }
}

/** Drops snapshots no recent release and no instance uses (the last 5 successful releases are kept). */
async function pruneArtifacts(ctx: DeployContext) {
  try {
    const recent = await ctx.o.store.releases.list({
      app: ctx.app,
      env: ctx.env,
      status: "succeeded",
      limit: 5,
    });
    const keep = new Set<string>();
    for (const r of recent)
      for (const ref of Object.values(r.images)) {
        const image = (ref as { image?: string } | undefined)?.image;
        if (image) keep.add(image);
      }
    for (const s of ctx.services.values()) for (const image of s.images.values()) if (image) keep.add(image);
    const { removed } = (await ctx.o.runtime.prune?.([...keep])) ?? { removed: 0 };
    if (removed > 0) ctx.log(`pruned ${removed} snapshot(s) no release needs`);
  } catch (err) {
    ctx.log(`prune: ${describe(err)}`);
  }
}

/** What serves each service now, as a plan compares it with the current release's record. */
function liveState(ctx: DeployContext): LiveState {
  const live: LiveState = {};
  for (const s of ctx.services.values())
    live[s.name] = {
      revision: s.revision,
      ready: s.revision ? ctx.members(s.name, s.revision).length : 0,
    };
  return live;
}
