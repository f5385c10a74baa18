// recreate: stop every old instance, then start the new ones. The service serves nothing in between
// (the router answers 503), which is the point: no two versions ever run at once (schema changes).
import type { Rollout } from "./types.js";

export async function recreate(r: Rollout): Promise<void> {
  const prev = r.previous?.revision;
  const old = prev ? r.members(prev) : [];
  if (old.length > 0) {
    r.emit(
      "strategy.recreate",
      `recreate stops all ${old.length} instance(s) of ${prev} first: ${r.service.name} serves nothing until ${r.revision} is ready`,
      undefined,
      "warn",
    );
    await r.route({});
    await r.retire(old);
  }
  try {
    await r.start(r.service.replicas);
  } catch (err) {
    if (prev && old.length > 0) {
      r.emit("rollback.start", `starting ${old.length} instance(s) of ${prev} again`);
      await r.start(old.length, "previous");
      await r.route({ [prev]: 100 });
    }
    throw err;
  }
  await r.route({ [r.revision]: 100 });
}
