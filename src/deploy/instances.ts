// The instances one deployer manages: started within the host's start limit and gated on readiness,
// drained and stopped, kept idle (blue-green) and revived; their environment (secrets, SLIPWAY_*).
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { UserError } from "../lib/errors.js";
import { HealthError } from "./errors.js";
import type { Emit } from "./events.js";
import { describeWait, waitReady } from "./health.js";
import { settle, syncRouter } from "./routing.js";
import type { DeployContext, InstanceState, Managed, ServiceState } from "./state.js";
import type { InstanceInfo, ServiceSpec } from "./types.js";
import { describe, firstLine } from "./util.js";

export function managed(info: InstanceInfo, state: InstanceState): Managed {
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

/** Starts one instance of a revision and waits until it is ready; on failure it is stopped again. */
export async function startInstance(
  ctx: DeployContext,
  state: ServiceState,
  revision: string,
  why: "deploy" | "converge" | "heal",
  signal?: AbortSignal,
  emit?: Emit,
): Promise<Managed> {
  const { runtime } = ctx.o;
  const spec = state.specs.get(revision);
  if (!spec) throw new Error(`no spec known for ${state.name} ${revision}`);
  const release = await ctx.slots.acquire(signal);
  const id = `${state.name}-${revision}-${randomBytes(3).toString("hex")}`;
  try {
    const { env, files } = await instanceEnv(ctx, spec, revision, id);
    const info = await resolveAddress(
      await runtime.start({
        id,
        service: spec,
        labels: { app: ctx.app, env: ctx.env, service: state.name, release: revision, instance: id },
        env,
        files,
        image: state.images.get(revision),
        signal,
      }),
    );
    const m = managed(info, "starting");
    ctx.instances.set(id, m);
    const where = info.address ? ` on ${info.address.host}:${info.address.port}` : "";
    emit?.("instance.started", `${state.name}: ${id} started${where}`, { id, why }, "info", state.name);
    // A long wait says what it waits for and how long it has left, rather than nothing for a minute.
    const ready = await waitReady(spec.health, info, runtime, {
      signal,
      onWaiting: (p) =>
        emit?.("instance.waiting", describeWait(`${state.name}: ${id}`, p), p, "info", state.name),
    });
    if (!ready.ok) {
      const logs = await runtime.logs(id, { tail: 20 }).catch(() => "");
      await runtime.stop(id, { timeoutMs: spec.stopTimeoutMs }).catch(() => {});
      ctx.instances.delete(id);
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
    const m = ctx.instances.get(id);
    if (m?.state === "starting") {
      ctx.instances.delete(id);
      await runtime.stop(id, { timeoutMs: spec.stopTimeoutMs }).catch(() => {});
    }
    throw err;
  } finally {
    release();
  }
}

/** Out of rotation, drained (when routed), stopped and forgotten. */
export async function stopInstance(
  ctx: DeployContext,
  m: Managed,
  drain: boolean,
  emit?: Emit,
  maxDrainMs?: number,
) {
  const state = ctx.services.get(m.service);
  const spec = state?.specs.get(m.revision) ?? state?.spec;
  clearTimeout(m.keepTimer);
  m.state = "draining";
  if (state) syncRouter(ctx, state);
  // The routes without this instance are in effect before it drains (HAProxy applies them asynchronously).
  await settle(state?.router);
  if (drain && state?.router?.instances().some((i) => i.id === m.id)) {
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
  await ctx.o.runtime.stop(m.id, { timeoutMs: spec?.stopTimeoutMs ?? 10_000 }).catch((err) => {
    ctx.log(`stop ${m.id}: ${describe(err)}`);
  });
  ctx.instances.delete(m.id);
  if (state) syncRouter(ctx, state);
  emit?.("instance.stopped", `${m.service}: ${m.id} stopped`, { id: m.id }, "info", m.service);
}

/** Kept (idle) instances of a revision become ready again; returns how many are ready now. */
export function reviveKept(ctx: DeployContext, service: string, revision: string): number {
  for (const m of ctx.instances.values()) {
    if (m.service !== service || m.revision !== revision || m.state !== "kept") continue;
    clearTimeout(m.keepTimer);
    m.state = "ready";
    m.keptUntil = undefined;
  }
  return ctx.members(service, revision).length;
}

/** Stops every instance of a service and its router, and forgets it. */
export async function removeService(ctx: DeployContext, name: string) {
  const state = ctx.services.get(name);
  const mine = [...ctx.instances.values()].filter((m) => m.service === name);
  if (state) {
    state.weights = {};
    syncRouter(ctx, state);
  }
  await Promise.all(mine.map((m) => stopInstance(ctx, m, false)));
  if (state?.router) await state.router.close({ timeoutMs: 5000 });
  ctx.services.delete(name);
}

/** An instance's environment: the spec's, its secrets (as variables or files) and slipway's own. */
export async function instanceEnv(ctx: DeployContext, spec: ServiceSpec, revision: string, id: string) {
  const values = await resolveSecrets(ctx, [spec]);
  const env: Record<string, string> = { ...spec.env };
  const files: { path: string; content: Buffer }[] = [];
  for (const ref of spec.secrets) {
    const v = values[ref.name];
    if (v === undefined) continue;
    if (ref.file) files.push({ path: ref.file, content: Buffer.from(v) });
    else env[ref.env ?? ref.name] = v;
  }
  const version = ctx.active?.release.version ?? ctx.currentRelease?.version;
  if (version) env.SLIPWAY_VERSION = version;
  Object.assign(env, {
    SLIPWAY_APP: ctx.app,
    SLIPWAY_ENV: ctx.env,
    SLIPWAY_SERVICE: spec.name,
    SLIPWAY_RELEASE: revision,
    SLIPWAY_INSTANCE: id,
  });
  return { env, files };
}

export async function resolveSecrets(
  ctx: DeployContext,
  services: ServiceSpec[],
): Promise<Record<string, string>> {
  const names = [...new Set(services.flatMap((s) => s.secrets.map((r) => r.name)))];
  if (names.length === 0) return {};
  const key = names.sort().join(",");
  const cached = ctx.secretCache.get(key);
  if (cached) return cached;
  if (!ctx.o.secrets)
    throw new UserError(`secrets ${names.join(", ")} are referenced but no secret store is available`);
  const values = await ctx.o.secrets(names);
  // Registered before anything can print them (a hook, a health check, an instance's log tail).
  ctx.masker.add(Object.values(values));
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length > 0)
    throw new UserError(
      `secret${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not found for ${ctx.app}/${ctx.env} (slipway secret set NAME --env ${ctx.env})`,
    );
  // Kept for restarts only while this process lives; a new deploy reads them again.
  ctx.secretCache.set(key, values);
  return values;
}

/** An instance reached by host name (a remote Docker host) gets its IP: HAProxy's servers take addresses. */
export async function resolveAddress(info: InstanceInfo): Promise<InstanceInfo> {
  const host = info.address?.host;
  if (!host || isIP(host) !== 0) return info;
  try {
    const { address } = await lookup(host === "localhost" ? "127.0.0.1" : host);
    return { ...info, address: { host: address, port: info.address!.port } };
  } catch {
    return info;
  }
}
