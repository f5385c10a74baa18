// actions/cache (restore in main, save in post), actions/cache/restore and actions/cache/save with v4
// semantics, on a local store instead of GitHub's cache service.
//
// What decides a hit, as on GitHub: an entry has a key, a version and the ref that created it. The version
// hashes the `path` lines (and the compression method), so the same key with other paths is another cache.
// A run sees entries of its own ref, then of the default branch; within each, an exact key wins, then the
// newest entry whose key starts with the primary key, then with each restore key in order. Entries are
// immutable: saving an existing key+version+ref is a no-op, and the post step saves only after an inexact
// hit or a miss, and only when the job succeeded (or `save-always` is set).
//
// Layout, below <dataDir>/cache/<repository dir>/:
//   entries/<sha256 of ref, version, key>/entry.json   the index record (key, version, ref, createdAt, size)
//   entries/<...>/cache.tgz                             tar of the paths (gzip)
//   .tmp/                                               staging; a crash leaves garbage only here
// The index is the set of entry directories: each appears whole by one rename, and two jobs saving the same
// key race for the same name, so one wins and the other finds "Cache already exists"; no shared file is
// rewritten, so concurrent jobs cannot lose each other's updates.
// The archive keeps paths inside the workspace relative to it (restored into the new job's workspace) and
// paths outside it (`~/.npm`, `/opt/x`) absolute (restored in place), with tar's -P.
// Not done: size limits and eviction (GitHub's 10 GB per repository, 7 days unused), pull requests reading
// their base branch's caches (the context has no base ref), cross-OS archives.

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { OperationError, UserError } from "../../lib/errors.js";
import { globPaths } from "../../lib/glob.js";
import { getInput, getInputAsArray, getLenientBooleanInput, getRequiredInput } from "./inputs.js";
import { errorCode, isInside, makeStagingDir, renameIfAbsent, repositoryDirName } from "./storage.js";
import type { BuiltinAction, BuiltinActionContext } from "./types.js";

export type CacheEntry = {
  key: string;
  version: string;
  /** The ref of the run that saved it (refs/heads/main, refs/pull/1/merge, ...). */
  ref: string;
  createdAt: string;
  /** Bytes of the archive. */
  size: number;
  /** The entry's directory name. */
  id: string;
};

// The real action's state names: the primary key, and the key that was restored.
const stateCacheKey = "CACHE_KEY";
const stateCacheResult = "CACHE_RESULT";
const entryFileName = "entry.json";
const archiveName = "cache.tgz";
// Components of @actions/cache's version after the paths; with them the version equals GitHub's for gzip.
const compressionMethod = "gzip";
const versionSalt = "1.0";
const maxKeyLength = 512;
const maxKeys = 10;

/** @actions/cache's getCacheVersion: sha256 of the path lines, compression method and salt joined by `|`. */
export function cacheVersion(paths: string[]): string {
  return createHash("sha256")
    .update([...paths, compressionMethod, versionSalt].join("|"))
    .digest("hex");
}

function cacheRoot(dataDir: string, repository: string): string {
  return path.join(dataDir, "cache", repositoryDirName(repository));
}

function entryId(ref: string, version: string, key: string): string {
  return createHash("sha256")
    .update(JSON.stringify([ref, version, key]))
    .digest("hex");
}

/** Every cache entry of a repository, oldest first. */
export async function listCacheEntries(dataDir: string, repository: string): Promise<CacheEntry[]> {
  const dir = path.join(cacheRoot(dataDir, repository), "entries");
  let ids: string[];
  try {
    ids = await readdir(dir);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return [];
    throw err;
  }
  const entries: CacheEntry[] = [];
  for (const id of ids) {
    try {
      const entry = JSON.parse(await readFile(path.join(dir, id, entryFileName), "utf8")) as CacheEntry;
      if (entry.id === id) entries.push(entry);
    } catch (err) {
      if (errorCode(err) !== "ENOENT" && errorCode(err) !== "ENOTDIR") throw err;
    }
  }
  return entries.sort(byCreation);
}

function byCreation(a: CacheEntry, b: CacheEntry): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1;
}

export type CacheQuery = {
  primaryKey: string;
  restoreKeys: string[];
  version: string;
  ref: string;
  defaultBranch: string;
};

/** GitHub's matching: own ref then default branch; in each, exact key, then newest prefix match per key. */
export function selectCacheEntry(entries: CacheEntry[], query: CacheQuery): CacheEntry | undefined {
  const scopes = [query.ref];
  const defaultRef = `refs/heads/${query.defaultBranch}`;
  if (query.defaultBranch !== "" && defaultRef !== query.ref) scopes.push(defaultRef);
  for (const scope of scopes) {
    const candidates = entries.filter((e) => e.ref === scope && e.version === query.version).sort(byCreation);
    const exact = candidates.find((e) => e.key === query.primaryKey);
    if (exact) return exact;
    for (const prefix of [query.primaryKey, ...query.restoreKeys]) {
      const newest = candidates.filter((e) => e.key.startsWith(prefix)).at(-1);
      if (newest) return newest;
    }
  }
  return undefined;
}

/** @actions/cache's key rules. */
function checkKeys(keys: string[]): void {
  if (keys.length > maxKeys)
    throw new UserError(`Key Validation Error: Keys are limited to a maximum of ${maxKeys}.`);
  for (const key of keys) {
    if (key.length > maxKeyLength) {
      throw new UserError(`Key Validation Error: ${key} cannot be larger than ${maxKeyLength} characters.`);
    }
    if (key.includes(",")) throw new UserError(`Key Validation Error: ${key} cannot contain commas.`);
  }
}

/** Case-insensitive, as the real action compares the primary key with the restored one. */
function isExactKeyMatch(key: string, matched: string | undefined): boolean {
  return matched !== undefined && matched.localeCompare(key, undefined, { sensitivity: "accent" }) === 0;
}

function requiredPaths(ctx: BuiltinActionContext): string[] {
  const paths = getInputAsArray(ctx, "path");
  if (paths.length === 0) throw new UserError("Input required and not supplied: path");
  return paths;
}

function formatSize(bytes: number): string {
  return `~${Math.round(bytes / (1024 * 1024))} MB (${bytes} B)`;
}

type Report = (kind: "primary" | "matched", key: string) => void;

async function restore(ctx: BuiltinActionContext, report: Report): Promise<void> {
  const primaryKey = getRequiredInput(ctx, "key");
  report("primary", primaryKey);
  const restoreKeys = getInputAsArray(ctx, "restore-keys");
  const paths = requiredPaths(ctx);
  const failOnCacheMiss = getLenientBooleanInput(ctx, "fail-on-cache-miss");
  const lookupOnly = getLenientBooleanInput(ctx, "lookup-only");
  checkKeys([primaryKey, ...restoreKeys]);

  const entries = await listCacheEntries(ctx.dataDir, ctx.repository);
  let entry = selectCacheEntry(entries, {
    primaryKey,
    restoreKeys,
    version: cacheVersion(paths),
    ref: ctx.ref,
    defaultBranch: ctx.defaultBranch,
  });
  if (entry && !lookupOnly) {
    ctx.log(`Cache Size: ${formatSize(entry.size)}`);
    try {
      await extractEntry(ctx, entry);
      ctx.log("Cache restored successfully");
    } catch (err) {
      // As @actions/cache: a failed restore is a warning and counts as a miss, so the job rebuilds.
      ctx.signal.throwIfAborted();
      ctx.warning(`Failed to restore: ${(err as Error).message}`);
      entry = undefined;
    }
  }

  if (!entry) {
    // `cache-hit` stays unset on a miss, as in actions/cache v4 (actions/cache#1466): `== 'false'` is false.
    if (failOnCacheMiss) {
      throw new OperationError(
        `Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: ${primaryKey}`,
      );
    }
    ctx.log(`Cache not found for input keys: ${[primaryKey, ...restoreKeys].join(", ")}`);
    return;
  }
  report("matched", entry.key);
  ctx.setOutput("cache-hit", String(isExactKeyMatch(primaryKey, entry.key)));
  ctx.log(
    lookupOnly
      ? `Cache found and can be restored from key: ${entry.key}`
      : `Cache restored from key: ${entry.key}`,
  );
}

async function extractEntry(ctx: BuiltinActionContext, entry: CacheEntry): Promise<void> {
  const archive = path.join(cacheRoot(ctx.dataDir, ctx.repository), "entries", entry.id, archiveName);
  await mkdir(ctx.workspace, { recursive: true });
  await execa("tar", ["-xzf", archive, "-P", "-C", ctx.workspace], { cancelSignal: ctx.signal });
}

type SaveResult = "saved" | "exists" | "skipped" | "failed";

/** The real saveImpl: every problem is a warning, never a failed step. */
async function save(
  ctx: BuiltinActionContext,
  primaryKey: string,
  restoredKey: string | undefined,
): Promise<SaveResult> {
  try {
    if (primaryKey === "") {
      ctx.warning("Key is not specified.");
      return "skipped";
    }
    if (isExactKeyMatch(primaryKey, restoredKey)) {
      ctx.log(`Cache hit occurred on the primary key ${primaryKey}, not saving cache.`);
      return "skipped";
    }
    return await saveEntry(ctx, primaryKey, requiredPaths(ctx));
  } catch (err) {
    ctx.signal.throwIfAborted();
    ctx.warning((err as Error).message);
    return "failed";
  }
}

async function saveEntry(ctx: BuiltinActionContext, key: string, paths: string[]): Promise<SaveResult> {
  checkKeys([key]);
  const version = cacheVersion(paths);
  const root = cacheRoot(ctx.dataDir, ctx.repository);
  const id = entryId(ctx.ref, version, key);
  const finalDir = path.join(root, "entries", id);
  const alreadyExists = () => {
    ctx.log(
      `Failed to save: Cache already exists for key ${key} on ${ctx.ref}; caches are immutable, not saving.`,
    );
    return "exists" as const;
  };
  if (
    await stat(finalDir).then(
      () => true,
      () => false,
    )
  )
    return alreadyExists();

  const { matches } = await globPaths(paths.join("\n"), {
    workdir: ctx.workspace,
    home: ctx.home,
    implicitDescendants: false,
    matchDirectories: true,
    excludeHiddenFiles: false,
    signal: ctx.signal,
  });
  if (matches.length === 0) {
    throw new OperationError(
      "Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.",
    );
  }

  const staging = await makeStagingDir(root);
  try {
    const archive = path.join(staging, archiveName);
    const manifest = path.join(staging, "manifest");
    // NUL-separated and verbatim, so that names with newlines or a leading `-` are taken as names.
    await writeFile(
      manifest,
      archiveMembers(matches, ctx.workspace)
        .map((m) => `${m}\0`)
        .join(""),
    );
    await execa(
      "tar",
      [
        "--posix",
        "-czf",
        archive,
        "-P",
        "-C",
        ctx.workspace,
        "--verbatim-files-from",
        "--null",
        "-T",
        manifest,
      ],
      { cancelSignal: ctx.signal },
    );
    await rm(manifest);
    const size = (await stat(archive)).size;
    const entry: CacheEntry = { key, version, ref: ctx.ref, createdAt: new Date().toISOString(), size, id };
    await writeFile(path.join(staging, entryFileName), `${JSON.stringify(entry, null, 2)}\n`);
    if (!(await renameIfAbsent(staging, finalDir))) return alreadyExists();
    ctx.log(`Cache Size: ${formatSize(size)}`);
    ctx.log(`Cache saved with key: ${key}`);
    return "saved";
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The tar member names for the matched paths: relative to the workspace inside it, absolute outside it.
 * Paths below another matched directory are dropped, since tar recurses into that directory anyway.
 */
export function archiveMembers(matches: string[], workspace: string): string[] {
  const kept: string[] = [];
  for (const p of [...new Set(matches)].sort()) {
    if (kept.some((k) => isInside(k, p))) continue;
    kept.push(p);
  }
  return kept.map((p) => (isInside(workspace, p) ? path.relative(workspace, p) || "." : p));
}

export const cache: BuiltinAction = {
  async main(ctx) {
    if (getInput(ctx, "save-always") !== "") {
      ctx.warning(
        "Input 'save-always' has been deprecated: it does not work as intended on GitHub and will be removed in a future release. " +
          "A separate `actions/cache/restore` step should be used instead.",
      );
    }
    await restore(ctx, (kind, key) =>
      ctx.saveState(kind === "primary" ? stateCacheKey : stateCacheResult, key),
    );
  },
  async post(ctx) {
    // post-if is always() so that save-always can act; without it only a successful job saves, as on GitHub.
    if (ctx.jobStatus !== "success" && !getLenientBooleanInput(ctx, "save-always")) {
      ctx.log(`Not saving cache: the job status is ${ctx.jobStatus}.`);
      return;
    }
    await save(ctx, ctx.state[stateCacheKey] || getInput(ctx, "key"), ctx.state[stateCacheResult]);
  },
  postIf: "always()",
};

export const cacheRestore: BuiltinAction = {
  async main(ctx) {
    // Without a post step the state the real action keeps is published as outputs instead.
    await restore(ctx, (kind, key) =>
      ctx.setOutput(kind === "primary" ? "cache-primary-key" : "cache-matched-key", key),
    );
  },
};

export const cacheSave: BuiltinAction = {
  async main(ctx) {
    const result = await save(ctx, getInput(ctx, "key"), undefined);
    if (result === "exists" || result === "failed") ctx.warning("Cache save failed.");
  },
};
