// What `slipway actions list/prune` see of the cache: every entry with its commit, the refs that name
// it, its size and its last use, both fetched entries and those `actions add` put there.
import { lstatSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { readRefIndex, remoteDirName } from "./cache.js";

export type CachedAction = {
  /** `fetched` (by commit, from a server) or `added` (`actions add`, by ref). */
  kind: "fetched" | "added";
  server: string;
  action: string;
  sha: string;
  refs: string[];
  bytes: number;
  lastUsed: number;
  dir: string;
};

function dirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Bytes of the files under dir (symlinks counted as themselves, not followed). */
export function treeSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += treeSize(p);
    else total += lstatSync(p).size;
  }
  return total;
}

export function listCachedActions(actionsDir: string): CachedAction[] {
  const out: CachedAction[] = [];
  const remote = join(actionsDir, remoteDirName);
  for (const server of dirs(remote))
    for (const owner of dirs(join(remote, server)))
      for (const repo of dirs(join(remote, server, owner))) {
        const repoDir = join(remote, server, owner, repo);
        const index = readRefIndex(repoDir);
        for (const sha of dirs(repoDir).filter((d) => /^[0-9a-f]{40}$/.test(d))) {
          const dir = join(repoDir, sha);
          out.push({
            kind: "fetched",
            server,
            action: `${owner}/${repo}`,
            sha,
            refs: Object.entries(index)
              .filter(([, e]) => e.sha === sha)
              .map(([ref]) => ref)
              .sort(),
            bytes: treeSize(dir),
            lastUsed: statSync(dir).mtimeMs,
            dir,
          });
        }
      }
  for (const owner of dirs(actionsDir).filter((d) => d !== remoteDirName))
    for (const name of dirs(join(actionsDir, owner))) {
      const at = name.indexOf("@");
      if (at <= 0) continue;
      const dir = join(actionsDir, owner, name);
      out.push({
        kind: "added",
        server: "",
        action: `${owner}/${name.slice(0, at)}`,
        sha: "",
        refs: [name.slice(at + 1)],
        bytes: treeSize(dir),
        lastUsed: statSync(dir).mtimeMs,
        dir,
      });
    }
  return out.sort((a, b) => a.action.localeCompare(b.action) || a.lastUsed - b.lastUsed);
}

export type PruneCandidate = { entry: CachedAction; why: string };

/**
 * Fetched entries no ref names any more (moved by `actions update`) and any entry unused for longer
 * than `olderThanMs`. Temp dirs of fetches that died are always removed by prune.
 */
export function pruneCandidates(actionsDir: string, olderThanMs: number, now = Date.now()): PruneCandidate[] {
  const out: PruneCandidate[] = [];
  for (const entry of listCachedActions(actionsDir)) {
    if (now - entry.lastUsed > olderThanMs)
      out.push({ entry, why: `unused for ${Math.floor((now - entry.lastUsed) / 86_400_000)} days` });
    else if (entry.kind === "fetched" && entry.refs.length === 0) out.push({ entry, why: "no ref names it" });
  }
  return out;
}

/** Removes the entries and the temp dirs that fetches which died left behind; returns bytes freed. */
export function prune(actionsDir: string, candidates: PruneCandidate[]): number {
  let freed = 0;
  for (const { entry } of candidates) {
    freed += entry.bytes;
    rmSync(entry.dir, { recursive: true, force: true });
  }
  const remote = join(actionsDir, remoteDirName);
  for (const server of dirs(remote))
    for (const owner of dirs(join(remote, server)))
      for (const repo of dirs(join(remote, server, owner)))
        for (const d of dirs(join(remote, server, owner, repo)).filter((n) => n.startsWith(".tmp-"))) {
          const p = join(remote, server, owner, repo, d);
          // A fetch in progress holds its temp dir for seconds; one an hour old died.
          if (Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
        }
  return freed;
}
