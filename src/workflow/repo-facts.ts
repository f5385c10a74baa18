// What a synthesized event says about the repository: HEAD's commit, ref and changes, the default branch,
// and the repository, sender and pusher as GitHub would show them — taken from git, never invented.
import path from "node:path";
import { UserError } from "../lib/errors.js";
import { git, gitResult, parseRemoteUrl as parseRemote } from "../lib/git.js";
import { commitChanges, gitMaybe } from "./event-git.js";

type RemoteRepo = { host: string; owner: string; name: string; cloneUrl: string };

/**
 * Owner and name from an https/ssh/git URL or an scp-like `git@host:owner/name.git`; undefined for paths.
 * The owner is the segment before the name, as GitHub's `owner/name` has it: `sub` for GitLab's
 * `group/sub/project`.
 */
export function parseRemoteUrl(url: string): RemoteRepo | undefined {
  const remote = parseRemote(url);
  if (remote === undefined || remote.scheme === "file" || remote.owner === "") return undefined;
  const owner = remote.owner.split("/").at(-1)!;
  const { host, repo: name } = remote;
  // Rebuilt rather than copied, so credentials in the remote URL never reach the payload.
  return { host, owner, name, cloneUrl: `https://${host}/${owner}/${name}.git` };
}

/** The login GitHub would show: known for noreply addresses, otherwise a guess from the email. */
function guessLogin(name: string, email: string): string {
  const noreply = /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/i.exec(email);
  if (noreply !== null) return noreply[1];
  const local = email.split("@")[0];
  return local !== "" ? local : name.replace(/\s+/g, "-");
}

type Person = { name: string; email: string; username: string };

type HeadCommit = {
  id: string;
  tree_id: string;
  distinct: boolean;
  message: string;
  timestamp: string;
  url: string;
  author: Person;
  committer: Person;
  added: string[];
  removed: string[];
  modified: string[];
};

export type RepoFacts = {
  sha: string;
  /** refs/heads/<branch>, or for a detached HEAD refs/tags/<tag> or the bare sha. */
  ref: string;
  branch: string | undefined;
  parent: string | undefined;
  subject: string;
  body: string;
  headCommit: HeadCommit;
  defaultBranch: string;
  repository: Record<string, unknown>;
  sender: Record<string, unknown>;
  pusher: { name: string; email: string };
};

async function openRepository(repoDir: string): Promise<string> {
  const result = await gitResult(repoDir, ["rev-parse", "--show-toplevel"]);
  if (result.exitCode !== 0) {
    const why = result.stderr.split("\n")[0] ?? "";
    // Keep git's words when they say something other than the obvious (e.g. "dubious ownership").
    const detail = why === "" || /not a git repository/.test(why) ? "" : ` (git: ${why})`;
    throw new UserError(`${repoDir} is not a git repository${detail}`);
  }
  return result.stdout;
}

export async function readRepoFacts(repoDir: string): Promise<RepoFacts> {
  const toplevel = await openRepository(repoDir);
  const sha = await gitMaybe(repoDir, ["rev-parse", "-q", "--verify", "HEAD^{commit}"]);
  if (sha === undefined) throw new UserError(`the git repository at ${toplevel} has no commits yet`);

  const [symbolic, parent, log, originUrl, originHead, hasMain, userName, userEmail] = await Promise.all([
    gitMaybe(repoDir, ["symbolic-ref", "-q", "HEAD"]),
    gitMaybe(repoDir, ["rev-parse", "-q", "--verify", "HEAD~1^{commit}"]),
    git(repoDir, ["log", "-1", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%s%x00%b%x00%B", sha]),
    gitMaybe(repoDir, ["remote", "get-url", "origin"]),
    gitMaybe(repoDir, ["symbolic-ref", "-q", "refs/remotes/origin/HEAD"]),
    gitMaybe(repoDir, ["rev-parse", "-q", "--verify", "refs/heads/main"]),
    gitMaybe(repoDir, ["config", "user.name"]),
    gitMaybe(repoDir, ["config", "user.email"]),
  ]);

  let ref: string;
  if (symbolic !== undefined) {
    ref = symbolic;
  } else {
    // Detached HEAD: a tag at HEAD is what a tag push would carry; the highest version wins if several.
    const tags = await gitMaybe(repoDir, ["tag", "--points-at", sha, "--sort=-version:refname"]);
    const tag = tags?.split("\n").find((t) => t !== "");
    ref = tag !== undefined ? `refs/tags/${tag}` : sha;
  }
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;

  const [treeId, authorName, authorEmail, committerName, committerEmail, date, subject, body, message] =
    log.split("\0");
  const changes = await commitChanges(repoDir, sha, parent);
  const person = (name: string, email: string): Person => ({
    name,
    email,
    username: guessLogin(name, email),
  });
  const headCommit: HeadCommit = {
    id: sha,
    tree_id: treeId,
    distinct: true,
    message: message.replace(/\n+$/, ""),
    // The committer date: when this commit came to be in this form (a rebase updates it, as a push would see).
    timestamp: date,
    url: "",
    author: person(authorName, authorEmail),
    committer: person(committerName, committerEmail),
    ...changes,
  };

  const remote = originUrl === undefined ? undefined : parseRemoteUrl(originUrl);
  const owner = remote?.owner ?? "local";
  const name = remote?.name ?? path.basename(toplevel);
  const defaultBranch =
    originHead?.replace(/^refs\/remotes\/origin\//, "") ??
    (hasMain !== undefined ? "main" : (branch ?? "main"));

  const pusherName = userName ?? committerName;
  const pusherEmail = userEmail ?? committerEmail;
  return {
    sha,
    ref,
    branch,
    parent,
    subject,
    body: body.replace(/\n+$/, ""),
    headCommit,
    defaultBranch,
    repository: {
      name,
      full_name: `${owner}/${name}`,
      owner: { login: owner, name: owner },
      default_branch: defaultBranch,
      clone_url: remote?.cloneUrl ?? toplevel,
      html_url: "",
    },
    pusher: { name: pusherName, email: pusherEmail },
    sender: { login: guessLogin(pusherName, pusherEmail), type: "User" },
  };
}

/** The commit the default branch points at, locally or as last fetched from origin. */
export async function defaultBranchCommit(repoDir: string, branch: string): Promise<string | undefined> {
  return (
    (await gitMaybe(repoDir, ["rev-parse", "-q", "--verify", `refs/heads/${branch}^{commit}`])) ??
    (await gitMaybe(repoDir, ["rev-parse", "-q", "--verify", `refs/remotes/origin/${branch}^{commit}`]))
  );
}
