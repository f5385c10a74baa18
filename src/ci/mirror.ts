// The server's own mirror of each repository: cloned at registration, fetched on every trigger, and
// the source of job checkouts and of the workflow files of a commit.
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OperationError, UserError } from "../lib/errors.js";
import { git, gitResult, resolveCommit } from "../lib/git.js";
import { commitFields, GitObjectReader, treeEntries } from "../lib/git-objects.js";
import { isCommitSha } from "../triggers/index.js";

/**
 * One object reader per mirror: a webhook's commit checks, workflow files and commit details are read
 * through it instead of a git process each (most of a webhook's time to its first step was those).
 */
const readers = new Map<string, GitObjectReader>();
function objects(dir: string): GitObjectReader {
  let r = readers.get(dir);
  if (!r) {
    r = new GitObjectReader(dir);
    readers.set(dir, r);
  }
  return r;
}

/**
 * A repository URL or path that git will take as one: refused when it starts with '-' (git would read
 * it as an option, e.g. `--upload-pack=…`) or holds control characters.
 */
export function validateRepoUrl(url: string): string {
  if (url.trim() === "" || url.startsWith("-") || /[\u0000-\u001f\u007f]/.test(url))
    throw new UserError(
      `invalid repository URL ${JSON.stringify(url)}: it must not be empty, start with '-' or hold control characters`,
    );
  return url;
}

export async function createMirror(url: string, dir: string): Promise<void> {
  validateRepoUrl(url);
  if (existsSync(join(dir, "HEAD"))) return;
  mkdirSync(join(dir, ".."), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const r = await gitResult(".", ["clone", "--quiet", "--mirror", "--", url, tmp]);
  if (r.exitCode !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new UserError(`cannot clone ${url}: ${r.stderr.trim()}`);
  }
  renameSync(tmp, dir);
}

/**
 * Brings the mirror's branches, tags and pull-request heads (where the remote has them: GitHub, Gitea; a
 * glob that matches nothing is no error) up to date in one fetch. One pack per fetch (unpackLimit=1):
 * its objects appear together, so a reader never sees a commit without its tree.
 */
export async function fetchMirror(dir: string): Promise<void> {
  await git(dir, [
    "-c",
    "fetch.unpackLimit=1",
    "fetch",
    "--quiet",
    "--prune",
    "--force",
    "origin",
    "+refs/heads/*:refs/heads/*",
    "+refs/tags/*:refs/tags/*",
    "+refs/pull/*/head:refs/pull/*/head",
  ]);
}

export async function resolveRef(dir: string, ref: string): Promise<string | undefined> {
  // A ref from a payload is not an option: rev-parse would take one starting with '-' for one.
  if (ref.startsWith("-")) return undefined;
  // A commit id names the same commit for ever: the mirror's object reader answers without a process.
  if (isCommitSha(ref)) {
    const commit = await objects(dir)
      .read(`${ref}^{commit}`)
      .catch(() => null);
    if (commit !== null) return commit?.oid;
  }
  return resolveCommit(dir, ref);
}

export async function hasCommit(dir: string, sha: string): Promise<boolean> {
  return (await resolveRef(dir, sha)) !== undefined;
}

/** The files of `.github/` at a commit, extracted once per commit (commits are immutable). */
export async function checkoutWorkflows(mirror: string, sha: string, cacheDir: string): Promise<string> {
  // The sha names a directory that is replaced: only a full commit id may (never `..` or a path).
  if (!isCommitSha(sha)) throw new UserError(`not a commit id (40 or 64 hex digits): ${JSON.stringify(sha)}`);
  const dest = join(cacheDir, sha);
  if (existsSync(join(dest, ".done"))) return dest;
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const reader = objects(mirror);
    if (!(await reader.read(`${sha}^{commit}`)))
      throw new OperationError(`commit ${sha} is not in ${mirror}`);
    const tree = await reader.read(`${sha}:.github`);
    if (tree?.type === "tree")
      await writeTree(reader, tree.content, tree.oid.length / 2, join(tmp, ".github"));
    writeFileSync(join(tmp, ".done"), "");
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(dest, { recursive: true, force: true });
  try {
    renameSync(tmp, dest);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dest;
}

/** Writes a tree's files as `git archive | tar -x` did: executables 0755, symlinks as symlinks. */
async function writeTree(
  reader: GitObjectReader,
  content: Buffer,
  idBytes: number,
  dir: string,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const e of treeEntries(content, idBytes)) {
    // Names come from git's tree, which never holds '/', '.' or '..'; refuse them all the same.
    if (e.name === "" || e.name === "." || e.name === ".." || e.name.includes("/")) continue;
    const path = join(dir, e.name);
    if (e.mode === "160000") {
      mkdirSync(path); // a submodule: git archive leaves an empty directory
      continue;
    }
    const obj = await reader.read(e.oid);
    if (!obj) throw new Error(`object ${e.oid} (${e.name}) is missing from the mirror`);
    if (e.mode === "40000") await writeTree(reader, obj.content, idBytes, path);
    else if (e.mode === "120000") symlinkSync(obj.content.toString(), path);
    else writeFileSync(path, obj.content, { mode: e.mode === "100755" ? 0o755 : 0o644 });
  }
}

/** Files changed between two commits (`base...head` for pull requests, `before..after` for pushes). */
export async function changedFiles(
  dir: string,
  from: string,
  to: string,
  threeDot = false,
): Promise<string[] | undefined> {
  const range = threeDot ? `${from}...${to}` : `${from}..${to}`;
  if (isCommitSha(from) && isCommitSha(to)) {
    // Commit ids cannot be options; a missing commit makes the diff fail, which means the same.
    const r = await gitResult(dir, ["diff", "--name-only", range, "--"]);
    return r.exitCode === 0 ? r.stdout.split("\n").filter(Boolean) : undefined;
  }
  if (!(await hasCommit(dir, from)) || !(await hasCommit(dir, to))) return undefined;
  const out = await git(dir, ["diff", "--name-only", range, "--"]);
  return out.split("\n").filter(Boolean);
}

/** Files of one commit (for a push whose `before` is unknown: a new branch or the first push). */
export async function filesOfCommit(dir: string, sha: string): Promise<string[]> {
  const out = await git(dir, ["diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha, "--"]);
  return out.split("\n").filter(Boolean);
}

export async function headOf(dir: string, branch: string): Promise<string | undefined> {
  return resolveRef(dir, `refs/heads/${branch}`);
}

export async function commitInfo(
  dir: string,
  sha: string,
): Promise<{ message: string; author: string; email: string; timestamp: string }> {
  if (isCommitSha(sha)) {
    const commit = await objects(dir)
      .read(`${sha}^{commit}`)
      .catch(() => undefined);
    if (commit) return commitFields(commit.content);
  }
  const out = await git(dir, ["show", "-s", "--format=%B%x00%an%x00%ae%x00%cI", sha, "--"]);
  const [message, author, email, timestamp] = out.split("\0");
  return { message: message.trim(), author, email, timestamp: timestamp.trim() };
}

/** The branch HEAD names (a mirror's default branch), if any. */
export async function symbolicHead(dir: string): Promise<string | undefined> {
  try {
    return (await git(dir, ["symbolic-ref", "--short", "HEAD"])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Every branch and tag of a repository with the object it names. */
export async function refHeads(dir: string): Promise<Record<string, string>> {
  const out = await git(dir, [
    "for-each-ref",
    "--format=%(refname) %(objectname)",
    "refs/heads",
    "refs/tags",
  ]);
  const heads: Record<string, string> = {};
  for (const line of out.split("\n").filter(Boolean)) {
    const [ref, sha] = line.split(" ");
    heads[ref] = sha;
  }
  return heads;
}
