// From slipway.yaml's validated `deploy:` section to the DeploySpec a deploy runs: the environment's
// overrides applied, the command line's --image/--strategy/--service applied, durations in milliseconds,
// sizes in bytes, paths absolute, services in dependency order. Pure: no I/O, so `--dry-run` and tests see
// exactly what a deploy would do.
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import {
  appNamePattern,
  type DeployConfig,
  type DeployServiceConfig,
  findCycle,
  formatCycle,
  parseDuration,
  parsePublish,
  parseSize,
  parseVolume,
  serviceRuntime,
} from "../config/index.js";
import { UserError } from "../lib/errors.js";
import type {
  CanaryStep,
  DeploySpec,
  HealthSpec,
  HookSpec,
  RestartSpec,
  SecretRef,
  ServiceSpec,
  StrategyName,
  StrategySpec,
} from "./types.js";

export type ResolveOptions = {
  /** The environment deployed to; must be one of deploy.environments when that is given. */
  env: string;
  /** slipway.yaml's directory: relative paths (cwd, bind volumes) are resolved against it. */
  configDir: string;
  /** The app name when deploy.app is not set (the repository directory's name; normalized to a valid name). */
  defaultApp: string;
  /** --image SERVICE=REF: replaces a docker service's image for this deploy. */
  images?: Record<string, string>;
  /** --strategy: used by every selected service (a service already using that type keeps its settings). */
  strategy?: StrategyName;
  /** --service: deploy only these services (their dependencies are not added). */
  services?: string[];
};

/**
 * The canary used by `--strategy canary` and `strategy: canary` without steps: 10 % for 30 s, 50 % for 30 s,
 * then everything — aborted early when the canary's error rate goes over 5 % (judged from 20 requests on).
 * Timed pauses, not manual ones, so that a command-line deploy finishes on its own.
 */
export const defaultCanaryStrategy: Extract<StrategySpec, { type: "canary" }> = {
  type: "canary",
  steps: [
    { setWeight: 10 },
    { pause: { durationMs: 30_000 } },
    { setWeight: 50 },
    { pause: { durationMs: 30_000 } },
  ],
  analysis: { intervalMs: 5_000, maxErrorRate: 0.05, minRequests: 20 },
};

/** Each strategy with its defaults (what a bare `strategy: NAME` or `--strategy NAME` means). */
export function defaultStrategy(name: StrategyName): StrategySpec {
  switch (name) {
    case "rolling":
      return { type: "rolling", maxSurge: 1, maxUnavailable: 0 };
    case "blue-green":
      return { type: "blue-green", keepOldMs: 5 * 60_000 };
    case "canary":
      return structuredClone(defaultCanaryStrategy);
    case "recreate":
      return { type: "recreate" };
  }
}

type StrategyConfig = DeployServiceConfig["strategy"];
type HealthConfig = NonNullable<DeployServiceConfig["health"]>;
type HookConfig = NonNullable<NonNullable<DeployServiceConfig["hooks"]>["pre_deploy"]>;

/** A command as written: a string runs through `sh -c`, a list is the argv itself. */
export function commandArgv(command: string | string[]): string[] {
  return typeof command === "string" ? ["sh", "-c", command] : [...command];
}

function toStrategy(s: StrategyConfig): StrategySpec {
  if (typeof s === "string") return defaultStrategy(s);
  switch (s.type) {
    case "rolling":
      return { type: "rolling", maxSurge: s.max_surge, maxUnavailable: s.max_unavailable };
    case "blue-green":
      return {
        type: "blue-green",
        keepOldMs: parseDuration(s.keep_old),
        ...(s.warmup && { warmup: { path: s.warmup.path, requests: s.warmup.requests } }),
      };
    case "recreate":
      return { type: "recreate" };
    case "canary": {
      const steps = s.steps.map((step): CanaryStep => {
        if (step.set_weight !== undefined) return { setWeight: step.set_weight };
        const p = step.pause;
        const duration = typeof p === "object" ? p?.duration : p;
        return { pause: duration === undefined ? {} : { durationMs: parseDuration(duration) } };
      });
      const a = s.analysis;
      const rate = a?.max_error_rate;
      return {
        type: "canary",
        steps,
        ...(a && {
          analysis: {
            intervalMs: parseDuration(a.interval),
            ...(rate !== undefined && {
              maxErrorRate: typeof rate === "number" ? rate : Number.parseFloat(rate) / 100,
            }),
            ...(a.max_p99 !== undefined && { maxP99Ms: parseDuration(a.max_p99) }),
            minRequests: a.min_requests,
          },
        }),
        ...(s.match && {
          match: {
            ...(s.match.header !== undefined && { header: s.match.header }),
            ...(s.match.cookie !== undefined && { cookie: s.match.cookie }),
            value: s.match.value,
          },
        }),
      };
    }
  }
}

function toHealth(h: HealthConfig): HealthSpec {
  const check: Pick<HealthSpec, "type" | "path" | "command"> =
    h.http !== undefined
      ? { type: "http", path: h.http }
      : h.tcp
        ? { type: "tcp" }
        : { type: "exec", command: commandArgv(h.exec as string | string[]) };
  return {
    ...check,
    intervalMs: parseDuration(h.interval),
    timeoutMs: parseDuration(h.timeout),
    healthyThreshold: h.healthy_threshold,
    unhealthyThreshold: h.unhealthy_threshold,
    startPeriodMs: parseDuration(h.start_period),
    deadlineMs: parseDuration(h.deadline),
  };
}

const defaultHookTimeoutMs = 10 * 60_000;

function toHook(h: HookConfig): HookSpec {
  if (typeof h === "string" || Array.isArray(h))
    return { command: commandArgv(h), env: {}, timeoutMs: defaultHookTimeoutMs };
  return {
    command: commandArgv(h.command),
    ...(h.image !== undefined && { image: h.image }),
    env: { ...h.env },
    timeoutMs: parseDuration(h.timeout),
  };
}

function toRestart(r: DeployServiceConfig["restart"]): RestartSpec {
  if (typeof r === "string") return { policy: r, backoffMs: 1000, maxBackoffMs: 60_000 };
  return {
    policy: r.policy,
    backoffMs: parseDuration(r.backoff),
    maxBackoffMs: parseDuration(r.max_backoff),
  };
}

function toSecrets(secrets: DeployServiceConfig["secrets"]): SecretRef[] {
  return (secrets ?? []).map((s) => {
    if (typeof s === "string") return { name: s, env: s };
    if (s.file !== undefined) return { name: s.name, file: s.file };
    return { name: s.name, env: s.env ?? s.name };
  });
}

function toDependsOn(d: DeployServiceConfig["depends_on"]): ServiceSpec["dependsOn"] {
  if (d === undefined) return [];
  if (Array.isArray(d)) return d.map((service) => ({ service, condition: "healthy" }));
  return Object.entries(d).map(([service, { condition }]) => ({
    service,
    condition: condition === "started" || condition === "service_started" ? "started" : "healthy",
  }));
}

/** The directory name as an app name: lower-cased, other characters replaced by '-'. */
function appFromDirectory(name: string): string {
  const app = name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "");
  if (!appNamePattern.test(app))
    throw new UserError(`cannot make an app name from '${name}': set deploy.app in slipway.yaml`);
  return app;
}

const list = (names: Iterable<string>) => [...names].join(", ") || "none";

export function resolveDeploySpec(config: DeployConfig, options: ResolveOptions): DeploySpec {
  const names = Object.keys(config.services);
  const environments = config.environments;
  if (environments && !(options.env in environments))
    throw new UserError(
      `unknown environment '${options.env}' (deploy.environments: ${list(Object.keys(environments))})`,
    );
  const environment = environments?.[options.env];

  for (const s of options.services ?? [])
    if (!names.includes(s))
      throw new UserError(`unknown service '${s}' in --service (services: ${list(names)})`);
  const selected = options.services ? names.filter((n) => options.services?.includes(n)) : names;

  const runtimes = Object.fromEntries(
    names.map((n) => [n, serviceRuntime(config.services[n], config.runtime)]),
  );
  for (const [s, ref] of Object.entries(options.images ?? {})) {
    if (!names.includes(s))
      throw new UserError(`unknown service '${s}' in --image (services: ${list(names)})`);
    if (!selected.includes(s))
      throw new UserError(`--image names '${s}', which is not deployed (--service: ${list(selected)})`);
    if (runtimes[s] !== "docker")
      throw new UserError(`--image: '${s}' is a process service, it runs no image`);
    if (!ref.trim()) throw new UserError(`--image ${s}=: the image reference is empty`);
  }

  const graph = Object.fromEntries(
    names.map((n) => [n, toDependsOn(config.services[n].depends_on).map((d) => d.service)]),
  );
  const cycle = findCycle(graph);
  if (cycle) throw new UserError(`deploy.services: depends_on cycle: ${formatCycle(cycle)}`);

  const services = selected.map((name): ServiceSpec => {
    const s = config.services[name];
    const o = environment?.services?.[name] ?? {};
    const runtime = runtimes[name];
    if (!runtime) throw new UserError(`service '${name}' needs an image (docker) or a command (process)`);
    const image = options.images?.[name] ?? o.image ?? s.image;
    const command = o.command ?? s.command;
    let strategy = toStrategy(o.strategy ?? s.strategy);
    if (options.strategy && options.strategy !== strategy.type) strategy = defaultStrategy(options.strategy);
    const publish = o.publish ?? s.publish;
    const memory = s.resources?.memory;
    const cpus = s.resources?.cpus;
    const hooks = s.hooks ?? {};
    return {
      name,
      runtime,
      ...(runtime === "docker" && image !== undefined && { image }),
      ...(command !== undefined && { command: commandArgv(command) }),
      // A process runs in slipway.yaml's directory unless told otherwise.
      ...(runtime === "process" && {
        cwd: resolve(options.configDir, s.cwd ?? "."),
        root: options.configDir,
      }),
      replicas: o.replicas ?? s.replicas,
      ...(s.port !== undefined && { port: s.port }),
      ...(publish !== undefined && { publish: parsePublish(publish) }),
      // Most specific wins: the environment's, then the service's, then the environment's for this service.
      env: { ...environment?.env, ...s.env, ...o.env },
      secrets: toSecrets(s.secrets),
      volumes: (s.volumes ?? []).map((text) => {
        const v = parseVolume(text);
        return v.kind === "bind" ? { ...v, source: resolve(options.configDir, v.source) } : v;
      }),
      ...(s.health && { health: toHealth(s.health) }),
      dependsOn: toDependsOn(s.depends_on),
      ...((memory !== undefined || cpus !== undefined) && {
        resources: {
          ...(memory !== undefined && { memoryBytes: parseSize(memory) }),
          ...(cpus !== undefined && { cpus }),
        },
      }),
      restart: toRestart(s.restart),
      hooks: {
        ...(hooks.pre_deploy !== undefined && { preDeploy: toHook(hooks.pre_deploy) }),
        ...(hooks.post_deploy !== undefined && { postDeploy: toHook(hooks.post_deploy) }),
      },
      strategy,
      drainTimeoutMs: parseDuration(s.drain_timeout),
      stopTimeoutMs: parseDuration(s.stop_timeout),
      ...(config.logs !== undefined && {
        logs: { maxBytes: parseSize(config.logs.max_size), keep: config.logs.keep },
      }),
    };
  });

  const spec: DeploySpec = {
    app: config.app ?? appFromDirectory(options.defaultApp),
    ...(config.docker_host !== undefined && { dockerHost: config.docker_host }),
    maxStarting: config.max_starting,
    router: config.router ?? "auto",
    services,
  };
  return { ...spec, services: startLevels(spec).flatMap((level) => level.map((n) => byName(spec, n))) };
}

function byName(spec: DeploySpec, name: string): ServiceSpec {
  return spec.services.find((s) => s.name === name)!;
}

/**
 * The services grouped by dependency depth: level 0 depends on nothing in the spec, level n on services of
 * levels below n only. Within a level, the spec's order. Dependencies outside the spec (a --service deploy)
 * are already running and do not count.
 */
export function startLevels(spec: DeploySpec): string[][] {
  const inSpec = new Set(spec.services.map((s) => s.name));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (s: ServiceSpec): number => {
    const known = depth.get(s.name);
    if (known !== undefined) return known;
    if (visiting.has(s.name)) throw new UserError(`depends_on cycle through '${s.name}'`);
    visiting.add(s.name);
    const deps = s.dependsOn
      .filter((d) => inSpec.has(d.service))
      .map((d) => depthOf(byName(spec, d.service)));
    visiting.delete(s.name);
    const d = deps.length === 0 ? 0 : Math.max(...deps) + 1;
    depth.set(s.name, d);
    return d;
  };
  const levels: string[][] = [];
  for (const s of spec.services) {
    const d = depthOf(s);
    while (levels.length <= d) levels.push([]);
    levels[d].push(s.name);
  }
  return levels;
}

/** Keys sorted at every level, undefined left out: equal values give equal text whatever their key order. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** sha256 (hex) of the spec's canonical JSON: what tells a changed service (or deploy) from an unchanged one. */
export function specHash(spec: DeploySpec | ServiceSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}
