// planBuild (pure): which images to build for a release and in which order. A service changed when a file
// changed since the last release under its context, is its Dockerfile, or matches its `paths`; a change
// to a service rebuilds everything that depends on it. Order is topological levels of depends_on.
import { posix } from "node:path";
import picomatch from "picomatch";
import { type BuildConfig, findCycle, formatCycle } from "../config/index.js";
import { UserError } from "../lib/errors.js";
import { renderRepository, renderTag } from "./templates.js";

export type PlanInput = {
  config: BuildConfig;
  /** The directory of slipway.yaml relative to the repository root, posix (`""` at the root). */
  base?: string;
  /**
   * Files changed since the last release, relative to the repository root (`git diff --name-only`).
   * Undefined when there is no previous release: every service is built.
   */
  changedFiles?: readonly string[];
  /** Build every service (`--all`). */
  all?: boolean;
  version: string;
  git: { sha: string; branch: string };
  /** The last release, to name the image a skipped service keeps using. */
  previous?: { version: string; sha: string };
  /** Earlier releases, newest first: where a service skipped at the last release finds its image. */
  releases?: { version: string; sha: string }[];
};

export type PlannedService = {
  name: string;
  build: boolean;
  /** Why it is built (or why not), for humans. */
  reasons: string[];
  dependsOn: string[];
  /** Relative to slipway.yaml's directory. */
  context: string;
  /** Relative to the context (default `Dockerfile`). */
  dockerfile: string;
  args: Record<string, string>;
  target?: string;
  /** Build secrets by id: where each value comes from (never the value itself: plans are printed). */
  secrets: Record<string, { env?: string; file?: string }>;
  /** Images whose layers the build may reuse. */
  cacheFrom: string[];
  /** Write BuildKit's inline cache metadata into the image. */
  inlineCache: boolean;
  /** Platforms to build for; empty: the engine's own. */
  platforms: string[];
  repository: string;
  tags: string[];
  /** `repository:tags[0]`. */
  reference: string;
  /** The reference the service had at the previous release (what a skipped service keeps). */
  previous?: string;
  /** References at earlier releases, newest first (the first that exists is what a skipped service keeps). */
  candidates?: string[];
};

export type BuildPlan = {
  version: string;
  /** Services by level: a level depends only on earlier levels. */
  levels: string[][];
  services: Record<string, PlannedService>;
  concurrency: number;
  builder: "auto" | "buildkit" | "legacy";
};

export const defaultConcurrency = 2;

/** Topological levels of a dependency graph; a cycle is a UserError naming it. */
export function dependencyLevels(graph: Record<string, readonly string[]>): string[][] {
  const cycle = findCycle(graph);
  if (cycle) throw new UserError(`depends_on cycle: ${formatCycle(cycle)}; nothing was built`);
  const level = new Map<string, number>();
  const depth = (n: string): number => {
    const known = level.get(n);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(graph[n] ?? []).filter((m) => m in graph).map(depth)) + 1;
    level.set(n, d);
    return d;
  };
  const levels: string[][] = [];
  for (const n of Object.keys(graph).sort()) {
    const d = depth(n);
    levels[d] = [...(levels[d] ?? []), n];
  }
  return levels;
}

const isGlob = (p: string) => picomatch.scan(p).isGlob;

/** A matcher for the files that affect a service, all paths relative to the repository root. */
function affects(base: string, context: string, dockerfile: string, paths: readonly string[]) {
  const ctx = posix.normalize(posix.join(base, context)).replace(/\/+$/, "");
  const dockerfilePath = posix.normalize(posix.join(ctx, dockerfile));
  const globs = paths.map((p) => posix.normalize(posix.join(base, p)).replace(/\/+$/, ""));
  const matchers = globs.map((g) =>
    isGlob(g) ? picomatch(g, { dot: true }) : (f: string) => f === g || f.startsWith(`${g}/`),
  );
  return (file: string) =>
    ctx === "." ||
    file === ctx ||
    file.startsWith(`${ctx}/`) ||
    file === dockerfilePath ||
    matchers.some((m) => m(file));
}

function summarize(files: string[]): string {
  const shown = files.slice(0, 3).join(", ");
  return files.length > 3 ? `${shown} (+${files.length - 3} more)` : shown;
}

export function planBuild(input: PlanInput): BuildPlan {
  const { config } = input;
  const base = (input.base ?? "").replace(/^\.\/?/, "").replace(/\/+$/, "");
  const names = Object.keys(config.services).sort();
  const graph = Object.fromEntries(names.map((n) => [n, config.services[n].depends_on ?? []]));
  for (const n of names)
    for (const d of graph[n])
      if (!(d in graph)) throw new UserError(`service '${n}' depends on unknown service '${d}'`);
  const levels = dependencyLevels(graph);
  const prefix = config.prefix ?? "";
  const services: Record<string, PlannedService> = {};
  const changedFiles = input.changedFiles?.map((f) => f.replace(/^\.\//, ""));

  for (const name of levels.flat()) {
    const s = config.services[name];
    const dockerfile = s.dockerfile ?? "Dockerfile";
    const repository = renderRepository(s.image, { service: name, prefix }, config.registry);
    const values = { service: name, prefix, version: input.version, ...input.git };
    const tags = [renderTag(config.tag, values)];
    if (config.latest && !tags.includes("latest")) tags.push("latest");
    const previous = input.previous
      ? `${repository}:${renderTag(config.tag, { ...values, version: input.previous.version, sha: input.previous.sha })}`
      : undefined;
    const earlier = input.releases?.length ? input.releases : input.previous ? [input.previous] : [];
    const candidates = earlier.map(
      (r) => `${repository}:${renderTag(config.tag, { ...values, version: r.version, sha: r.sha })}`,
    );
    const reasons: string[] = [];
    if (input.all) reasons.push("--all");
    else if (!changedFiles) reasons.push("no previous release");
    else {
      const hits = changedFiles.filter(affects(base, s.context, dockerfile, s.paths ?? []));
      if (hits.length) reasons.push(`changed: ${summarize(hits)}`);
      const rebuiltDeps = graph[name].filter((d) => services[d].build);
      if (rebuiltDeps.length) reasons.push(`depends on ${rebuiltDeps.join(", ")}, rebuilt`);
    }
    services[name] = {
      name,
      build: reasons.length > 0,
      reasons: reasons.length ? reasons : ["unchanged since the last release"],
      dependsOn: [...graph[name]],
      context: s.context,
      dockerfile,
      args: { ...(s.args ?? {}) },
      target: s.target,
      secrets: { ...(s.secrets ?? {}) },
      cacheFrom: [...(s.cache_from ?? [])],
      inlineCache: (s.cache_to ?? []).includes("inline"),
      platforms: [...new Set(s.platforms ?? [])],
      repository,
      tags,
      reference: `${repository}:${tags[0]}`,
      previous,
      candidates,
    };
  }

  // A rebuilt service needs its dependencies' images: a skipped one without a previous image is built too.
  for (const name of [...levels.flat()].reverse()) {
    const s = services[name];
    if (!s.build) continue;
    for (const d of s.dependsOn) {
      const dep = services[d];
      if (!dep.build && !dep.previous) {
        dep.build = true;
        dep.reasons = [`needed by ${name} and no previous image is known`];
      }
    }
  }

  return {
    version: input.version,
    levels,
    services,
    concurrency: config.concurrency ?? defaultConcurrency,
    builder: config.builder ?? "auto",
  };
}
