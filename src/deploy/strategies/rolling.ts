// rolling: replace instances a few at a time. At most maxSurge instances above the desired count run at
// once and at most maxUnavailable below it; every new instance passes readiness before an old one is
// drained, so with the defaults (1/0) capacity never drops. Traffic follows the instance counts.
import type { Member, Rollout } from "./types.js";
import { weightsByCount } from "./types.js";

export async function rolling(r: Rollout): Promise<void> {
  // Reverting a service to its previous revision also rolls, with the defaults, whatever its strategy.
  const { maxSurge, maxUnavailable } =
    r.service.strategy.type === "rolling" ? r.service.strategy : { maxSurge: 1, maxUnavailable: 0 };
  const prev = r.previous?.revision;
  const desired = r.service.replicas;
  const started: Member[] = [];
  const retired: Member[] = [];
  const reroute = async () => {
    const counts: Record<string, number> = { [r.revision]: r.members(r.revision).length };
    if (prev) counts[prev] = r.members(prev).length;
    await r.route(weightsByCount(counts));
  };
  try {
    for (;;) {
      const fresh = r.members(r.revision).length;
      const old = prev ? r.members(prev) : [];
      if (fresh >= desired && old.length === 0) break;
      // Retire what capacity allows: keep (new + old) ≥ desired − maxUnavailable.
      const spare = Math.max(0, fresh + old.length - (desired - maxUnavailable));
      const goingNow = old.slice(0, Math.min(old.length, fresh >= desired ? old.length : spare));
      if (goingNow.length > 0) {
        r.emit("rolling.retire", `draining ${goingNow.length} instance(s) of ${prev}`);
        retired.push(...goingNow);
        await r.retire(goingNow);
        await reroute();
        continue;
      }
      // Start what the surge allows: total ≤ desired + maxSurge.
      const room = Math.max(1, desired + maxSurge - (fresh + old.length));
      const batch = Math.min(room, desired - fresh);
      r.emit("rolling.start", `starting ${batch} instance(s) of ${r.revision} (${fresh}/${desired} ready)`);
      started.push(...(await r.start(batch)));
      await reroute();
    }
  } catch (err) {
    // Back to where we were: old instances restored to their count, the new ones gone.
    if (prev && retired.length > 0) {
      r.emit("rollback.start", `starting ${retired.length} instance(s) of ${prev} again`);
      await r.start(retired.length, "previous");
    }
    if (prev && r.members(prev).length > 0) await r.route({ [prev]: 100 });
    await r.retire(r.members(r.revision));
    throw err;
  }
  await r.route({ [r.revision]: 100 });
}
