// The deploy section's cross-references, checked on the partly-validated value so that each problem points
// at its line: runtimes against image/command/port, depends_on names and cycles, publish clashes (as written
// and per environment), environments' overrides against the services.
import { findCycle, formatCycle } from "../../graph.js";
import { type DeployRuntime, deployRuntimes, serviceRuntime } from "./runtime.js";
import { parsePublish } from "./values.js";

export type Issue = { path: (string | number)[]; message: string; key?: boolean };

/** Reading the partly-validated value defensively: cross-references are checked even when fields are wrong. */
const asRecord = (v: unknown): Record<string, any> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, any>) : {};

function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

function dependencyNames(dependsOn: unknown): string[] {
  if (Array.isArray(dependsOn)) return dependsOn.filter((d): d is string => typeof d === "string");
  return Object.keys(asRecord(dependsOn));
}

export function crossCheck(deploy: Record<string, any>): Issue[] {
  const issues: Issue[] = [];
  const services = asRecord(deploy.services);
  const names = Object.keys(services);
  const defaultRuntime = deployRuntimes.includes(deploy.runtime)
    ? (deploy.runtime as DeployRuntime)
    : undefined;
  const runtimes: Record<string, DeployRuntime | undefined> = {};

  for (const [name, raw] of Object.entries(services)) {
    const s = asRecord(raw);
    const at = (...p: (string | number)[]) => ["services", name, ...p];
    const runtime = serviceRuntime(s, defaultRuntime);
    runtimes[name] = runtime;
    const why = s.runtime ? "" : defaultRuntime ? ` (deploy.runtime is ${defaultRuntime})` : "";
    const where = s.runtime ? at("runtime") : at();
    if (runtime === undefined)
      issues.push({
        path: at(),
        message: `service '${name}' needs an image (docker) or a command (process)`,
      });
    if (runtime === "docker" && s.image === undefined)
      issues.push({ path: where, message: `docker service '${name}' needs an image${why}` });
    if (runtime === "process" && s.command === undefined)
      issues.push({
        path: where,
        message: `process service '${name}' needs a command${why}${s.image !== undefined && !s.runtime ? "; set runtime: docker on the service to run its image" : ""}`,
      });
    if (runtime === "docker" && s.cwd !== undefined)
      issues.push({
        path: at("cwd"),
        message: "cwd is for process services; a docker service runs in its image's",
      });
    if (runtime === "docker" && s.publish !== undefined && s.port === undefined)
      issues.push({
        path: at("publish"),
        message: "publish needs the port the container listens on: add port",
      });
    const h = asRecord(s.health);
    if (runtime === "docker" && s.port === undefined && (h.http !== undefined || h.tcp !== undefined))
      issues.push({
        path: at("health", h.http !== undefined ? "http" : "tcp"),
        message: "an http or tcp check needs the port the container listens on: add port",
      });
    for (const hookName of ["pre_deploy", "post_deploy"]) {
      const hk = asRecord(asRecord(s.hooks)[hookName]);
      if (runtime === "process" && hk.image !== undefined)
        issues.push({
          path: at("hooks", hookName, "image"),
          message: "a process service's hook runs no image",
        });
    }
    const deps = s.depends_on;
    if (Array.isArray(deps)) {
      deps.forEach((d, i) => {
        if (typeof d === "string" && !names.includes(d))
          issues.push({ path: at("depends_on", i), message: unknownDependency(d, name, names) });
      });
    } else {
      for (const d of Object.keys(asRecord(deps)))
        if (!names.includes(d))
          issues.push({ path: at("depends_on", d), key: true, message: unknownDependency(d, name, names) });
    }
  }

  const graph = Object.fromEntries(
    names.map((n) => [n, dependencyNames(asRecord(services[n]).depends_on).filter((d) => names.includes(d))]),
  );
  const cycle = findCycle(graph);
  if (cycle) {
    const [first, next] = cycle;
    const deps = asRecord(services[first]).depends_on;
    const path = Array.isArray(deps)
      ? ["services", first, "depends_on", deps.indexOf(next)]
      : ["services", first, "depends_on", next];
    issues.push({ path, message: `depends_on cycle: ${formatCycle(cycle)}` });
  }

  // Publish clashes, first for the services as written, then for each environment's effective values.
  const clashes = (publishes: { name: string; value: unknown; path: (string | number)[] }[]) => {
    const seen: { name: string; host: string; port: number }[] = [];
    for (const p of publishes) {
      const addr = tryParse(() => parsePublish(p.value as string | number));
      if (!addr) continue;
      const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
      const other = seen.find(
        (o) => o.port === addr.port && (o.host === addr.host || wildcard(o.host) || wildcard(addr.host)),
      );
      if (other)
        issues.push({
          path: p.path,
          message: `'${p.name}' publishes ${addr.host}:${addr.port}, which clashes with '${other.name}' (${other.host}:${other.port})`,
        });
      else seen.push({ name: p.name, ...addr });
    }
  };
  clashes(
    names
      .filter((n) => asRecord(services[n]).publish !== undefined)
      .map((n) => ({ name: n, value: services[n].publish, path: ["services", n, "publish"] })),
  );

  for (const [envName, rawEnv] of Object.entries(asRecord(deploy.environments))) {
    const overrides = asRecord(asRecord(rawEnv).services);
    for (const [name, rawOverride] of Object.entries(overrides)) {
      const o = asRecord(rawOverride);
      const at = (...p: (string | number)[]) => ["environments", envName, "services", name, ...p];
      if (!names.includes(name)) {
        issues.push({
          path: at(),
          key: true,
          message: `unknown service '${name}' in environment '${envName}' (services: ${names.join(", ") || "none"})`,
        });
        continue;
      }
      const s = asRecord(services[name]);
      if (runtimes[name] === "process" && o.image !== undefined)
        issues.push({ path: at("image"), message: `'${name}' is a process service: it has no image` });
      if (runtimes[name] === "docker" && o.publish !== undefined && s.port === undefined)
        issues.push({
          path: at("publish"),
          message: "publish needs the port the container listens on: add port",
        });
    }
    clashes(
      names.flatMap((n) => {
        const o = asRecord(overrides[n]);
        if (o.publish !== undefined)
          return [{ name: n, value: o.publish, path: ["environments", envName, "services", n, "publish"] }];
        const own = asRecord(services[n]).publish;
        return own === undefined ? [] : [{ name: n, value: own, path: ["services", n, "publish"] }];
      }),
    );
  }
  // An environment's clash may repeat one of the services' own: report each place once.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = JSON.stringify([i.path, i.message]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function unknownDependency(dep: string, name: string, names: string[]): string {
  return `unknown service '${dep}' in depends_on of '${name}' (services: ${names.join(", ")})`;
}
