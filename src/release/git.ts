// Reading a release's inputs from a git repository: the tags, the commits since the previous release,
// the commit to release and the merged pull request (title, number, web address). Reads only.
import { readFile } from "node:fs/promises";
import { UserError } from "../lib/errors.js";
import { gitResult, parseRemoteUrl, resolveCommit } from "../lib/git.js";
import {
  defaultTemplate,
  describeCommit,
  findPreviousRelease,
  type Markers,
  parseTagTemplate,
  type ReleaseCommit,
  type ReleaseInput,
} from "./plan.js";

export type ReadReleaseOptions = {
  template?: string;
  /** The revision to release (default HEAD). */
  rev?: string;
  /** The merged PR's title; otherwise from the event file, otherwise from the commit to release. */
  prTitle?: string;
  prNumber?: number;
  /** A GitHub webhook payload (JSON): `pull_request.title`, `.number`, `repository.html_url`. */
  eventPath?: string;
  /** https://host/owner/name for PR links; otherwise from the event file or the `origin` remote. */
  repoUrl?: string;
  markers?: Partial<Markers>;
  initialVersion?: string;
  prerelease?: string;
  signal?: AbortSignal;
};

// Unit and record separators: they do not occur in commit messages, unlike any printable delimiter.
const US = "\x1f";
const RS = "\x1e";

/** The commits of `range` (git log syntax), newest first. */
export async function readCommits(
  repoDir: string,
  range: string,
  signal?: AbortSignal,
): Promise<ReleaseCommit[]> {
  const r = await gitResult(repoDir, ["log", `--format=%H${US}%an <%ae>${US}%s${US}%b${RS}`, range, "--"], {
    signal,
  });
  if (r.exitCode !== 0)
    throw new UserError(`cannot read the commits ${range} in ${repoDir}: ${r.stderr.trim()}`);
  return r.stdout
    .split(RS)
    .map((rec) => rec.replace(/^\n/, ""))
    .filter((rec) => rec !== "")
    .map((rec) => {
      const [sha, author, subject, body = ""] = rec.split(US);
      return { sha, author, subject, body: body.replace(/\n+$/, "") };
    });
}

/** The web address of a remote URL (https, ssh or scp-like); undefined for local paths. */
export function webUrlOfRemote(url: string): string | undefined {
  const remote = parseRemoteUrl(url);
  if (remote === undefined || !["https", "http", "ssh", "git", "scp"].includes(remote.scheme))
    return undefined;
  if (remote.owner === "") return undefined;
  // Rebuilt rather than copied, so credentials in the remote URL never reach a changelog.
  return `https://${remote.host}/${remote.owner}/${remote.repo}`;
}

type EventInfo = { prTitle?: string; prNumber?: number; repoUrl?: string };

async function readEvent(path: string): Promise<EventInfo> {
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new UserError(`event file ${path}: ${(err as Error).message}`);
  }
  const p = (payload ?? {}) as {
    pull_request?: { title?: unknown; number?: unknown };
    repository?: { html_url?: unknown };
  };
  return {
    prTitle: typeof p.pull_request?.title === "string" ? p.pull_request.title : undefined,
    prNumber: typeof p.pull_request?.number === "number" ? p.pull_request.number : undefined,
    repoUrl: typeof p.repository?.html_url === "string" ? p.repository.html_url : undefined,
  };
}

/**
 * Everything `planRelease` needs, read from the repository: the tags merged into the commit to release
 * (a tag on another branch is not this line's previous release), the commits since the previous release
 * (the whole history when there is none), and the merged PR.
 */
export async function readReleaseInputs(
  repoDir: string,
  opts: ReadReleaseOptions = {},
): Promise<ReleaseInput> {
  const template = opts.template ?? defaultTemplate;
  const parsed = parseTagTemplate(template);
  const { signal } = opts;
  const inside = await gitResult(repoDir, ["rev-parse", "--git-dir"], { signal });
  if (inside.exitCode !== 0) throw new UserError(`${repoDir} is not a git repository`);
  const rev = opts.rev ?? "HEAD";
  const sha = await resolveCommit(repoDir, rev, { signal });
  if (sha === undefined)
    throw new UserError(
      rev === "HEAD" ? `${repoDir} has no commits` : `'${rev}' is not a commit in ${repoDir}`,
    );

  const tagList = await gitResult(repoDir, ["tag", "--list", "--merged", sha], { signal });
  if (tagList.exitCode !== 0)
    throw new UserError(`cannot list the tags of ${repoDir}: ${tagList.stderr.trim()}`);
  const tags = tagList.stdout.split("\n").filter((t) => t !== "");
  const { previous } = findPreviousRelease(tags, parsed);
  const commits = await readCommits(repoDir, previous ? `refs/tags/${previous.tag}..${sha}` : sha, signal);
  const date = (await gitResult(repoDir, ["log", "-1", "--format=%cI", sha], { signal })).stdout
    .trim()
    .slice(0, 10);

  // The PR: given, or from the event, or from the commit itself (a GitHub merge or squash commit).
  const event = opts.eventPath ? await readEvent(opts.eventPath) : {};
  let prTitle = opts.prTitle ?? event.prTitle;
  let prNumber = opts.prNumber ?? (opts.prTitle === undefined ? event.prNumber : undefined);
  // git log starts at its tip: commits[0] is the commit to release, unless nothing is new.
  const head = commits[0]?.sha === sha ? commits[0] : undefined;
  if (prTitle === undefined && head) {
    const d = describeCommit(head);
    if (d.pr !== undefined) {
      prTitle = d.title.replace(/\s*\(#\d+\)$/, "");
      prNumber ??= d.pr;
    }
  }
  let repoUrl = opts.repoUrl ?? event.repoUrl;
  if (repoUrl === undefined) {
    const origin = await gitResult(repoDir, ["remote", "get-url", "origin"], { signal });
    if (origin.exitCode === 0) repoUrl = webUrlOfRemote(origin.stdout.trim());
  }

  return {
    tags,
    template,
    commits,
    sha,
    date,
    prTitle,
    prNumber,
    repoUrl,
    markers: opts.markers,
    initialVersion: opts.initialVersion,
    prerelease: opts.prerelease,
  };
}
