// Self-healing: a pass over every ready instance of the services no rollout holds: a crashed or
// vanished instance, or one failing its liveness probe unhealthyThreshold times, is replaced after the
// restart policy's backoff. One pass at a time.
import { backoffDelay, sleep } from "../lib/async.js";
import { probeInstance } from "./health.js";
import { resolveAddress, startInstance, stopInstance } from "./instances.js";
import { syncRouter } from "./routing.js";
import type { DeployContext, Managed, ServiceState } from "./state.js";
import { describe } from "./util.js";

export class Monitor {
  readonly #ctx: DeployContext;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(ctx: DeployContext) {
    this.#ctx = ctx;
  }

  start(intervalMs: number) {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  stop() {
    clearInterval(this.#timer);
  }

  async tick() {
    // One pass at a time: a slow engine must not pile up overlapping passes.
    if (this.#ctx.closed || this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#checkInstances();
    } finally {
      this.#ticking = false;
    }
  }

  async #checkInstances() {
    const ctx = this.#ctx;
    for (const s of ctx.services.values()) {
      if (s.busy || s.healing) continue;
      for (const m of [...ctx.instances.values()]) {
        if (m.service !== s.name || m.state !== "ready") continue;
        const spec = s.specs.get(m.revision);
        if (!spec) continue;
        const info = await ctx.o.runtime.inspect(m.id).catch(() => undefined);
        if (!info?.running) {
          void this.#heal(s, m, info ? `exited with ${info.exitCode ?? "?"}` : "disappeared", info?.exitCode);
          continue;
        }
        // A container Docker restarted may have a new published port (hosts are compared resolved).
        if (info.address && m.info.address && info.address.port !== m.info.address.port) {
          m.info = await resolveAddress(info);
          syncRouter(ctx, s);
        }
        const health = spec.health;
        const interval = health?.intervalMs ?? 1000;
        if (Date.now() - m.lastProbeAt < interval) continue;
        m.lastProbeAt = Date.now();
        const probe = await probeInstance(health, m.info, ctx.o.runtime).catch((e) => ({
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
          void this.#heal(s, m, `unhealthy: ${probe.detail}`, undefined);
        }
      }
    }
  }

  /** Replaces a crashed or unhealthy instance (restart policy, exponential backoff). */
  async #heal(s: ServiceState, m: Managed, why: string, exitCode: number | undefined) {
    const ctx = this.#ctx;
    const spec = s.specs.get(m.revision)!;
    const policy = spec.restart.policy;
    s.healing = true;
    try {
      ctx.log(`${m.id}: ${why}`);
      await this.#record("instance.crashed", `${s.name}: ${m.id} ${why}`, "warn", s.name);
      await stopInstance(ctx, m, false);
      if (policy === "no" || (policy === "on-failure" && exitCode === 0)) return;
      s.crashes++;
      s.lastCrashAt = Date.now();
      const delay = backoffDelay(s.crashes, {
        baseMs: spec.restart.backoffMs,
        maxMs: spec.restart.maxBackoffMs,
      });
      if (s.crashes > 1) await sleep(delay);
      if (ctx.closed || s.revision !== m.revision) return;
      const replacement = await startInstance(ctx, s, m.revision, "heal");
      syncRouter(ctx, s);
      await this.#record(
        "instance.restarted",
        `${s.name}: ${replacement.id} replaces ${m.id}`,
        "info",
        s.name,
      );
    } catch (err) {
      ctx.log(`heal ${s.name}: ${describe(err)}`);
    } finally {
      s.healing = false;
    }
  }

  /** An event on the current release (self-healing happens outside any deploy). */
  async #record(type: string, message: string, level: "info" | "warn" | "error", service: string) {
    const r = this.#ctx.currentRelease;
    if (!r) return;
    await this.#ctx.o.store.releases.addEvent(r.id, { type, message, level, service }).catch(() => {});
  }
}
