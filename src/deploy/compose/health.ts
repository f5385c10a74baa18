// healthcheck and depends_on: compose's test becomes an exec probe with the same timings; dependencies
// keep their condition (healthy or started).
import { formatDuration } from "../../lib/format.js";
import { parseDuration } from "../../config/index.js";
import { type ImportContext, isRecord, type Json, type Path } from "./context.js";
import { composeDuration } from "./values.js";

export function mapHealth(ctx: ImportContext, name: string, h: unknown): Json | undefined {
  if (!isRecord(h) || h.disable === true) return undefined;
  const at = (...p: Path): Path => ["services", name, "healthcheck", ...p];
  const test = h.test;
  let exec: string | string[] | undefined;
  if (typeof test === "string") exec = ctx.text(at("test"), test, name);
  else if (Array.isArray(test)) {
    const [kind, ...rest] = test.map(String);
    if (kind === "NONE") return undefined;
    if (kind === "CMD") exec = rest;
    else if (kind === "CMD-SHELL") exec = rest.join(" ");
  }
  if (exec === undefined || exec.length === 0) {
    ctx.warn(at("test"), `service '${name}': healthcheck without a test (ignored)`);
    return undefined;
  }
  const out: Json = { exec };
  for (const [key, field] of [
    ["interval", "interval"],
    ["timeout", "timeout"],
    ["start_period", "start_period"],
  ] as const) {
    if (h[key] === undefined) continue;
    const ms = composeDuration(h[key]);
    if (ms === undefined) ctx.warn(at(key), `service '${name}': unreadable duration (ignored)`);
    else out[field] = formatDuration(ms, "exact");
  }
  if (typeof h.retries === "number" && h.retries >= 1) out.unhealthy_threshold = h.retries;
  // Readiness gives up after the deadline (default 60 s): leave a long start period room to pass.
  const start = out.start_period === undefined ? 0 : parseDuration(out.start_period as string);
  if (start + 30_000 > 60_000) out.deadline = formatDuration(start + 60_000, "exact");
  for (const k of Object.keys(h))
    if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
      ctx.warn(at(k), `service '${name}': healthcheck ${k} is not supported (ignored)`, true);
  return out;
}

export function mapDependsOn(ctx: ImportContext, name: string, deps: unknown): unknown {
  const at = (...p: Path): Path => ["services", name, "depends_on", ...p];
  const out: { service: string; condition: "healthy" | "started" }[] = [];
  const add = (path: Path, dep: string, condition: "healthy" | "started") => {
    const slip = ctx.names.get(dep);
    if (!slip) ctx.warn(path, `service '${name}': depends on unknown service '${dep}' (ignored)`);
    else out.push({ service: slip, condition });
  };
  // compose's list form waits for the dependency to start, not to be healthy.
  if (Array.isArray(deps))
    deps.forEach((d, i) => {
      add(at(i), String(d), "started");
    });
  else if (isRecord(deps))
    for (const [dep, v] of Object.entries(deps)) {
      const c = isRecord(v) ? v.condition : undefined;
      if (c === "service_completed_successfully")
        ctx.warn(
          at(dep),
          `service '${name}': condition service_completed_successfully is not supported: waits for '${dep}' to start`,
        );
      if (isRecord(v))
        for (const k of Object.keys(v))
          if (k !== "condition")
            ctx.warn(at(dep, k), `service '${name}': depends_on ${k} is not supported (ignored)`, true);
      add(at(dep), dep, c === "service_healthy" ? "healthy" : "started");
    }
  if (out.length === 0) return undefined;
  if (out.every((d) => d.condition === "healthy")) return out.map((d) => d.service);
  return Object.fromEntries(out.map((d) => [d.service, { condition: d.condition }]));
}
