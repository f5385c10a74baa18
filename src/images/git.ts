// What the build planner needs from git: the commit, the branch, the last release tag and the files changed
// since. The git invocations are data (gitArgs) run by lib/git.
import semver from "semver";
import { UserError } from "../lib/errors.js";
import { git } from "../lib/git.js";

export const gitArgs = {
  root: () => ["rev-parse", "--show-toplevel"],
  head: () => ["rev-parse", "HEAD"],
  branch: () => ["rev-parse", "--abbrev-ref", "HEAD"],
  mergedTags: () => ["tag", "--merged", "HEAD", "--list"],
  tagsAtHead: () => ["tag", "--points-at", "HEAD", "--list"],
  /** Every tag with the commit it names (`*objectname` peels annotated tags). */
  tagCommits: () => [
    "for-each-ref",
    "refs/tags",
    "--format=%(refname:short)%09%(*objectname)%09%(objectname)",
  ],
  commitOf: (ref: string) => ["rev-list", "-n", "1", ref, "--"],
  /** Both sides of renames are listed (a file moved out of a context changes it too). */
  changedFiles: (from: string, to = "HEAD") => [
    "diff",
    "--name-only",
    "--no-renames",
    "-z",
    `${from}..${to}`,
    "--",
  ],
} as const;

/** The version a release tag names (`v1.2.3` or `1.2.3`), or undefined. */
export function tagVersion(tag: string): string | undefined {
  return semver.valid(tag.replace(/^v/, "")) ?? undefined;
}

/**
 * The last release: the highest version tag reachable from HEAD that does not point at HEAD itself (when
 * HEAD is the release being built, the previous one is what it is compared with).
 */
export function lastReleaseTag(merged: readonly string[], atHead: readonly string[]): string | undefined {
  const head = new Set(atHead);
  const candidates = merged.filter((t) => !head.has(t) && tagVersion(t));
  candidates.sort((a, b) => semver.rcompare(tagVersion(a)!, tagVersion(b)!) || a.localeCompare(b));
  return candidates[0];
}

export type GitState = {
  root: string;
  sha: string;
  branch: string;
  /** The version of a release tag at HEAD, if any. */
  headVersion?: string;
  /** The ref compared with: the last release tag, or `since` when given. */
  since?: string;
  previous?: { version: string; sha: string };
  /** Every earlier release reachable from HEAD, newest first (previous is the first). */
  releases?: { version: string; sha: string }[];
  /** Undefined when there is nothing to compare with (no release yet). */
  changedFiles?: string[];
};

const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** Reads what planBuild needs from the repository containing `dir`. `since` overrides the last release tag. */
export async function readGitState(
  dir: string,
  opts: { since?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<GitState> {
  const env = opts.env ?? process.env;
  const signal = opts.signal;
  let root: string;
  try {
    root = await git(dir, gitArgs.root(), { signal });
  } catch (err) {
    throw new UserError(
      `${dir} is not in a git repository: slipway build compares with the last release tag`,
      [],
      {
        cause: err,
      },
    );
  }
  const [sha, branchRaw, merged, atHead, tagCommits] = await Promise.all([
    git(root, gitArgs.head(), { signal }),
    git(root, gitArgs.branch(), { signal }),
    git(root, gitArgs.mergedTags(), { signal }).then(lines),
    git(root, gitArgs.tagsAtHead(), { signal }).then(lines),
    git(root, gitArgs.tagCommits(), { signal }).then(lines),
  ]);
  // A detached HEAD (CI checkouts) takes the branch CI names.
  const branch =
    branchRaw !== "HEAD"
      ? branchRaw
      : env.SLIPWAY_BRANCH || env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || "detached";
  const headVersion = atHead.map(tagVersion).find((v) => v !== undefined);
  const since = opts.since ?? lastReleaseTag(merged, atHead);
  const state: GitState = { root, sha, branch, headVersion, since };
  // Earlier releases, newest first: a service skipped at some releases last had the image of an older one.
  const commitOf = new Map(
    tagCommits.map((l) => {
      const [name, peeled, object] = l.split("\t");
      return [name, peeled || object] as const;
    }),
  );
  const head = new Set(atHead);
  state.releases = merged
    .filter((t) => !head.has(t) && tagVersion(t) && commitOf.has(t))
    .sort((a, b) => semver.rcompare(tagVersion(a)!, tagVersion(b)!) || a.localeCompare(b))
    .map((t) => ({ version: tagVersion(t)!, sha: commitOf.get(t)! }));
  if (since) {
    const [sinceSha, diff] = await Promise.all([
      git(root, gitArgs.commitOf(since), { signal }),
      git(root, gitArgs.changedFiles(since), { signal }),
    ]);
    state.changedFiles = diff.split("\0").filter(Boolean);
    const version = tagVersion(since);
    if (version) state.previous = { version, sha: sinceSha };
  }
  return state;
}
