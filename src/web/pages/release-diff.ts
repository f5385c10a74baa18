// What changed between two releases of an app environment: the version, per service the image and its
// digest and the revision serving it, services added and removed, the strategy, and every field of the
// recorded spec that differs (env values, command, replicas, health, …), as a structured list of
// fields rendered as text — never as markup: a value is data, whatever it looks like.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api.js";
import { html } from "../html.js";

/** The part of a release (as GET /api/v1/releases answers it) a diff reads. */
export type DiffableRelease = {
  number: number;
  version: string | null;
  images: Record<string, { image?: string; digest?: string }>;
  strategy?: Record<string, string> | null;
  spec?: unknown;
};

export type FieldChange = { path: string; from?: unknown; to?: unknown };
export type ReleaseDiff = {
  from: number;
  to: number;
  version?: { from: string | null; to: string | null };
  added: string[];
  removed: string[];
  /** Per service present in both: what differs (empty services left out). */
  services: Record<string, FieldChange[]>;
  /** Fields of the app's spec outside its services (e.g. max_starting, docker_host). */
  app: FieldChange[];
};

type ServiceSpec = { name: string } & Record<string, unknown>;
type Doc = {
  spec?: { services?: ServiceSpec[] } & Record<string, unknown>;
  revisions?: Record<string, string>;
};

function docOf(r: DiffableRelease): Doc {
  return r.spec && typeof r.spec === "object" ? (r.spec as Doc) : {};
}

function servicesOf(r: DiffableRelease): Map<string, ServiceSpec | undefined> {
  const out = new Map<string, ServiceSpec | undefined>();
  for (const s of docOf(r).spec?.services ?? []) out.set(s.name, s);
  // An old release may have no spec recorded: its images still name its services.
  for (const name of Object.keys(r.images ?? {})) if (!out.has(name)) out.set(name, undefined);
  return out;
}

/**
 * Leaves of a JSON value by dotted path: arrays of scalars compared whole, as one field; arrays of
 * objects item by item; an empty list is no field (so [] and a missing list do not differ).
 */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (Array.isArray(value) && value.length === 0) return out;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    for (const [i, v] of value.entries()) flatten(v, `${prefix}[${i}]`, out);
  } else if (value !== undefined) out.set(prefix, value);
  return out;
}

function compare(a: unknown, b: unknown, skip: (path: string) => boolean = () => false): FieldChange[] {
  const fa = flatten(a, "", new Map());
  const fb = flatten(b, "", new Map());
  const changes: FieldChange[] = [];
  for (const path of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    if (skip(path)) continue;
    const from = fa.get(path);
    const to = fb.get(path);
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    changes.push({ path, ...(fa.has(path) && { from }), ...(fb.has(path) && { to }) });
  }
  return changes;
}

/** What `to` changed relative to `from` (from: an earlier release). */
export function diffReleases(from: DiffableRelease, to: DiffableRelease): ReleaseDiff {
  const a = servicesOf(from);
  const b = servicesOf(to);
  const diff: ReleaseDiff = {
    from: from.number,
    to: to.number,
    added: [...b.keys()].filter((s) => !a.has(s)).sort(),
    removed: [...a.keys()].filter((s) => !b.has(s)).sort(),
    services: {},
    app: [],
  };
  if ((from.version ?? null) !== (to.version ?? null))
    diff.version = { from: from.version ?? null, to: to.version ?? null };
  for (const name of [...b.keys()].filter((s) => a.has(s)).sort()) {
    const changes: FieldChange[] = [];
    const ia = from.images?.[name] ?? {};
    const ib = to.images?.[name] ?? {};
    for (const k of ["image", "digest"] as const)
      if ((ia[k] ?? null) !== (ib[k] ?? null)) changes.push({ path: k, from: ia[k], to: ib[k] });
    const ra = docOf(from).revisions?.[name];
    const rb = docOf(to).revisions?.[name];
    if (ra !== rb) changes.push({ path: "revision", from: ra, to: rb });
    const sa = from.strategy?.[name];
    const sb = to.strategy?.[name];
    // The spec's own strategy fields say it in detail; the release's name of it only when no spec does.
    if (sa !== sb && !(a.get(name) && b.get(name))) changes.push({ path: "strategy", from: sa, to: sb });
    // The image is compared above (a per-deploy --image overrides the spec's).
    changes.push(...compare(a.get(name), b.get(name), (p) => p === "image"));
    if (changes.length > 0) diff.services[name] = changes;
  }
  const appFields = (r: DiffableRelease) => {
    const { services: _services, ...rest } = docOf(r).spec ?? {};
    return rest;
  };
  diff.app = compare(appFields(from), appFields(to));
  return diff;
}

function value(v: unknown): string {
  if (v === undefined) return "(none)";
  return typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

/** The diff as lines of text (what the page shows, in a <pre>). */
export function diffLines(d: ReleaseDiff): string[] {
  const lines: string[] = [];
  if (d.version) lines.push(`version: ${d.version.from ?? "(none)"} → ${d.version.to ?? "(none)"}`);
  for (const s of d.added) lines.push(`+ service ${s} (added)`);
  for (const s of d.removed) lines.push(`- service ${s} (removed)`);
  for (const [s, changes] of Object.entries(d.services)) {
    lines.push(`~ service ${s}:`);
    for (const c of changes) lines.push(`    ${c.path}: ${value(c.from)} → ${value(c.to)}`);
  }
  if (d.app.length > 0) {
    lines.push("~ app:");
    for (const c of d.app) lines.push(`    ${c.path}: ${value(c.from)} → ${value(c.to)}`);
  }
  if (lines.length === 0) lines.push("nothing changed");
  return lines;
}

/**
 * A release's changes against an earlier one: the previous release by default, any earlier one chosen
 * in the list; one not in `releases` (the page shows the latest 50) is fetched.
 */
export function ReleaseChanges({
  app,
  env,
  release,
  releases,
}: {
  app: string;
  env: string;
  release: DiffableRelease;
  releases: DiffableRelease[];
}) {
  const earlier = releases.filter((r) => r.number < release.number).map((r) => r.number);
  const [against, setAgainst] = useState<number>(release.number - 1);
  const [base, setBase] = useState<DiffableRelease | undefined>(undefined);
  const [error, setError] = useState("");
  useEffect(() => {
    setError("");
    const known = releases.find((r) => r.number === against);
    if (known) return setBase(known);
    setBase(undefined);
    if (against < 1) return;
    let stale = false;
    get<{ release: DiffableRelease }>(
      `/api/v1/releases/${encodeURIComponent(app)}/${encodeURIComponent(env)}/${against}`,
    ).then(
      (r) => !stale && setBase(r.release),
      (err: Error) => !stale && setError(err.message),
    );
    return () => {
      stale = true;
    };
  }, [app, env, against, releases]);

  if (release.number <= 1) return html`<span class="sub">first release</span>`;
  const options = earlier.includes(against) ? earlier : [against, ...earlier].sort((x, y) => y - x);
  return html`<details class="release-diff" data-testid=${`diff-${release.number}`}>
    <summary>What changed</summary>
    <label class="sub">against <select data-testid="diff-against" value=${against}
      onChange=${(e: Event) => setAgainst(Number((e.target as HTMLSelectElement).value))}>
      ${options.map((n) => html`<option value=${n}>#${n}</option>`)}
    </select></label>
    ${error && html`<p class="error">${error}</p>`}
    ${base && html`<pre class="diff" data-testid="diff-text">${diffLines(diffReleases(base, release)).join("\n")}</pre>`}
  </details>`;
}
