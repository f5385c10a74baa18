// Running git, and reading what slipway needs of it in more than one place: a commit a revision names, a
// file at a commit, and where a remote lives. Arguments are passed as an array, never through a shell;
// a caller puts `--` (or `--end-of-options`) before anything a user supplied, so a ref or URL that
// starts with '-' is never taken as an option. git never prompts for credentials here and speaks the C
// locale, so its messages can be recognised.
import { execa } from "execa";
import { OperationError } from "./errors.js";

export type GitOptions = {
  signal?: AbortSignal;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to git's stdin. */
  input?: string;
};

export type GitResult = { exitCode: number; stdout: string; stderr: string };

const baseEnv = { LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" };

/** The subcommand of an argument list, skipping git's own options (`-c name=value`, `-C dir`). */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-c" || args[i] === "-C") i++;
    else if (!args[i].startsWith("-")) return args[i];
  }
  return args[0] ?? "";
}

async function runGit(
  dir: string,
  args: readonly string[],
  opts: GitOptions & { keepFinalNewline?: boolean },
): Promise<GitResult> {
  // -C rather than a working directory: a directory that is not there is git's error, not a failed spawn.
  const r = await execa("git", ["-C", dir, ...args], {
    reject: false,
    cancelSignal: opts.signal,
    env: { ...baseEnv, ...opts.env },
    input: opts.input,
    stripFinalNewline: !opts.keepFinalNewline,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.isCanceled) throw opts.signal?.reason ?? new Error(`git ${subcommand(args)} was cancelled`);
  if (r.exitCode === undefined)
    throw new OperationError(`cannot run git ${subcommand(args)}: ${r.shortMessage}`, { cause: r });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `git ARGS` in `dir` and returns its stdout without the final newline. A non-zero exit is an
 * OperationError naming the subcommand and quoting git's stderr (never the arguments, which may hold
 * a URL with credentials); an abort rejects with the signal's reason.
 */
export async function git(dir: string, args: readonly string[], opts: GitOptions = {}): Promise<string> {
  const r = await runGit(dir, args, opts);
  if (r.exitCode !== 0)
    throw new OperationError(`git ${subcommand(args)} failed: ${(r.stderr || r.stdout).trim()}`, {
      cause: r,
    });
  return r.stdout;
}

/** Like `git`, but a non-zero exit is returned, not thrown: for commands whose failure is an answer. */
export function gitResult(dir: string, args: readonly string[], opts: GitOptions = {}): Promise<GitResult> {
  return runGit(dir, args, opts);
}

/** The full id of the commit `rev` names in the repository at `dir`, or undefined when it names none. */
export async function resolveCommit(
  dir: string,
  rev: string,
  opts: GitOptions = {},
): Promise<string | undefined> {
  const r = await runGit(
    dir,
    ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`],
    opts,
  );
  return (r.exitCode === 0 && r.stdout.trim()) || undefined;
}

/**
 * Brings a mirror's branches and tags up to date with its origin (pruning what origin dropped). One pack
 * per fetch (unpackLimit=1): its objects appear together, so a reader never sees a commit without its tree.
 */
export async function fetchMirror(dir: string, opts: GitOptions = {}): Promise<void> {
  await git(
    dir,
    [
      "-c",
      "fetch.unpackLimit=1",
      "fetch",
      "--quiet",
      "--prune",
      "--force",
      "origin",
      "+refs/heads/*:refs/heads/*",
      "+refs/tags/*:refs/tags/*",
    ],
    opts,
  );
}

/** A file larger than readFileAt's limit. */
export class FileTooLargeError extends OperationError {
  readonly size: number;
  readonly limit: number;
  constructor(path: string, rev: string, size: number, limit: number) {
    super(`${path} at ${rev.slice(0, 7)} has ${size} bytes (limit ${limit})`);
    this.name = "FileTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A file's text at a revision, or undefined when the revision has no such file (or names a directory).
 * Larger than `maxBytes` (default 1 MiB) is a FileTooLargeError: it is not read into memory.
 */
export async function readFileAt(
  dir: string,
  rev: string,
  path: string,
  opts: GitOptions & { maxBytes?: number } = {},
): Promise<string | undefined> {
  const spec = `${rev}:${path}`;
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const type = await runGit(dir, ["cat-file", "-t", "--end-of-options", spec], opts);
  if (type.exitCode !== 0 || type.stdout.trim() !== "blob") return undefined;
  const size = Number(await git(dir, ["cat-file", "-s", "--end-of-options", spec], opts));
  if (size > maxBytes) throw new FileTooLargeError(path, rev, size, maxBytes);
  const r = await runGit(dir, ["cat-file", "blob", "--end-of-options", spec], {
    ...opts,
    keepFinalNewline: true,
  });
  if (r.exitCode !== 0) throw new OperationError(`git cat-file failed: ${r.stderr.trim()}`, { cause: r });
  return r.stdout;
}

/** Where a remote lives. */
export type RemoteUrl = {
  /** `https`, `ssh`, … for a URL; `scp` for `[user@]host:path`; `file` for a path or a file:// URL. */
  scheme: string;
  /** The host name, without user or port; "" for a local path. */
  host: string;
  /** What stands between the host and the repository: `owner`, or GitLab's `group/subgroup`; may be "". */
  owner: string;
  /** The last segment of the path, without `.git`. */
  repo: string;
};

/**
 * Host, owner and repository of a remote: https/http/git/ssh URLs, the scp-like `git@host:owner/repo.git`,
 * file:// URLs and local paths (host ""). The user, password and port are dropped, so nothing built from
 * the result carries credentials. Undefined when no repository name can be read.
 */
export function parseRemoteUrl(url: string): RemoteUrl | undefined {
  const trimmed = url.trim();
  let scheme: string;
  let host: string;
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      return undefined;
    }
    scheme = parsed.protocol.slice(0, -1).toLowerCase();
    host = scheme === "file" ? "" : parsed.hostname;
    if (host === "" && scheme !== "file") return undefined;
    path = decoded(parsed.pathname);
  } else {
    // scp-like syntax; a `C:\…` or `C:/…` is a Windows path, not a host.
    const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(.+)$/.exec(trimmed);
    if (scp !== null && !/^[a-z]$/i.test(scp[1])) {
      scheme = "scp";
      host = scp[1];
      path = scp[2];
    } else {
      scheme = "file";
      host = "";
      path = trimmed;
    }
  }
  const segments = path.split("/").filter((s) => s !== "");
  const repo = (segments.pop() ?? "").replace(/\.git$/i, "");
  if (repo === "" || repo === "." || repo === "..") return undefined;
  return { scheme, host, owner: segments.join("/"), repo };
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
