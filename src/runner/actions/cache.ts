// The action cache: remote actions (and reusable workflows) by commit, shared by every job and process
// on this machine and reused offline.
//
//   <actions>/<owner>/<repo>@<ref>/                      added by `slipway actions add` (air-gapped), used first
//   <actions>/_remote/<server>/<owner>/<repo>/<sha>/     fetched on demand, one directory per commit
//   <actions>/_remote/<server>/<owner>/<repo>/refs.json  ref → sha, trusted for the source's TTL (a sha never moves)
//
// An entry appears whole or not at all: it is fetched into a temp dir beside it and renamed into place,
// under a lock file per commit, so concurrent jobs (and processes) fetch a commit once and a crash mid-fetch
// leaves only a `.tmp-*` dir (removed by `actions prune`). A directory's mtime is its last use.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { UserError } from "../../lib/errors.js";
import { validateActionRef } from "../../workflow/index.js";
import { ActionFetchError, fetchCommit, fullSha, probeRepository, resolveRemoteRef } from "./fetch.js";
import { withFileLock } from "./lock.js";
import { type ActionSource, displayUrl, serverKey } from "./source.js";

export type RemoteRef = { owner: string; repo: string; path: string; ref: string };

export type RefIndexEntry = { sha: string; refName: string; resolvedAt: number };

export const remoteDirName = "_remote";

/** `owner/repo[/path]@ref`, as a workflow writes it. */
export function refLabel(r: RemoteRef): string {
  return `${r.owner}/${r.repo}${r.path ? `/${r.path}` : ""}@${r.ref}`;
}

/** The legacy (`actions add`) directory of a ref: `<actions>/<owner>/<repo>@<ref>`. */
export function addedActionDir(actionsDir: string, r: RemoteRef): string {
  validateActionRef(r);
  return join(actionsDir, r.owner, `${r.repo}@${r.ref}`);
}

/** An added action, as written or with owner and repository in lower case (GitHub ignores their case). */
function findAdded(actionsDir: string, r: RemoteRef): string | undefined {
  const exact = addedActionDir(actionsDir, r);
  if (existsSync(exact)) return exact;
  const lower = addedActionDir(actionsDir, {
    ...r,
    owner: r.owner.toLowerCase(),
    repo: r.repo.toLowerCase(),
  });
  return existsSync(lower) ? lower : undefined;
}

export function repoCacheDir(actionsDir: string, source: ActionSource, r: RemoteRef): string {
  validateActionRef(r);
  return join(actionsDir, remoteDirName, serverKey(source.url), r.owner, r.repo);
}

export function readRefIndex(repoDir: string): Record<string, RefIndexEntry> {
  try {
    const value = JSON.parse(readFileSync(join(repoDir, "refs.json"), "utf8"));
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

export function writeRefIndex(repoDir: string, index: Record<string, RefIndexEntry>): void {
  const file = join(repoDir, "refs.json");
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(index, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

function touch(dir: string): void {
  const now = new Date();
  try {
    utimesSync(dir, now, now);
  } catch {
    // Only the last-use time; a read-only cache still serves.
  }
}

/** One fetch per commit in this process; the lock file makes it one per machine. */
const inflight = new Map<string, Promise<void>>();

export class ActionCache {
  /** `owner/repo@ref` → the directory of the repository's files, for the synchronous action loader. */
  readonly #resolved = new Map<string, string>();

  readonly actionsDir: string;
  readonly source: ActionSource;

  constructor(actionsDir: string, source: ActionSource) {
    this.actionsDir = actionsDir;
    this.source = source;
  }

  /** The server, shown without credentials. */
  get server(): string {
    return displayUrl(this.source.url);
  }

  /** The repository directory of a ref ensured before (or added with `actions add`), or undefined. */
  lookup(r: RemoteRef): string | undefined {
    return this.#resolved.get(`${r.owner}/${r.repo}@${r.ref}`) ?? findAdded(this.actionsDir, r);
  }

  /**
   * The directory holding the repository's files at the commit `ref` names: from `actions add`, from
   * the cache, or fetched now. Throws ActionFetchError (naming the action, the server and why) or,
   * offline, a UserError naming the missing action.
   */
  async ensure(r: RemoteRef, signal?: AbortSignal): Promise<string> {
    const key = `${r.owner}/${r.repo}@${r.ref}`;
    const known = this.lookup(r);
    if (known) return known;
    const repoDir = repoCacheDir(this.actionsDir, this.source, r);
    const target = await this.#resolve(r, repoDir, signal);
    const dir = join(repoDir, target.sha);
    if (!existsSync(dir)) {
      if (this.source.offline) throw this.#missing(r);
      let pending = inflight.get(dir);
      if (!pending) {
        pending = this.#fetch(r, target, repoDir, dir, signal).finally(() => inflight.delete(dir));
        inflight.set(dir, pending);
      }
      await pending;
    }
    touch(dir);
    this.#resolved.set(key, dir);
    return dir;
  }

  /** For `--dryrun`: undefined when the ref is cached or the server has it; otherwise why not. */
  async check(r: RemoteRef, signal?: AbortSignal): Promise<string | undefined> {
    if (this.lookup(r)) return undefined;
    const repoDir = repoCacheDir(this.actionsDir, this.source, r);
    try {
      const target = await this.#resolve(r, repoDir, signal);
      if (existsSync(join(repoDir, target.sha))) {
        this.#resolved.set(`${r.owner}/${r.repo}@${r.ref}`, join(repoDir, target.sha));
        return undefined;
      }
      if (this.source.offline) return this.#missing(r).message;
      if (fullSha.test(r.ref)) await probeRepository(this.source, r, refLabel(r), signal);
      return undefined;
    } catch (err) {
      if (err instanceof ActionFetchError || err instanceof UserError) return err.message;
      throw err;
    }
  }

  /** Re-resolves every cached ref of this source's server and fetches what moved (`actions update`). */
  async update(
    r: Omit<RemoteRef, "path" | "ref">,
    signal?: AbortSignal,
  ): Promise<{ ref: string; from: string; to: string }[]> {
    const repoDir = repoCacheDir(this.actionsDir, this.source, { ...r, path: "", ref: "main" });
    const index = readRefIndex(repoDir);
    const changes: { ref: string; from: string; to: string }[] = [];
    for (const [ref, entry] of Object.entries(index)) {
      if (fullSha.test(ref)) continue;
      const label = `${r.owner}/${r.repo}@${ref}`;
      const now = await resolveRemoteRef(this.source, { ...r, ref }, label, signal);
      const dir = join(repoDir, now.sha);
      if (!existsSync(dir)) await this.#fetch({ ...r, path: "", ref }, now, repoDir, dir, signal);
      index[ref] = { sha: now.sha, refName: now.refName, resolvedAt: Date.now() };
      if (now.sha !== entry.sha) changes.push({ ref, from: entry.sha, to: now.sha });
    }
    writeRefIndex(repoDir, { ...readRefIndex(repoDir), ...index });
    return changes;
  }

  #missing(r: RemoteRef): UserError {
    return new UserError(
      `action ${refLabel(r)} is not in the action cache and slipway is offline (server ${this.server}): ` +
        `run once without --offline, or add it with 'slipway actions add ${r.owner}/${r.repo}@${r.ref} --from <dir or git url>'`,
    );
  }

  async #resolve(
    r: RemoteRef,
    repoDir: string,
    signal?: AbortSignal,
  ): Promise<{ sha: string; refName: string }> {
    if (fullSha.test(r.ref)) return { sha: r.ref.toLowerCase(), refName: r.ref.toLowerCase() };
    const entry = readRefIndex(repoDir)[r.ref];
    // Offline, any resolution is better than none; online, one within the TTL.
    if (entry && (this.source.offline || Date.now() - entry.resolvedAt <= this.source.refTtlMs))
      return { sha: entry.sha, refName: entry.refName };
    if (this.source.offline) throw this.#missing(r);
    const target = await resolveRemoteRef(this.source, r, refLabel(r), signal);
    mkdirSync(repoDir, { recursive: true, mode: 0o700 });
    writeRefIndex(repoDir, { ...readRefIndex(repoDir), [r.ref]: { ...target, resolvedAt: Date.now() } });
    return target;
  }

  async #fetch(
    r: RemoteRef,
    target: { sha: string; refName: string },
    repoDir: string,
    dir: string,
    signal?: AbortSignal,
  ): Promise<void> {
    mkdirSync(repoDir, { recursive: true, mode: 0o700 });
    await withFileLock(
      `${dir}.lock`,
      async () => {
        if (existsSync(dir)) return; // Another process fetched it while this one waited.
        const work = mkdtempSync(join(repoDir, `.tmp-${target.sha.slice(0, 12)}-`));
        try {
          const files = join(work, "files");
          await fetchCommit(this.source, r, target, work, files, refLabel(r), signal);
          try {
            renameSync(files, dir);
          } catch (err) {
            if (!existsSync(dir)) throw err;
          }
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
        if (fullSha.test(r.ref))
          writeRefIndex(repoDir, {
            ...readRefIndex(repoDir),
            [target.sha]: { ...target, resolvedAt: Date.now() },
          });
      },
      signal,
    );
  }
}
