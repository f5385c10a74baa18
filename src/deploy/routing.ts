// A service's router: made when the service publishes a port (HAProxy or the Node router), fed every
// ready or kept instance as a backend with the weights renormalised over the versions that can serve,
// and read for the release's impact (what a deploy cost the users).
import { sleep } from "../lib/async.js";
import { UserError } from "../lib/errors.js";
import {
  createRouter,
  type Router,
  routerKinds,
  unroutedVersion,
  type VersionStats,
} from "../traffic/index.js";
import type { DeployContext, ServiceState } from "./state.js";
import { weightsByCount } from "./strategies/types.js";
import type { ServiceSpec } from "./types.js";
import { describe, describeChain } from "./util.js";

/** The service's state, made on first use; its router is (re)made when the published address changes. */
export async function serviceState(ctx: DeployContext, spec: ServiceSpec): Promise<ServiceState> {
  let s = ctx.services.get(spec.name);
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
    ctx.services.set(spec.name, s);
  }
  const want = spec.publish;
  const have = s.router?.address;
  if (want && (!have || have.port !== want.port || s.router!.address.host !== want.host)) {
    const old = s.router;
    try {
      s.router = await makeRouter(ctx, spec.name, want);
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

async function makeRouter(
  ctx: DeployContext,
  name: string,
  listen: { host: string; port: number },
): Promise<Router> {
  const kind = ctx.routerKind === "auto" ? routerKinds()[0] : ctx.routerKind;
  const make = () => createRouter(kind, { name, listen });
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
export function syncRouter(ctx: DeployContext, s: ServiceState) {
  if (!s.router) return;
  const backends: Record<string, { id: string; url: string }[]> = {};
  const serving = new Map<string, number>();
  for (const m of ctx.instances.values()) {
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
    ctx.log(`router ${s.name}: ${describe(err)}`);
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

/** Waits until a router has applied the last configuration (HAProxy's runtime API is asynchronous). */
export async function settle(router: Router | undefined): Promise<void> {
  await router?.settled().catch(() => {});
}

export function formatWeights(w: Record<string, number>): string {
  const parts = Object.entries(w).filter(([, v]) => v > 0);
  return parts.length === 0 ? "no traffic" : parts.map(([k, v]) => `${k} ${v}%`).join(", ");
}

type Counts = { requests: number; failed: number; errors5xx: number };
export type StatsSnapshot = Map<string, Map<string, Counts>>;

/** Every router's counters now: the baseline a release's impact is measured from. */
export function snapshotStats(ctx: DeployContext): StatsSnapshot {
  const out: StatsSnapshot = new Map();
  for (const s of ctx.services.values()) {
    if (!s.router) continue;
    const m = new Map<string, Counts>();
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
export async function statsCaughtUp(ctx: DeployContext): Promise<void> {
  await Promise.all([...ctx.services.values()].map((s) => s.router?.statsCaughtUp()));
}

/** The router's own figures for the rollout window: what this deploy cost the users. */
export function impact(ctx: DeployContext, baseline: StatsSnapshot) {
  const services: Record<string, Record<string, unknown>> = {};
  for (const s of ctx.services.values()) {
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
