// From the Router's backends and routes to HAProxy runtime-API commands, without I/O: where each
// version and instance sits in the pre-allocated slots, the weights as a sequence of map entries,
// the rules as regexes over the raw request headers. Commands are plain strings (commands as data).
import { isIP } from "node:net";
import { UserError } from "../../lib/errors.js";
import type { Backends, RouteRule, Routes } from "../types.js";
import { files, names, WEIGHT_SLOTS } from "./config.js";

export type PlacedInstance = {
  id: string;
  url: string;
  version: string;
  host: string;
  port: number;
  /** Version slot (backend pair) and server slot within it. */
  slot: number;
  server: number;
  draining: boolean;
};

/** Where everything is: kept between reconfigurations so instances keep their server slot. */
export type Placement = {
  versions: Map<string, number>;
  instances: Map<string, PlacedInstance>;
  /** Free version slots, least recently released first (a slot is reused as late as possible). */
  freeVersions: number[];
  /** Free server slots per version slot, least recently released first. */
  freeServers: number[][];
};

export function emptyPlacement(versionSlots: number, instanceSlots: number): Placement {
  return {
    versions: new Map(),
    instances: new Map(),
    freeVersions: Array.from({ length: versionSlots }, (_, i) => i),
    freeServers: Array.from({ length: versionSlots }, () =>
      Array.from({ length: instanceSlots }, (_, i) => i),
    ),
  };
}

function clonePlacement(p: Placement): Placement {
  return {
    versions: new Map(p.versions),
    instances: new Map([...p.instances].map(([id, i]) => [id, { ...i }])),
    freeVersions: [...p.freeVersions],
    freeServers: p.freeServers.map((l) => [...l]),
  };
}

/** A word of the admin socket's command line: backslash escapes the separators. */
export function cliWord(s: string): string {
  // The runtime API reads one command per line (and `;` separates commands): escaping covers `;`, space
  // and backslash; a control character (a newline above all) cannot be escaped, so it is refused —
  // whatever validated the value before, no word can smuggle in a second command.
  if (controlCharacter.test(s))
    throw new UserError(
      `haproxy: refusing a runtime command word with a control character: ${JSON.stringify(s)}`,
    );
  return s.replace(/[\\; ]/g, (c) => `\\${c}`);
}

const controlCharacter = /[\u0000-\u001f\u007f]/;

/** The IP address and port HAProxy connects to for an instance URL (validated by validateBackends). */
export function upstreamAddress(url: string, where: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol !== "http:")
    throw new UserError(`${where}: the HAProxy router forwards to http: instances only (${url})`);
  let host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  if (host === "localhost") host = "127.0.0.1";
  if (isIP(host) === 0)
    throw new UserError(
      `${where}: the HAProxy router needs an IP address, not the host name ${JSON.stringify(host)} (${url})`,
    );
  return { host, port: u.port ? Number(u.port) : 80 };
}

export const serverPath = (slot: number, server: number) => [
  `${names.httpBackend(slot)}/${names.server(server)}`,
  `${names.wsBackend(slot)}/${names.server(server)}`,
];

export type BackendsPlan = {
  placement: Placement;
  /** Before the maps change: servers of new or moved instances get their address and go live. */
  before: string[];
  /** After the maps change: servers of instances that left go to maintenance (in-flight work finishes). */
  after: string[];
  /** Whether the version slots changed (the versions map must be rewritten). */
  versionsChanged: boolean;
};

/**
 * Places `backends` into the slots: an instance that stays (same id, url and version) keeps its server
 * and its drain state; versions without instances hold no slot. UserError when the slots run out.
 */
export function planBackends(prev: Placement, backends: Backends, instanceSlots: number): BackendsPlan {
  const next = clonePlacement(prev);
  const before: string[] = [];
  const after: string[] = [];
  const wanted = new Map<string, { version: string; url: string; where: string }>();
  for (const [version, list] of Object.entries(backends)) {
    for (const [i, spec] of list.entries())
      wanted.set(spec.id, { version, url: spec.url, where: `backends.${version}[${i}]` });
  }
  // Instances that left or changed version or address free their server slot first.
  for (const [id, inst] of prev.instances) {
    const w = wanted.get(id);
    if (w && w.version === inst.version && w.url === inst.url) continue;
    next.instances.delete(id);
    next.freeServers[inst.slot].push(inst.server);
    for (const path of serverPath(inst.slot, inst.server)) after.push(`set server ${path} state maint`);
  }
  // Versions that hold no instance any more free their slot.
  const live = new Set(Object.entries(backends).flatMap(([v, l]) => (l.length > 0 ? [v] : [])));
  let versionsChanged = false;
  for (const [version, slot] of prev.versions) {
    if (live.has(version)) continue;
    next.versions.delete(version);
    next.freeVersions.push(slot);
    versionsChanged = true;
  }
  for (const version of live) {
    if (next.versions.has(version)) continue;
    const slot = next.freeVersions.shift();
    if (slot === undefined)
      throw new UserError(
        `backends: the HAProxy router holds at most ${prev.freeServers.length} versions at once (maxVersions); remove a version first`,
      );
    next.versions.set(version, slot);
    versionsChanged = true;
  }
  for (const [id, w] of wanted) {
    if (next.instances.has(id)) continue;
    const { host, port } = upstreamAddress(w.url, w.where);
    const slot = next.versions.get(w.version)!;
    const server = next.freeServers[slot].shift();
    if (server === undefined)
      throw new UserError(
        `backends.${w.version}: the HAProxy router holds at most ${instanceSlots} instances per version (maxInstancesPerVersion)`,
      );
    next.instances.set(id, { id, url: w.url, version: w.version, host, port, slot, server, draining: false });
    for (const path of serverPath(slot, server)) {
      before.push(
        `set server ${path} addr ${host} port ${port}`,
        `set server ${path} state ready`,
        // Leaves any "down" a previous occupant of the slot left behind; checks take over from here.
        `set server ${path} health up`,
      );
    }
  }
  // A slot freed and taken again in the same plan must not end in maintenance.
  const taken = new Set([...next.instances.values()].flatMap((i) => serverPath(i.slot, i.server)));
  return {
    placement: next,
    before,
    after: after.filter((c) => !taken.has(c.split(" ")[2])),
    versionsChanged,
  };
}

/** Replaces a map's whole contents atomically (prepare, add to the new version, commit). */
export function replaceMap(
  file: string,
  entries: [string, string][],
): { prepare: string; fill: (v: string) => string[] } {
  return {
    prepare: `prepare map ${file}`,
    fill: (v) => [
      ...entries.map(([k, value]) => `add map @${v} ${file} ${cliWord(k)} ${cliWord(value)}`),
      `commit map @${v} ${file}`,
    ],
  };
}

export function versionsMap(placement: Placement): [string, string][] {
  return [...placement.versions].map(([version, slot]) => [names.httpBackend(slot), version]);
}

/**
 * The weights as WEIGHT_SLOTS backend names: each version gets its share (largest remainder), and the
 * sequence interleaves them by smooth weighted round-robin, so consecutive requests follow the
 * proportions closely (80/20 → 4 of every 5 to the first), like the Node router.
 */
export function weightSequence(
  weights: Record<string, number>,
  backendOf: (version: string) => string,
): string[] {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const sum = entries.reduce((n, [, w]) => n + w, 0);
  if (sum === 0) return Array.from({ length: WEIGHT_SLOTS }, () => names.none);
  const quotas = entries.map(([, w]) => (w / sum) * WEIGHT_SLOTS);
  const counts = quotas.map(Math.floor);
  let left = WEIGHT_SLOTS - counts.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of byRemainder) {
    if (left === 0) break;
    counts[i]++;
    left--;
  }
  const current = counts.map(() => 0);
  const out: string[] = [];
  for (let n = 0; n < WEIGHT_SLOTS; n++) {
    let best = -1;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      current[i] += counts[i];
      if (best === -1 || current[i] > current[best]) best = i;
    }
    current[best] -= WEIGHT_SLOTS;
    out.push(backendOf(entries[best][0]));
  }
  return out;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/**
 * The rule's regex with its value anchors (^ and $ outside character classes) replaced, so that it
 * can sit inside a regex over the whole header block and still anchor to the header's value.
 */
export function anchorRegex(regex: string, start: string, end: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i];
    if (c === "\\") {
      out += c + (regex[i + 1] ?? "");
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
      out += c;
    } else if (c === "[") {
      inClass = true;
      out += c;
      // A ] right after [ or [^ is a literal.
      if (regex[i + 1] === "^") {
        out += "^";
        i++;
      }
      if (regex[i + 1] === "]") {
        out += "]";
        i++;
      }
    } else if (c === "^") out += start;
    else if (c === "$") out += end;
    else out += c;
  }
  return out;
}

/**
 * A rule as a PCRE over `req.hdrs` (the request's header block, one `name: value` line each). Header
 * names match case-insensitively; a value matches the whole value of one header line; a regex is
 * searched in the value, its ^ and $ anchored to the value's ends. Cookies: one cookie's value in a
 * Cookie header, quotes around it ignored.
 */
export function ruleRegex(rule: RouteRule): string {
  if (rule.header !== undefined) {
    const name = `(?i:${escapeRegex(rule.header)})`;
    if (rule.value !== undefined) return `(?m)^${name}:[ \\t]*${escapeRegex(rule.value)}[ \\t]*\\r?$`;
    const body = anchorRegex(rule.regex!, `(?<=^${name}: )`, "(?=[ \\t]*\\r?$)");
    return `(?m)^${name}:[ \\t]*[^\\r\\n]*?(?:${body})`;
  }
  const name = escapeRegex(rule.cookie!);
  const prefix = `(?m)^(?i:cookie):(?:[^\\r\\n]*?;)?[ \\t]*${name}=`;
  if (rule.value !== undefined) return `${prefix}("?)${escapeRegex(rule.value)}\\1[ \\t]*(?:;|\\r?$)`;
  const body = anchorRegex(
    rule.regex!,
    `(?<=; ${name}=|;${name}=|: ${name}=|:${name}=|; ${name}="|;${name}="|: ${name}="|:${name}=")`,
    '(?="?[ \\t]*(?:;|\\r?$))',
  );
  return `${prefix}"?[^;\\r\\n]*?(?:${body})`;
}

export type RoutesPlan = { commands: { prepare: string; fill: (v: string) => string[] }[]; after: string[] };

/** The maps for these routes: rules (in order) and the weights' sequence. */
export function planRoutes(routes: Routes | null, placement: Placement, dir: string): RoutesPlan {
  const backendOf = (v: string) => names.httpBackend(placement.versions.get(v)!);
  const rules = routes?.rules ?? [];
  const weights = routes === null ? {} : routes.weights;
  const sequence = weightSequence(weights, backendOf);
  return {
    commands: [
      replaceMap(
        files.rules(dir),
        rules.map((r) => [ruleRegex(r), backendOf(r.version)]),
      ),
      replaceMap(
        files.weights(dir),
        sequence.map((b, i) => [String(i), b]),
      ),
    ],
    // After the weights' map is committed: `single` switches the per-request counter on or off.
    after: [
      `set map ${files.flags(dir)} rules ${rules.length > 0 ? "on" : "off"}`,
      `set map ${files.flags(dir)} single ${new Set(sequence).size === 1 ? sequence[0] : "-"}`,
    ],
  };
}
