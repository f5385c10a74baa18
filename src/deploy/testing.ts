// Fakes for the deploy domain's tests. A recording Rollout for the strategies: every operation a
// strategy asks for is written down as a short line ("start r2 ×3", "route {r2:100}", "stop r1 ×2") and
// applied to an in-memory set of instances, so a test reads the sequence like the story the strategy
// tells. A Runtime of records for the Deployer's. Nothing runs.
import type { RouteRule } from "../traffic/index.js";
import { HealthError } from "./errors.js";
import type { CanaryFigures, Member, Rollout } from "./strategies/types.js";
import type { InstanceInfo, Runtime, ServiceSpec } from "./types.js";

export type FakeRolloutOptions = {
  service: ServiceSpec;
  revision: string;
  /** The revision serving now and how many ready instances it has. */
  previous?: { revision: string; count: number; spec?: ServiceSpec };
  /** The nth call (0-based) of start() fails its readiness: a HealthError, nothing it started is left. */
  failStart?: number;
  /** What waitForCommand answers, in order (then "elapsed"). */
  commands?: ("promote" | "abort" | "elapsed")[];
  /** The canary's figures at each read (the last one repeats); default: no requests. */
  figures?: CanaryFigures[];
  /** Moves the clock strategies read (Date.now) when a wait elapses, e.g. vi.setSystemTime. */
  advance?: (ms: number) => void;
};

export type FakeRollout = Rollout & {
  /** The operations, in order. */
  readonly ops: string[];
  /** emit()'s event types, in order. */
  readonly events: string[];
  /** Ready instances per revision now. */
  counts(): Record<string, number>;
  abort(reason?: unknown): void;
};

export function fakeRollout(o: FakeRolloutOptions): FakeRollout {
  const ops: string[] = [];
  const events: string[] = [];
  const instances: Member[] = [];
  const kept = new Set<string>();
  const abort = new AbortController();
  let next = 1;
  let starts = 0;
  let reads = 0;
  let waits = 0;
  const commands = [...(o.commands ?? [])];
  const add = (revision: string, count: number) => {
    const out: Member[] = [];
    for (let i = 0; i < count; i++) out.push({ id: `${o.service.name}-${revision}-${next++}`, revision });
    instances.push(...out);
    return out;
  };
  if (o.previous) add(o.previous.revision, o.previous.count);
  const list = (members: Member[]) => {
    const by = new Map<string, number>();
    for (const m of members) by.set(m.revision, (by.get(m.revision) ?? 0) + 1);
    return [...by].map(([rev, n]) => `${rev} ×${n}`).join(", ") || "nothing";
  };
  const members = (revision: string) => instances.filter((m) => m.revision === revision && !kept.has(m.id));
  return {
    service: o.service,
    revision: o.revision,
    previous: o.previous && { spec: o.previous.spec ?? o.service, revision: o.previous.revision },
    signal: abort.signal,
    ops,
    events,
    members,
    counts() {
      const out: Record<string, number> = {};
      for (const m of instances) if (!kept.has(m.id)) out[m.revision] = (out[m.revision] ?? 0) + 1;
      return out;
    },
    abort: (reason) => abort.abort(reason),
    async start(count, which = "new") {
      const rev = which === "new" ? o.revision : o.previous!.revision;
      const n = starts++;
      if (n === o.failStart) {
        ops.push(`start ${rev} ×${count} ✗`);
        throw new HealthError(
          `${o.service.name}: an instance of ${rev} did not become ready`,
          "probe failed",
        );
      }
      ops.push(`start ${rev} ×${count}`);
      return add(rev, count);
    },
    async route(weights: Record<string, number>, rules?: RouteRule[]) {
      const w = Object.entries(weights)
        .map(([k, v]) => `${k}:${v}`)
        .join(",");
      ops.push(`route {${w}}${rules?.length ? ` +${rules.length} rule(s)` : ""}`);
    },
    async retire(gone: Member[]) {
      ops.push(`stop ${list(gone)}`);
      const ids = new Set(gone.map((m) => m.id));
      for (let i = instances.length - 1; i >= 0; i--) if (ids.has(instances[i].id)) instances.splice(i, 1);
    },
    keep(idle: Member[], ms: number) {
      ops.push(`keep ${list(idle)} ${ms}ms`);
      for (const m of idle) kept.add(m.id);
    },
    emit(type) {
      events.push(type);
    },
    figures() {
      const all = o.figures ?? [];
      const f = all[Math.min(reads++, all.length - 1)];
      return f ?? { requests: 0, errors: 0, errorRate: 0, p99: null };
    },
    async waitForCommand(ms) {
      // A strategy that never stops waiting would hang its test: it fails instead.
      if (++waits > 100) throw new Error("fake rollout: still waiting after 100 waits");
      const c = commands.shift() ?? "elapsed";
      if (c === "elapsed" && ms !== undefined) o.advance?.(ms);
      ops.push(`wait ${ms === undefined ? "for a command" : `${ms}ms`} → ${c}`);
      return c;
    },
    async warmUp(warm: Member[], path: string, requests: number) {
      ops.push(`warm up ${list(warm)} ${requests} × ${path}`);
    },
  };
}

/**
 * A Runtime that runs nothing: instances are records, an instance is healthy unless its image is in
 * `unhealthy` (give services an exec health check: the probe is the runtime's exec). `ops` lists
 * starts and stops by service and revision, so a test sees what a deploy touched.
 */
export function memoryRuntime(options: { unhealthy?: Set<string> } = {}): Runtime & {
  readonly ops: string[];
  running(service?: string): InstanceInfo[];
} {
  const instances = new Map<string, InstanceInfo & { image?: string }>();
  const ops: string[] = [];
  const ok = { exitCode: 0, output: "", timedOut: false };
  return {
    kind: "docker",
    ops,
    running: (service) =>
      [...instances.values()].filter((i) => i.running && (!service || i.labels.service === service)),
    async prepare(s) {
      return { image: s.image, digest: s.image && `sha256:${s.image}` };
    },
    async start(req) {
      ops.push(`start ${req.labels.service} ${req.labels.release}`);
      const info = {
        id: req.id,
        labels: req.labels,
        runtime: "docker" as const,
        ref: req.id,
        running: true,
        startedAt: Date.now(),
        image: req.image,
      };
      instances.set(req.id, info);
      return info;
    },
    async stop(id) {
      const i = instances.get(id);
      if (i) ops.push(`stop ${i.labels.service} ${i.labels.release}`);
      instances.delete(id);
    },
    async inspect(id) {
      return instances.get(id);
    },
    async list() {
      return [...instances.values()];
    },
    async exec(id) {
      const image = instances.get(id)?.image;
      return image && options.unhealthy?.has(image)
        ? { exitCode: 1, output: "unhealthy", timedOut: false }
        : ok;
    },
    async runTask() {
      return ok;
    },
    async logs() {
      return "";
    },
    async streamLogs() {},
    async attach() {
      return 0;
    },
    async close() {},
  };
}
