// The git side of fetching an action: which commit a ref names on the server (`git ls-remote`), and
// that commit's files put in a directory. Works over smart HTTP, git://, ssh and git's dumb HTTP (a
// static file server over bare repositories), which has no shallow fetch, so a shallow fetch that the
// server refuses is retried whole. Every name from a workflow has been validated (action-ref.ts) and
// comes after `--`, so none can be taken for an option; the token is in the environment, not argv.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { OperationError } from "../../lib/errors.js";
import { type GitResult, gitResult } from "../../lib/git.js";
import { type ActionSource, displayUrl, gitEnvFor } from "./source.js";

export type RepoRef = { owner: string; repo: string; ref: string };

export const fullSha = /^[0-9a-f]{40}$/i;

/** Why git could not reach the action, for a person: unknown repository or ref, refused login, server down. */
export type FetchFailure =
  | "unknown repository"
  | "unknown ref"
  | "authentication refused"
  | "server unreachable"
  | "failed";

export class ActionFetchError extends OperationError {
  readonly action: string;
  readonly server: string;
  readonly reason: FetchFailure;

  constructor(action: string, server: string, reason: FetchFailure, detail: string) {
    super(`cannot fetch action ${action} from ${server}: ${reason}${detail ? ` (${detail})` : ""}`);
    this.action = action;
    this.server = server;
    this.reason = reason;
  }
}

export function repoUrl(source: ActionSource, r: RepoRef): string {
  return `${source.url}/${r.owner}/${r.repo}`;
}

/** The reason behind a failed git command, from its (C locale) messages. */
export function classify(stderr: string): FetchFailure {
  const s = stderr.toLowerCase();
  if (
    /authentication failed|could not read (username|password)|terminal prompts disabled|permission denied|http[^\n]*\b40[13]\b|\b40[13]\b/.test(
      s,
    )
  )
    return "authentication refused";
  if (
    /connection refused|could not resolve host|failed to connect|unable to connect|couldn't connect|connection timed out|network is unreachable|\b5\d\d\b/.test(
      s,
    )
  )
    return "server unreachable";
  if (
    /not found|does not appear to be a git repository|no such repository|not a git repository|\b404\b|access denied|repository .* does not exist/.test(
      s,
    )
  )
    return "unknown repository";
  if (
    /couldn't find remote ref|not our ref|no such remote ref|invalid refspec|bad object|unadvertised object/.test(
      s,
    )
  )
    return "unknown ref";
  return "failed";
}

/** git's last meaningful line, without credentials a URL might hold. */
function detail(r: GitResult, source: ActionSource): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("hint:"));
  let line = lines.at(-1) ?? `git exited with ${r.exitCode}`;
  line = line.replace(/[a-z+]+:\/\/[^\s'"]+/gi, (u) => displayUrl(u));
  if (source.token) line = line.split(source.token).join("***");
  return line.slice(0, 300);
}

function failure(
  source: ActionSource,
  action: string,
  r: GitResult,
  reason?: FetchFailure,
): ActionFetchError {
  return new ActionFetchError(
    action,
    displayUrl(source.url),
    reason ?? classify(r.stderr),
    detail(r, source),
  );
}

/**
 * The commit `ref` names on the server: a tag (peeled) before a branch, as `git rev-parse` and GitHub
 * resolve it. A full sha is returned as it is, without asking the server.
 */
export async function resolveRemoteRef(
  source: ActionSource,
  r: RepoRef,
  action: string,
  signal?: AbortSignal,
): Promise<{ sha: string; refName: string }> {
  if (fullSha.test(r.ref)) return { sha: r.ref.toLowerCase(), refName: r.ref.toLowerCase() };
  const res = await gitResult(
    ".",
    [
      "ls-remote",
      "--",
      repoUrl(source, r),
      `refs/tags/${r.ref}`,
      `refs/tags/${r.ref}^{}`,
      `refs/heads/${r.ref}`,
    ],
    { env: gitEnvFor(source), signal },
  );
  if (res.exitCode !== 0) throw failure(source, action, res);
  const refs = new Map<string, string>();
  for (const line of res.stdout.split("\n")) {
    const [sha, name] = line.trim().split(/\s+/);
    if (sha && name) refs.set(name, sha);
  }
  for (const name of [`refs/tags/${r.ref}^{}`, `refs/tags/${r.ref}`, `refs/heads/${r.ref}`]) {
    const sha = refs.get(name);
    if (sha) return { sha, refName: name.replace(/\^\{\}$/, "") };
  }
  throw new ActionFetchError(action, displayUrl(source.url), "unknown ref", `no tag or branch '${r.ref}'`);
}

/** Whether the repository is there (for a sha ref, which ls-remote cannot check without fetching). */
export async function probeRepository(
  source: ActionSource,
  r: RepoRef,
  action: string,
  signal?: AbortSignal,
): Promise<void> {
  const res = await gitResult(".", ["ls-remote", "--", repoUrl(source, r), "HEAD"], {
    env: gitEnvFor(source),
    signal,
  });
  if (res.exitCode !== 0) throw failure(source, action, res);
}

/**
 * The files of commit `sha` (reached through `refName`, a full ref, or the sha itself) written into
 * `dest`, which must not exist yet. `work` is a scratch directory the caller removes.
 */
export async function fetchCommit(
  source: ActionSource,
  r: RepoRef,
  target: { sha: string; refName: string },
  work: string,
  dest: string,
  action: string,
  signal?: AbortSignal,
): Promise<void> {
  const env = gitEnvFor(source);
  const gitDir = join(work, "repo.git");
  const init = await gitResult(".", ["init", "--quiet", "--bare", "--", gitDir], { env, signal });
  if (init.exitCode !== 0) throw failure(source, action, init, "failed");
  const url = repoUrl(source, r);
  const fetch = (extra: string[], refspecs: string[]) =>
    gitResult(gitDir, ["fetch", "--quiet", "--no-tags", ...extra, "--", url, ...refspecs], { env, signal });
  let res = await fetch(["--depth", "1"], [target.refName]);
  // Dumb HTTP has no shallow fetch; some servers refuse a sha they do not advertise: fetch all of it.
  if (
    res.exitCode !== 0 &&
    !["unknown repository", "authentication refused", "server unreachable"].includes(classify(res.stderr))
  )
    res = await fetch(
      [],
      fullSha.test(target.refName)
        ? ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        : [target.refName],
    );
  if (res.exitCode !== 0) throw failure(source, action, res);
  const has = await gitResult(gitDir, ["cat-file", "-e", `${target.sha}^{commit}`], { signal });
  if (has.exitCode !== 0)
    throw new ActionFetchError(
      action,
      displayUrl(source.url),
      fullSha.test(target.refName) ? "unknown ref" : "failed",
      fullSha.test(target.refName)
        ? `no commit ${target.sha}`
        : `${target.refName} moved while it was fetched`,
    );
  mkdirSync(dest, { recursive: true });
  const out = await gitResult(
    gitDir,
    ["--work-tree", dest, "checkout", "--quiet", "--force", target.sha, "--", "."],
    {
      signal,
    },
  );
  if (out.exitCode !== 0) throw failure(source, action, out, "failed");
}
