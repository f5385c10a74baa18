// The git reads an event is made from: commands that may fail without it being an error, and the files a
// commit or a range of commits changed (what `paths:` filters match).
import { git, gitResult, resolveCommit } from "../lib/git.js";

// lib/git reads without taking the index lock a git command in the user's shell may hold, in the C
// locale so git's messages can be recognised.
export async function gitMaybe(repoDir: string, args: string[]): Promise<string | undefined> {
  const result = await gitResult(repoDir, args);
  return result.exitCode === 0 ? result.stdout : undefined;
}

export async function commitExists(repoDir: string, sha: string): Promise<boolean> {
  if (sha === "" || /^0+$/.test(sha)) return false;
  return (await resolveCommit(repoDir, sha)) !== undefined;
}

export type FileChanges = { added: string[]; removed: string[]; modified: string[] };

/** Parses `--name-status -z` output. A rename counts as removing the old path and adding the new one. */
export function parseNameStatus(output: string): FileChanges {
  const changes: FileChanges = { added: [], removed: [], modified: [] };
  const fields = output.split("\0");
  let i = 0;
  while (i < fields.length && fields[i] !== "") {
    const status = fields[i][0];
    if (status === "R" || status === "C") {
      if (status === "R") changes.removed.push(fields[i + 1]);
      changes.added.push(fields[i + 2]);
      i += 3;
    } else {
      const file = fields[i + 1];
      if (status === "A") changes.added.push(file);
      else if (status === "D") changes.removed.push(file);
      else changes.modified.push(file);
      i += 2;
    }
  }
  return changes;
}

export function changedPaths(changes: FileChanges): string[] {
  return [...new Set([...changes.added, ...changes.removed, ...changes.modified])];
}

export const diffArgs = ["--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv"];

export async function diffChanges(repoDir: string, from: string, to: string): Promise<FileChanges> {
  return parseNameStatus(await git(repoDir, ["diff", ...diffArgs, from, to]));
}

/** Changes of one commit against its first parent, or everything in it for a root commit. */
export async function commitChanges(
  repoDir: string,
  sha: string,
  parent: string | undefined,
): Promise<FileChanges> {
  if (parent !== undefined) return diffChanges(repoDir, parent, sha);
  return parseNameStatus(
    await git(repoDir, ["diff-tree", "--root", "-r", "--no-commit-id", ...diffArgs, sha]),
  );
}
