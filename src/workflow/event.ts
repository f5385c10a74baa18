// The event a run starts from: synthesized from the local git repository for `slipway run <event>`, or
// read from a webhook payload file for `slipway run -e FILE`, plus the GITHUB_REF / GITHUB_SHA GitHub
// would derive from it.
//
// Synthesized payloads carry the fields workflows commonly read (`github.event.head_commit.message`,
// `github.event.pull_request.base.ref`, …) with values taken from git; fields only GitHub knows
// (ids, URLs, logins) are empty or best guesses, never invented to look real.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../lib/errors.js";
import { git, gitResult, parseRemoteUrl as parseRemote, resolveCommit } from "../lib/git.js";
import type { TriggerEvent } from "./triggers.js";

const zeroSha = "0000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------------------------
// git

// lib/git reads without taking the index lock a git command in the user's shell may hold, in the C
// locale so git's messages can be recognised.
async function gitMaybe(repoDir: string, args: string[]): Promise<string | undefined> {
  const result = await gitResult(repoDir, args);
  return result.exitCode === 0 ? result.stdout : undefined;
}

async function commitExists(repoDir: string, sha: string): Promise<boolean> {
  if (sha === "" || /^0+$/.test(sha)) return false;
  return (await resolveCommit(repoDir, sha)) !== undefined;
}

type FileChanges = { added: string[]; removed: string[]; modified: string[] };

/** Parses `--name-status -z` output. A rename counts as removing the old path and adding the new one. */
function parseNameStatus(output: string): FileChanges {
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

function changedPaths(changes: FileChanges): string[] {
  return [...new Set([...changes.added, ...changes.removed, ...changes.modified])];
}

const diffArgs = ["--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv"];

async function diffChanges(repoDir: string, from: string, to: string): Promise<FileChanges> {
  return parseNameStatus(await git(repoDir, ["diff", ...diffArgs, from, to]));
}

/** Changes of one commit against its first parent, or everything in it for a root commit. */
async function commitChanges(repoDir: string, sha: string, parent: string | undefined): Promise<FileChanges> {
  if (parent !== undefined) return diffChanges(repoDir, parent, sha);
  return parseNameStatus(
    await git(repoDir, ["diff-tree", "--root", "-r", "--no-commit-id", ...diffArgs, sha]),
  );
}

// ---------------------------------------------------------------------------------------------------
// repository facts

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

type RepoFacts = {
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

async function readRepoFacts(repoDir: string): Promise<RepoFacts> {
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
async function defaultBranchCommit(repoDir: string, branch: string): Promise<string | undefined> {
  return (
    (await gitMaybe(repoDir, ["rev-parse", "-q", "--verify", `refs/heads/${branch}^{commit}`])) ??
    (await gitMaybe(repoDir, ["rev-parse", "-q", "--verify", `refs/remotes/origin/${branch}^{commit}`]))
  );
}

// ---------------------------------------------------------------------------------------------------
// synthesis

async function synthesizePullRequest(
  repoDir: string,
  facts: RepoFacts,
  eventName: string,
): Promise<TriggerEvent> {
  const headRef = facts.branch ?? facts.sha;
  const defaultSha = await defaultBranchCommit(repoDir, facts.defaultBranch);
  const mergeBase =
    facts.branch !== facts.defaultBranch && defaultSha !== undefined
      ? await gitMaybe(repoDir, ["merge-base", defaultSha, facts.sha])
      : undefined;

  let baseSha: string;
  let changedFiles: string[];
  if (mergeBase !== undefined) {
    baseSha = mergeBase;
    changedFiles = changedPaths(await diffChanges(repoDir, mergeBase, facts.sha));
  } else {
    // On the default branch itself (or with no default branch to compare to) the "PR" is the last commit.
    baseSha = facts.parent ?? facts.sha;
    changedFiles = changedPaths(facts.headCommit);
  }

  const user = { login: facts.sender.login };
  const pullRequest = {
    number: 1,
    state: "open",
    draft: false,
    merged: false,
    title: facts.subject,
    body: facts.body === "" ? null : facts.body,
    user,
    labels: [],
    head: { ref: headRef, sha: facts.sha, label: headRef, repo: facts.repository, user },
    base: {
      ref: facts.defaultBranch,
      sha: baseSha,
      label: facts.defaultBranch,
      repo: facts.repository,
      user,
    },
    html_url: "",
  };
  return {
    name: eventName,
    payload: {
      action: "opened",
      number: 1,
      pull_request: pullRequest,
      repository: facts.repository,
      sender: facts.sender,
    },
    changedFiles,
    ref: facts.ref,
    sha: facts.sha,
  };
}

/**
 * An event as if the current state of the repository at `repoDir` had just caused it: a push of HEAD,
 * a pull request from the current branch into the default branch, a dispatch on the current ref, … .
 * For events other than push, pull_request(_target) and workflow_dispatch, `opts.inputs.action`
 * (if given) becomes `payload.action` so `types:` filters can be exercised.
 */
export async function synthesizeEvent(
  repoDir: string,
  eventName: string,
  opts: { inputs?: Record<string, string> } = {},
): Promise<TriggerEvent> {
  const facts = await readRepoFacts(repoDir);
  const common = { repository: facts.repository, sender: facts.sender };

  switch (eventName) {
    case "push":
      return {
        name: eventName,
        payload: {
          ref: facts.ref,
          before: facts.parent ?? zeroSha,
          after: facts.sha,
          base_ref: null,
          created: false,
          deleted: false,
          forced: false,
          compare: "",
          commits: [facts.headCommit],
          head_commit: facts.headCommit,
          pusher: facts.pusher,
          ...common,
        },
        changedFiles: changedPaths(facts.headCommit),
        ref: facts.ref,
        sha: facts.sha,
      };
    case "pull_request":
    case "pull_request_target":
      return synthesizePullRequest(repoDir, facts, eventName);
    case "workflow_dispatch":
      return {
        name: eventName,
        payload: { inputs: { ...opts.inputs }, ref: facts.ref, ...common },
        ref: facts.ref,
        sha: facts.sha,
      };
    default: {
      const action = opts.inputs?.action;
      return {
        name: eventName,
        payload: action === undefined ? common : { action, ...common },
        ref: facts.ref,
        sha: facts.sha,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// event files

/** Offset of the first JSON syntax error, since V8's messages give one only for some errors. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const failure = { at: 0 };
  const fail = (): never => {
    failure.at = i;
    throw failure;
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i])) i++;
        else fail();
      } else if (c < " ") fail();
      else i++;
    }
    fail();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        space();
        if (text[i] === close) {
          i++;
          return;
        }
        if (text[i] !== ",") fail();
        i++;
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
    literal.lastIndex = i;
    const match = literal.exec(text);
    if (match === null) fail();
    else i += match[0].length;
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (err) {
    if (err === failure) return failure.at;
    throw err;
  }
}

function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, col: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

function parseEventJson(file: string, text: string): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    const { line, col } = lineAndColumn(text, jsonErrorOffset(text));
    const why = (err as Error).message.replace(/ in JSON at position \d+.*$/, "");
    const message = `invalid JSON: ${why}`;
    throw new UserError(`${file}:${line}:${col}: ${message}`, [{ file, line, col, message }], { cause: err });
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new UserError(`${file}: an event payload must be a JSON object`);
  }
  return payload as Record<string, unknown>;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

async function changedFilesOfPayload(
  eventName: string,
  payload: Record<string, unknown>,
  repoDir: string,
): Promise<string[] | undefined> {
  if (eventName === "push") {
    const commits = Array.isArray(payload.commits) ? payload.commits.map(record) : [];
    if (commits.length > 0) {
      const files = commits.flatMap((c) =>
        [c.added, c.modified, c.removed].flatMap((l) => (Array.isArray(l) ? l.map(String) : [])),
      );
      return [...new Set(files)];
    }
    const before = str(payload.before);
    const after = str(payload.after);
    if (before !== undefined && after !== undefined) {
      if ((await commitExists(repoDir, before)) && (await commitExists(repoDir, after))) {
        return changedPaths(await diffChanges(repoDir, before, after));
      }
    }
    return undefined;
  }
  const pr = record(payload.pull_request);
  const base = str(record(pr.base).sha);
  const head = str(record(pr.head).sha);
  if (base !== undefined && head !== undefined) {
    if ((await commitExists(repoDir, base)) && (await commitExists(repoDir, head))) {
      // Three dots: what the head branch changed since it left the base, as GitHub's PR diff shows.
      // Unrelated histories have no merge base, and then the changes are unknown.
      const output = await gitMaybe(repoDir, ["diff", ...diffArgs, `${base}...${head}`]);
      return output === undefined ? undefined : changedPaths(parseNameStatus(output));
    }
  }
  return undefined;
}

/**
 * Reads a webhook payload saved as JSON (`slipway run -e FILE`). Changed files come from the payload
 * or, when it only names commits, from the repository at `repoDir`; if neither can tell, they are
 * left unknown and path filters pass.
 */
export async function loadEventFile(file: string, eventName: string, repoDir: string): Promise<TriggerEvent> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read event file ${file}: ${(err as Error).message}`, [], { cause: err });
  }
  const payload = parseEventJson(file, text.replace(/^\uFEFF/, ""));
  const changedFiles = await changedFilesOfPayload(eventName, payload, repoDir);
  // The local checkout stands in for the ref and commit of events whose payload names neither.
  const [sha, ref] = await Promise.all([
    gitMaybe(repoDir, ["rev-parse", "-q", "--verify", "HEAD^{commit}"]),
    gitMaybe(repoDir, ["symbolic-ref", "-q", "HEAD"]),
  ]);
  const event: TriggerEvent = { name: eventName, payload, changedFiles };
  if (sha !== undefined) {
    event.sha = sha;
    event.ref = ref ?? sha;
  }
  return event;
}

// ---------------------------------------------------------------------------------------------------
// GITHUB_REF and GITHUB_SHA

const pullRequestEvents = new Set(["pull_request", "pull_request_review", "pull_request_review_comment"]);

function fallbackRef(event: TriggerEvent): string {
  // GitHub uses the default branch for most events; a local run uses the checkout the user is on,
  // so that the ref agrees with the commit (event.sha) the run actually uses.
  if (event.ref !== undefined) return event.ref;
  const defaultBranch = str(record(event.payload.repository).default_branch);
  return defaultBranch === undefined ? "" : `refs/heads/${defaultBranch}`;
}

/** The GITHUB_REF GitHub would set for this event. */
export function eventRef(event: TriggerEvent): string {
  const p = event.payload;
  const pr = record(p.pull_request);
  if (event.name === "push" || event.name === "workflow_dispatch") return str(p.ref) ?? fallbackRef(event);
  if (pullRequestEvents.has(event.name)) {
    const number = p.number ?? pr.number;
    return number === undefined ? fallbackRef(event) : `refs/pull/${number}/merge`;
  }
  if (event.name === "pull_request_target") {
    const base = str(record(pr.base).ref);
    return base === undefined ? fallbackRef(event) : `refs/heads/${base.replace(/^refs\/heads\//, "")}`;
  }
  if (event.name === "release") {
    const tag = str(record(p.release).tag_name);
    return tag === undefined ? fallbackRef(event) : `refs/tags/${tag}`;
  }
  if (event.name === "create") {
    const ref = str(p.ref);
    if (ref !== undefined && p.ref_type === "tag") return `refs/tags/${ref}`;
    if (ref !== undefined && p.ref_type === "branch") return `refs/heads/${ref}`;
  }
  return fallbackRef(event);
}

/**
 * The GITHUB_SHA GitHub would set for this event. For pull requests GitHub uses the sha of its
 * test-merge commit, which does not exist in a local clone, so the head sha stands in for it.
 */
export function eventSha(event: TriggerEvent): string {
  const p = event.payload;
  const pr = record(p.pull_request);
  if (event.name === "push") return str(p.after) ?? event.sha ?? "";
  if (pullRequestEvents.has(event.name)) return str(record(pr.head).sha) ?? event.sha ?? "";
  if (event.name === "pull_request_target") return str(record(pr.base).sha) ?? event.sha ?? "";
  return event.sha ?? "";
}
