// On start: deploys a crash interrupted are recorded as failed (and told as rolled back), the current
// release's running instances are re-adopted when they pass a probe, what is missing is started, and
// whatever does not belong to the current release is stopped.
import { probeInstance } from "./health.js";
import { managed, resolveAddress, resolveSecrets, startInstance } from "./instances.js";
import type { ReleaseDocument } from "./plan.js";
import { serviceState, settle, syncRouter } from "./routing.js";
import { startLevels } from "./spec.js";
import type { DeployContext } from "./state.js";
import type { DeployPhase, StrategyName } from "./types.js";
import { describe } from "./util.js";

export type Converged = { adopted: number; started: number; stopped: number; interrupted: number[] };

/**
 * Marks deploys a crash interrupted as failed, adopts the running instances of the current release,
 * replaces what is missing and stops what does not belong.
 */
export async function converge(ctx: DeployContext): Promise<Converged> {
  const { store } = ctx.o;
  const interrupted: number[] = [];
  for (const r of await store.releases.unfinished({ app: ctx.app, env: ctx.env })) {
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
        ctx.o.notify?.({
          type: "deploy.rolled_back",
          release: done,
          strategy: done.strategy as Record<string, StrategyName>,
          config: (done.spec as ReleaseDocument | undefined)?.notify,
        });
    }
  }
  const current = await store.releases.current(ctx.app, ctx.env);
  const doc = current ? (current.spec as ReleaseDocument) : undefined;
  ctx.current = doc;
  ctx.currentRelease = current;
  // The current release's secrets are registered with the masker before any probe or crash of an
  // adopted instance can be recorded (those instances were started by an earlier process).
  if (doc?.spec.services.some((x) => x.secrets.length > 0))
    await resolveSecrets(ctx, doc.spec.services).catch((err) =>
      ctx.log(`secrets of the current release: ${describe(err)}`),
    );
  const found = await ctx.o.runtime.list({ app: ctx.app, env: ctx.env });
  let adopted = 0;
  let started = 0;
  let stopped = 0;
  const keep = new Set<string>();
  if (doc) {
    ctx.slots.resize(doc.spec.maxStarting);
    ctx.routerKind = doc.spec.router ?? "auto";
    for (const level of startLevels(doc.spec)) {
      await Promise.all(
        level.map(async (name) => {
          const spec = doc.spec.services.find((s) => s.name === name)!;
          const revision = doc.revisions[name];
          const s = await serviceState(ctx, spec);
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
            const probe = await probeInstance(spec.health, info, ctx.o.runtime);
            if (!probe.ok) continue;
            ctx.instances.set(info.id, managed(await resolveAddress(info), "ready"));
            keep.add(info.id);
            adopted++;
          }
          const missing = spec.replicas - ctx.members(name, revision).length;
          for (let i = 0; i < missing; i++) {
            try {
              await startInstance(ctx, s, revision, "converge");
              started++;
            } catch (err) {
              ctx.log(`converge: ${name}: ${(err as Error).message}`);
            }
          }
          s.weights = { [revision]: 100 };
          syncRouter(ctx, s);
          await settle(s.router);
        }),
      );
    }
  }
  for (const info of found) {
    if (keep.has(info.id)) continue;
    if (ctx.instances.has(info.id)) continue;
    await ctx.o.runtime.stop(info.id, { timeoutMs: 10_000 }).catch(() => {});
    stopped++;
  }
  return { adopted, started, stopped, interrupted };
}
