// Which tag is the newest (recovery scripts: "the newest *-main image") and which tags to prune. Deleting is
// by digest, and a digest goes with every tag pointing to it, so a digest is deleted only when every tag
// pointing to it is to be deleted: a kept, protected or unselected tag always keeps its digest.
import picomatch from "picomatch";
import semver from "semver";
import { UserError } from "../../lib/errors.js";
import type { RegistryClient } from "./client.js";

export type OrderBy = "semver" | "time";

export type TagInfo = {
  tag: string;
  digest: string;
  /** The image's creation time (ISO 8601), when known. */
  created?: string;
  /** The version the tag carries, when it carries one. */
  version?: string;
};

const embedded = /(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/;

/** The semantic version a tag carries: `1.2.3`, `v1.2.3`, `1.4.0-main`, `chat-gateway_1.3.0`. */
export function tagSemver(tag: string): string | undefined {
  const direct = semver.valid(tag.replace(/^v(?=\d)/, ""));
  if (direct) return direct;
  const m = embedded.exec(tag);
  return m ? (semver.valid(m[1]) ?? undefined) : undefined;
}

function orderable(t: TagInfo, by: OrderBy): boolean {
  return by === "semver"
    ? t.version !== undefined
    : t.created !== undefined && !Number.isNaN(Date.parse(t.created));
}

/** Newest first; ties (tags of one image) by the other order, then by name. */
export function newestFirst(tags: readonly TagInfo[], by: OrderBy): TagInfo[] {
  const time = (t: TagInfo) => (t.created ? Date.parse(t.created) : Number.NEGATIVE_INFINITY);
  const ver = (a: TagInfo, b: TagInfo) =>
    a.version && b.version ? semver.rcompare(a.version, b.version) : 0;
  return [...tags].sort((a, b) => {
    const primary = by === "semver" ? ver(a, b) : time(b) - time(a);
    return primary || (by === "semver" ? time(b) - time(a) : ver(a, b)) || b.tag.localeCompare(a.tag);
  });
}

function matcher(globs: readonly string[]): (tag: string) => boolean {
  const ms = globs.filter(Boolean).map((g) => picomatch(g, { dot: true }));
  return (tag) => ms.some((m) => m(tag));
}

/** The newest tag matching `match` (all tags without it), or undefined. */
export function selectLatest(
  tags: readonly TagInfo[],
  opts: { match?: string; by: OrderBy },
): TagInfo | undefined {
  const isMatch = opts.match ? matcher([opts.match]) : () => true;
  return newestFirst(
    tags.filter((t) => isMatch(t.tag) && orderable(t, opts.by)),
    opts.by,
  )[0];
}

export type PruneOptions = {
  /** How many of the newest selected tags to keep. */
  keep: number;
  /** Tags (globs) never deleted, nor their digests. */
  protect?: readonly string[];
  /** Only tags matching this glob are candidates (default: all). */
  match?: string;
  by: OrderBy;
};

export type PrunePlan = {
  /** Selected tags kept because they are among the newest. */
  kept: string[];
  protected: string[];
  /** Digests to delete, with the tags that go with them. */
  delete: { digest: string; tags: string[] }[];
  /** Old tags whose digest another remaining tag points to: left alone. */
  spared: { digest: string; tags: string[]; heldBy: string[] }[];
  /** Tags that are not candidates: not matching, or not orderable (no version / no creation time). */
  ignored: string[];
};

/** Pure: what a prune deletes. */
export function planPrune(tags: readonly TagInfo[], opts: PruneOptions): PrunePlan {
  if (!Number.isInteger(opts.keep) || opts.keep < 0)
    throw new UserError(`--keep must be a whole number ≥ 0, got ${opts.keep}`);
  const isProtected = matcher(opts.protect ?? []);
  const isMatch = opts.match ? matcher([opts.match]) : () => true;
  const protectedTags = tags.filter((t) => isProtected(t.tag));
  const pool = tags.filter((t) => !isProtected(t.tag) && isMatch(t.tag) && orderable(t, opts.by));
  const poolSet = new Set(pool);
  const ignored = tags.filter((t) => !isProtected(t.tag) && !poolSet.has(t));
  const sorted = newestFirst(pool, opts.by);
  const kept = sorted.slice(0, opts.keep);
  const old = sorted.slice(opts.keep);
  const oldSet = new Set(old);
  const holders = new Map<string, string[]>();
  for (const t of tags) if (!oldSet.has(t)) holders.set(t.digest, [...(holders.get(t.digest) ?? []), t.tag]);
  const byDigest = new Map<string, string[]>();
  for (const t of old) byDigest.set(t.digest, [...(byDigest.get(t.digest) ?? []), t.tag]);
  const plan: PrunePlan = {
    kept: kept.map((t) => t.tag),
    protected: protectedTags.map((t) => t.tag).sort(),
    delete: [],
    spared: [],
    ignored: ignored.map((t) => t.tag).sort(),
  };
  for (const [digest, ts] of byDigest) {
    const heldBy = holders.get(digest);
    if (heldBy) plan.spared.push({ digest, tags: ts, heldBy: heldBy.sort() });
    else plan.delete.push({ digest, tags: ts });
  }
  return plan;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Digest, version and (when ordering by time) creation time of each tag; configs are fetched once per digest. */
export async function describeTags(
  client: RegistryClient,
  repository: string,
  tags: readonly string[],
  opts: { withTime: boolean; signal?: AbortSignal },
): Promise<TagInfo[]> {
  const created = new Map<string, Promise<string | undefined>>();
  const infos = await mapLimit(tags, 4, async (tag): Promise<TagInfo | undefined> => {
    const digest = await client.digest(repository, tag, opts.signal);
    if (!digest) return undefined;
    const info: TagInfo = { tag, digest, version: tagSemver(tag) };
    if (opts.withTime) {
      if (!created.has(digest))
        created.set(
          digest,
          client.imageConfig(repository, digest, opts.signal).then((c) => c.created),
        );
      info.created = await created.get(digest);
    }
    return info;
  });
  return infos.filter((i): i is TagInfo => i !== undefined);
}

/** The newest tag of a repository matching a glob, by version or by image creation time. */
export async function latestTag(
  client: RegistryClient,
  repository: string,
  opts: { match?: string; by?: OrderBy; signal?: AbortSignal } = {},
): Promise<TagInfo | undefined> {
  const by = opts.by ?? "semver";
  const isMatch = opts.match ? matcher([opts.match]) : () => true;
  let candidates = (await client.tags(repository, { signal: opts.signal })).filter(isMatch);
  // Ordering by version needs no registry round trip per tag beyond the winner's digest.
  if (by === "semver") {
    candidates = candidates.filter((t) => tagSemver(t));
    const best = newestFirst(
      candidates.map((tag) => ({ tag, digest: "", version: tagSemver(tag) })),
      "semver",
    )[0];
    if (!best) return undefined;
    const digest = await client.digest(repository, best.tag, opts.signal);
    return digest ? { ...best, digest } : undefined;
  }
  return selectLatest(
    await describeTags(client, repository, candidates, { withTime: true, signal: opts.signal }),
    {
      by,
    },
  );
}

export type PruneResult = PrunePlan & { dryRun: boolean; deleted: string[] };

/** Deletes the old tags of a repository by digest (see planPrune); with `dryRun`, only says what it would do. */
export async function pruneRepository(
  client: RegistryClient,
  repository: string,
  opts: PruneOptions & { dryRun?: boolean; signal?: AbortSignal; onLog?: (line: string) => void },
): Promise<PruneResult> {
  const tags = await client.tags(repository, { signal: opts.signal });
  const infos = await describeTags(client, repository, tags, {
    withTime: opts.by === "time",
    signal: opts.signal,
  });
  const plan = planPrune(infos, opts);
  const deleted: string[] = [];
  if (!opts.dryRun) {
    for (const d of plan.delete) {
      opts.onLog?.(`deleting ${repository}@${d.digest} (${d.tags.join(", ")})`);
      if (await client.deleteManifest(repository, d.digest, opts.signal)) deleted.push(d.digest);
    }
  }
  return { ...plan, dryRun: opts.dryRun ?? false, deleted };
}
