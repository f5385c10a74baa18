// The server's own mirror of each repository: cloned at registration, fetched on every trigger, and
// the source of job checkouts and of the workflow files of a commit.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { UserError } from "../lib/errors.js";
import { fetchMirror as fetchHeadsAndTags, git, gitResult, resolveCommit } from "../lib/git.js";
import { isCommitSha } from "../triggers/index.js";

const exec = promisify(execFile);

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

export async function fetchMirror(dir: string): Promise<void> {
  await fetchHeadsAndTags(dir);
  // Pull-request heads, where the remote has them (GitHub, Gitea); a plain repository has none.
  await gitResult(dir, ["fetch", "--quiet", "--force", "origin", "+refs/pull/*/head:refs/pull/*/head"]);
}

export async function resolveRef(dir: string, ref: string): Promise<string | undefined> {
  // A ref from a payload is not an option: rev-parse would take one starting with '-' for one.
  if (ref.startsWith("-")) return undefined;
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
  const tree = (await git(mirror, ["ls-tree", "-d", "--name-only", sha, "--", ".github"])).trim();
  if (tree) {
    await exec("sh", ["-c", 'git archive --format=tar "$1" .github | tar -x -C "$2"', "sh", sha, tmp], {
      cwd: mirror,
    });
  }
  await exec("touch", [join(tmp, ".done")]);
  rmSync(dest, { recursive: true, force: true });
  try {
    renameSync(tmp, dest);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dest;
}

/** Files changed between two commits (`base...head` for pull requests, `before..after` for pushes). */
export async function changedFiles(
  dir: string,
  from: string,
  to: string,
  threeDot = false,
): Promise<string[] | undefined> {
  if (!(await hasCommit(dir, from)) || !(await hasCommit(dir, to))) return undefined;
  const out = await git(dir, ["diff", "--name-only", threeDot ? `${from}...${to}` : `${from}..${to}`, "--"]);
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
