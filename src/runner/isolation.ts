// Fork pull requests on a self-hosted runner. A fork's leg (`untrusted` in its spec) gets no secrets,
// but its steps are still code of a stranger running on this machine: as the runner's own user they
// could read what that user can — the server's data dir (master key, database), the runner's token,
// `/proc/<pid>/environ` of slipway itself. So a runner runs such a leg only isolated: every host process
// of the leg runs as an unprivileged user (`--untrusted-user`, default `nobody`), in a job dir outside
// the data dir that this user owns, with HOME there. A runner that cannot switch users (not root) does
// not take fork legs at all, unless its operator declared the machine disposable
// (`--untrusted=same-user`); `--untrusted=refuse` never takes them.
import { execFile } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  cpSync,
  existsSync,
  fchownSync,
  lchownSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { UserError } from "../lib/errors.js";

const execFileAsync = promisify(execFile);

export const untrustedModes = ["isolate", "same-user", "refuse"] as const;
export type UntrustedMode = (typeof untrustedModes)[number];

/** The unprivileged user an isolated leg's processes run as. */
export type RunAs = { name: string; uid: number; gid: number };

/** What a runner does with fork legs: run them as `runAs`, as itself (opted in), or not at all. */
export type UntrustedPolicy =
  | { accepts: true; runAs: RunAs; describe: string }
  | { accepts: true; runAs?: undefined; describe: string }
  | { accepts: false; runAs?: undefined; describe: string };

export const untrustedUserSetting = "SLIPWAY_UNTRUSTED_USER";
export const untrustedModeSetting = "SLIPWAY_UNTRUSTED";
export const defaultUntrustedUser = "nobody";

/** Why a fork's leg stays queued: said on the job until a runner that isolates forks takes it. */
export const waitingForIsolationReason =
  "waiting for a runner that isolates fork pull requests (a runner started as root runs them as an unprivileged user; see docs/security.md)";

/** A user by name or number, from the password database (/etc/passwd). */
export function lookupUser(spec: string, passwd = "/etc/passwd"): RunAs {
  const wanted = spec.trim();
  if (!wanted) throw new UserError("--untrusted-user: a user name or uid is required");
  let text = "";
  try {
    text = readFileSync(passwd, "utf8");
  } catch {
    // No password database: only a number can name a user.
  }
  for (const line of text.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (!name || uid === undefined || gid === undefined) continue;
    if (name === wanted || uid === wanted) return { name, uid: Number(uid), gid: Number(gid) };
  }
  if (/^\d+$/.test(wanted)) return { name: wanted, uid: Number(wanted), gid: Number(wanted) };
  throw new UserError(`--untrusted-user: no user '${wanted}' in ${passwd}`);
}

/**
 * The runner's policy for fork legs, from its flags (or SLIPWAY_UNTRUSTED / SLIPWAY_UNTRUSTED_USER) and
 * its own uid. Isolation needs root (to switch to another uid); the user it switches to may not be root.
 */
export function untrustedPolicy(o: {
  mode?: string;
  user?: string;
  uid?: number;
  passwd?: string;
  env?: NodeJS.ProcessEnv;
}): UntrustedPolicy {
  const env = o.env ?? process.env;
  const mode = (o.mode ?? (env[untrustedModeSetting] || "isolate")) as UntrustedMode;
  if (!untrustedModes.includes(mode))
    throw new UserError(`--untrusted must be one of ${untrustedModes.join(", ")}, got '${mode}'`);
  const uid = o.uid ?? process.getuid?.() ?? -1;
  if (mode === "refuse")
    return { accepts: false, describe: "does not take fork pull requests (--untrusted=refuse)" };
  if (mode === "same-user")
    return {
      accepts: true,
      describe: "runs fork pull requests as its own user (--untrusted=same-user: this machine is disposable)",
    };
  if (uid !== 0)
    return {
      accepts: false,
      describe:
        "does not take fork pull requests: it cannot switch to an unprivileged user (not running as root); start it as root, or pass --untrusted=same-user if this machine is disposable",
    };
  const runAs = lookupUser(o.user ?? (env[untrustedUserSetting] || defaultUntrustedUser), o.passwd);
  if (runAs.uid === 0)
    throw new UserError(`--untrusted-user: '${runAs.name}' is root; fork code must not run as root`);
  return { accepts: true, runAs, describe: `runs fork pull requests as ${runAs.name} (uid ${runAs.uid})` };
}

/** Hands a path the runner made to the leg's user. */
export function giveTo(path: string, runAs: RunAs): void {
  chownSync(path, runAs.uid, runAs.gid);
}

/**
 * Writes a new file (never through an existing one or a symlink: O_EXCL) and, for an isolated leg,
 * makes it the leg user's.
 */
export function writeLegFile(path: string, content: string, mode: number, runAs: RunAs | undefined): void {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    if (content) writeSync(fd, content);
    if (runAs) fchownSync(fd, runAs.uid, runAs.gid);
  } finally {
    closeSync(fd);
  }
}

/**
 * A copy of an action's files the leg's user can read (the action cache lives in the data dir, which
 * stays closed to it). Symlinks are copied as symlinks, so one pointing into the data dir still leads
 * nowhere; the copy is the runner's, so the leg cannot change it for a later step.
 */
export function readableCopy(src: string, dest: string): string {
  if (existsSync(dest)) return dest;
  cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  const open = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      chmodSync(path, 0o755);
      for (const e of readdirSync(path)) open(join(path, e));
    } else chmodSync(path, st.mode & 0o111 ? 0o755 : 0o644);
  };
  open(dest);
  return dest;
}

/** Hands a tree the runner just made (nobody else has touched it yet) to the leg's user. */
export function giveTree(path: string, runAs: RunAs): void {
  const st = lstatSync(path);
  lchownSync(path, runAs.uid, runAs.gid);
  if (st.isDirectory()) for (const e of readdirSync(path)) giveTree(join(path, e), runAs);
}

/**
 * The repository an isolated leg checks out from: a copy of the runner's clone (or the server's mirror,
 * both in the data dir) that the leg's user owns. Its checkouts run as that user, so git never runs as
 * the runner in a repository the leg could have changed (a planted hook or fsmonitor would run as root).
 */
export async function isolatedSource(
  repoDir: string,
  dest: string,
  runAs: RunAs,
  signal?: AbortSignal,
): Promise<string> {
  await execFileAsync("git", ["clone", "--quiet", "--mirror", "--no-local", "--", repoDir, dest], { signal });
  giveTree(dest, runAs);
  return dest;
}

/**
 * A fork's job container or service may not reach into the host: no host directory mounted (the data
 * dir, the runner's config, the Docker socket), no --privileged. Named volumes and the job dir's own
 * mount are fine.
 */
export function checkForkContainer(def: { volumes?: string[]; options?: string }, where: string): void {
  for (const v of def.volumes ?? []) {
    const [source, target] = v.split(":");
    if (target !== undefined && (source.startsWith("/") || source.startsWith(".") || source.startsWith("~")))
      throw new UserError(`${where}: a fork's job may not mount a host path (${source}) into a container`);
  }
  if (/(^|\s)--privileged(\s|=|$)/.test(def.options ?? ""))
    throw new UserError(`${where}: a fork's job may not run a --privileged container`);
}
