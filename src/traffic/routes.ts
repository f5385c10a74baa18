// Validation of backends and routes, and the pure part of routing: which version a request goes to.
// A RouteTable is compiled once per setRoutes() and then only read (apart from the weighted
// round-robin counters, which belong to that table and die with it).
import type { IncomingHttpHeaders } from "node:http";
import { UserError } from "../lib/errors.js";
import type { Backends, RouteRule, Routes } from "./types.js";

type CompiledRule = {
  kind: "header" | "cookie";
  /** Header names lowercased (Node lowercases incoming ones); cookie names as given. */
  name: string;
  value: string | undefined;
  regex: RegExp | undefined;
  version: string;
};

export type RouteTable = {
  rules: CompiledRule[];
  /** Versions with a weight above 0, and their weights. */
  versions: string[];
  weights: number[];
  /** Smooth weighted round-robin state (nginx's algorithm): exact proportions, evenly interleaved. */
  current: number[];
  total: number;
};

const versionPattern = /^[A-Za-z0-9][A-Za-z0-9._+:@/-]{0,127}$/;
const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const controlCharacter = /[\u0000-\u001f\u007f]/;

function invalid(message: string): never {
  throw new UserError(message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks a backends document (from code or from the admin API); returns a normalised copy. */
export function validateBackends(input: unknown): Backends {
  if (!isRecord(input)) invalid("backends must be an object of version → instances");
  const out: Backends = {};
  const ids = new Set<string>();
  for (const [version, list] of Object.entries(input)) {
    if (!versionPattern.test(version)) invalid(`backends: invalid version name ${JSON.stringify(version)}`);
    if (!Array.isArray(list)) invalid(`backends.${version} must be an array of {id, url}`);
    out[version] = list.map((item, i) => {
      const where = `backends.${version}[${i}]`;
      if (!isRecord(item)) invalid(`${where} must be an object {id, url}`);
      const { id, url } = item;
      if (typeof id !== "string" || id === "") invalid(`${where}.id must be a non-empty string`);
      if (ids.has(id)) invalid(`${where}.id: duplicate instance id ${JSON.stringify(id)}`);
      ids.add(id);
      if (typeof url !== "string") invalid(`${where}.url must be a string`);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        invalid(`${where}.url: not a URL: ${JSON.stringify(url)}`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
        invalid(`${where}.url: only http: and https: instances are supported`);
      if ((parsed.pathname !== "/" && parsed.pathname !== "") || parsed.search || parsed.hash)
        invalid(`${where}.url: give the origin only (no path or query): ${url}`);
      return { id, url: parsed.origin };
    });
  }
  return out;
}

/** Checks a routes document against the backends it will run with; returns a normalised copy. */
/**
 * A router's next backends and routes after `configure(update)`: each part given is validated, and routes
 * kept from before must still fit new backends (a caller changes the routes first, or both at once).
 */
export function nextConfiguration(
  router: string,
  current: { backends: Backends; routes: Routes | null },
  update: { backends?: Backends; routes?: Routes },
): { backends: Backends; routes: Routes | null } {
  const backends = update.backends === undefined ? current.backends : validateBackends(update.backends);
  if (update.routes !== undefined) return { backends, routes: validateRoutes(update.routes, backends) };
  if (current.routes !== null && update.backends !== undefined) {
    try {
      validateRoutes(current.routes, backends);
    } catch (cause) {
      throw new UserError(
        `router ${router}: the current routes do not fit these backends (${(cause as Error).message}); change the routes first, or both together with configure()`,
        [],
        { cause },
      );
    }
  }
  return { backends, routes: current.routes };
}

export function validateRoutes(input: unknown, backends: Backends): Routes {
  if (!isRecord(input)) invalid("routes must be an object {weights, rules}");
  const known = (v: string) => (backends[v]?.length ?? 0) > 0;
  if (!isRecord(input.weights)) invalid("routes.weights must be an object of version → percent");
  const weights: Record<string, number> = {};
  let sum = 0;
  for (const [version, w] of Object.entries(input.weights)) {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0 || w > 100)
      invalid(`routes.weights.${version} must be a number from 0 to 100`);
    if (w > 0 && !known(version)) invalid(`routes.weights.${version}: version ${version} has no instances`);
    weights[version] = w;
    sum += w;
  }
  // All zero is allowed: the service takes no traffic (503) — e.g. a recreate between stop and start.
  if (sum !== 0 && Math.abs(sum - 100) > 1e-6)
    invalid(`routes.weights must add up to 100, or be all 0 to serve nothing (they add up to ${sum})`);
  const rulesIn = input.rules ?? [];
  if (!Array.isArray(rulesIn)) invalid("routes.rules must be an array");
  const rules = rulesIn.map((r: unknown, i: number): RouteRule => {
    const where = `routes.rules[${i}]`;
    if (!isRecord(r)) invalid(`${where} must be an object`);
    const { header, cookie, value, regex, version } = r;
    if ((header === undefined) === (cookie === undefined))
      invalid(`${where}: give exactly one of header, cookie`);
    if ((value === undefined) === (regex === undefined))
      invalid(`${where}: give exactly one of value, regex`);
    if (header !== undefined && (typeof header !== "string" || !headerNamePattern.test(header)))
      invalid(`${where}.header must be a header name`);
    if (cookie !== undefined && (typeof cookie !== "string" || cookie === "" || /[=;,\s]/.test(cookie)))
      invalid(`${where}.cookie must be a cookie name`);
    if (value !== undefined && typeof value !== "string") invalid(`${where}.value must be a string`);
    // A header value cannot hold control characters, and HAProxy's runtime API reads one command per
    // line: a newline here would end the map entry and start a command of the value's choosing.
    for (const [k, v] of [
      ["value", value],
      ["regex", regex],
    ] as const)
      if (typeof v === "string" && controlCharacter.test(v))
        invalid(`${where}.${k} must not contain control characters, got ${JSON.stringify(v)}`);
    if (regex !== undefined) {
      if (typeof regex !== "string") invalid(`${where}.regex must be a string`);
      try {
        new RegExp(regex);
      } catch (cause) {
        throw new UserError(`${where}.regex: ${(cause as Error).message}`, [], { cause });
      }
    }
    if (typeof version !== "string" || !known(version))
      invalid(`${where}.version: version ${String(version)} has no instances`);
    const match = value !== undefined ? { value: value as string } : { regex: regex as string };
    const on = header !== undefined ? { header: header as string } : { cookie: cookie as string };
    return { ...on, ...match, version } as RouteRule;
  });
  return { weights, rules };
}

/** Versions a routes document sends traffic to (by weight or by rule). */
export function routedVersions(routes: Routes): Set<string> {
  const out = new Set<string>();
  for (const [v, w] of Object.entries(routes.weights)) if (w > 0) out.add(v);
  for (const r of routes.rules ?? []) out.add(r.version);
  return out;
}

export function compileRoutes(routes: Routes): RouteTable {
  const versions: string[] = [];
  const weights: number[] = [];
  for (const [v, w] of Object.entries(routes.weights)) {
    if (w > 0) {
      versions.push(v);
      weights.push(w);
    }
  }
  const rules = (routes.rules ?? []).map(
    (r): CompiledRule => ({
      kind: r.header !== undefined ? "header" : "cookie",
      name: r.header !== undefined ? r.header.toLowerCase() : r.cookie!,
      value: r.value,
      regex: r.regex !== undefined ? new RegExp(r.regex) : undefined,
      version: r.version,
    }),
  );
  return {
    rules,
    versions,
    weights,
    current: weights.map(() => 0),
    total: weights.reduce((a, b) => a + b, 0),
  };
}

/** The value of cookie `name` in a Cookie header, without parsing the others. */
export function cookieValue(header: string, name: string): string | undefined {
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(";", from);
    if (end === -1) end = header.length;
    const eq = header.indexOf("=", from);
    if (eq !== -1 && eq < end && header.slice(from, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    from = end + 1;
  }
  return undefined;
}

function ruleMatches(rule: CompiledRule, headers: IncomingHttpHeaders): boolean {
  let actual: string | undefined;
  if (rule.kind === "header") {
    const h = headers[rule.name];
    actual = Array.isArray(h) ? h.join(", ") : h;
  } else {
    const c = headers.cookie;
    actual = c === undefined ? undefined : cookieValue(c, rule.name);
  }
  if (actual === undefined) return false;
  return rule.regex !== undefined ? rule.regex.test(actual) : actual === rule.value;
}

/**
 * The version a request goes to: the first rule that matches, else the next version of the weighted
 * round-robin. A value matches the whole header value exactly (a repeated header as Node joins it, with
 * ", "); a regex matches anywhere in it (anchor it with ^…$ to match all of it).
 */
export function pickVersion(table: RouteTable, headers: IncomingHttpHeaders): string | undefined {
  for (let i = 0; i < table.rules.length; i++) {
    if (ruleMatches(table.rules[i], headers)) return table.rules[i].version;
  }
  const n = table.versions.length;
  if (n === 1) return table.versions[0];
  if (n === 0) return undefined;
  let best = 0;
  for (let i = 0; i < n; i++) {
    table.current[i] += table.weights[i];
    if (table.current[i] > table.current[best]) best = i;
  }
  table.current[best] -= table.total;
  return table.versions[best];
}
