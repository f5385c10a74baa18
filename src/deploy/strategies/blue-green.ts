// blue-green: start the whole new set beside the old one, wait until every instance is ready, warm it
// up, switch all traffic in one router swap, and keep the old set idle for keepOldMs so that a rollback
// is one more swap. Until the switch nothing the users see has changed.
import type { Rollout } from "./types.js";

export async function blueGreen(r: Rollout): Promise<void> {
  if (r.service.strategy.type !== "blue-green") throw new Error("blueGreen() needs a blue-green strategy");
  const { keepOldMs, warmup } = r.service.strategy;
  const prev = r.previous?.revision;
  r.emit(
    "blue-green.start",
    `starting ${r.service.replicas} instance(s) of ${r.revision} beside ${prev ?? "nothing"}`,
  );
  const green = await r.start(r.service.replicas);
  try {
    if (warmup) {
      r.emit("blue-green.warmup", `warming up: ${warmup.requests} × GET ${warmup.path} per instance`);
      await r.warmUp(green, warmup.path, warmup.requests);
    }
    r.signal.throwIfAborted();
  } catch (err) {
    await r.retire(green);
    throw err;
  }
  await r.route({ [r.revision]: 100 });
  r.emit("blue-green.switch", `switched all traffic to ${r.revision}`);
  const blue = prev ? r.members(prev) : [];
  if (blue.length > 0) {
    r.keep(blue, keepOldMs);
    r.emit(
      "blue-green.keep",
      `keeping ${blue.length} instance(s) of ${prev} idle for ${Math.round(keepOldMs / 1000)} s for an instant rollback`,
    );
  }
}
