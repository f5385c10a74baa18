// The deploy lock across processes (another agent, the server): taken before anything else, or refused
// (or waited for, with --wait); renewed while the deploy runs so a crashed holder's lock expires.
import { sleep } from "../lib/async.js";
import { OperationError } from "../lib/errors.js";
import type { Release } from "../store/index.js";
import type { Emit } from "./events.js";
import type { DeployContext } from "./state.js";

/** Takes the environment's lock for a release; resolves with the function that stops renewing it. */
export async function takeDeployLock(
  ctx: DeployContext,
  release: Release,
  options: { wait: boolean; signal: AbortSignal; emit: Emit },
): Promise<() => void> {
  const { store, holder } = ctx.o;
  const lockOf = { app: ctx.app, env: ctx.env, holder };
  const ttl = ctx.o.lockTtlMs ?? 30_000;
  const started = Date.now();
  let reported = -Infinity;
  for (;;) {
    const lock = await store.deployLocks.acquire({ ...lockOf, ttlMs: ttl, releaseId: release.id });
    if (lock.acquired) break;
    if (!options.wait)
      throw new OperationError(
        `${ctx.app}/${ctx.env} is locked by ${lock.holder} (release ${lock.releaseId ?? "?"}, since ${new Date(lock.acquiredAt).toISOString()}); retry with --wait`,
      );
    // Said when the wait starts and every 5 s after, with how long so far: a wait has no limit but the
    // holder's (its lock expires ttl after its last renewal, when it crashed).
    const waited = Date.now() - started;
    if (waited - reported >= 5000) {
      reported = waited;
      options.emit(
        "lock.wait",
        `waiting for ${lock.holder} to finish its deploy (release ${lock.releaseId ?? "?"}), ${Math.round(waited / 1000)} s so far`,
      );
    }
    await sleep(1000, options.signal);
  }
  const renew = setInterval(() => {
    void store.deployLocks.renew({ ...lockOf, ttlMs: ttl }).catch(() => {});
  }, ttl / 3);
  renew.unref();
  return () => clearInterval(renew);
}

/** Gives the lock back (a no-op when this holder does not hold it: a deploy refused by the lock). */
export async function releaseDeployLock(ctx: DeployContext): Promise<void> {
  await ctx.o.store.deployLocks.release({ app: ctx.app, env: ctx.env, holder: ctx.o.holder }).catch(() => {});
}
