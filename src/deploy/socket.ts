// Where an agent's Unix socket may live, and the checks that make talking to it safe: the socket sits in a
// directory owned by slipway's user that no other user can write to (the state directory, or for a
// state path too long for a socket a 0700 runtime directory), and a client talks only to a socket file
// owned by its own uid in such a directory. Another local user who binds the name first — the runtime
// directory's name is predictable — is refused, rather than answering a deploy or a rollback.
import { chmodSync, lstatSync, mkdirSync, type Stats } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { UserError } from "../lib/errors.js";

const myUid = (): number => process.getuid?.() ?? 0;

/**
 * The directory for sockets whose path in the state directory would be too long (a Unix socket path
 * holds ~108 bytes): SLIPWAY_RUNTIME_DIR, else /tmp/slipway-<uid> (like tmux's /tmp/tmux-<uid>; the same
 * in every process of the user, whatever its TMPDIR, so the CLI and the server find the same agent).
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.SLIPWAY_RUNTIME_DIR;
  if (configured && isAbsolute(configured)) return configured;
  return join("/tmp", `slipway-${myUid()}`);
}

function describeOwner(st: Stats): string {
  return `owned by uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}`;
}

/**
 * Refuses a directory that is not a real directory owned by this uid, or that others can write to
 * (`strict`: that others can enter at all). Returns undefined when it does not exist.
 */
export function checkPrivateDir(dir: string, strict: boolean): Stats | undefined {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (!st.isDirectory())
    throw new UserError(
      `refusing the deploy agent's socket directory ${dir}: it is not a directory (${st.isSymbolicLink() ? "a symbolic link" : "another kind of file"}); remove it`,
    );
  const bad = strict ? 0o077 : 0o022;
  if (st.uid !== myUid() || (st.mode & bad) !== 0)
    throw new UserError(
      `refusing the deploy agent's socket directory ${dir}: ${describeOwner(st)}; it must belong to uid ${myUid()} and ${strict ? "be mode 0700" : "not be writable by others"} (another local user may have created it: remove it)`,
    );
  return st;
}

/** Creates the socket's directory 0700 (or checks the one there) before the agent binds its socket. */
export function prepareSocketDir(socketPath: string, stateDir: string): void {
  const dir = dirname(socketPath);
  const inState = dir === stateDir;
  if (!checkPrivateDir(dir, !inState)) {
    try {
      mkdirSync(dir, { recursive: inState, mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    // Created by someone else between the check and mkdir: the check below refuses it.
  }
  if (inState) {
    const st = checkPrivateDir(dir, false);
    // Our state directory: keep it private (an older slipway may have made it 0755).
    if (st && (st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  }
  checkPrivateDir(dir, !inState);
}

/**
 * Whether the agent's socket is there and may be trusted: "absent" when there is no socket file (no
 * agent); otherwise the socket file must be a socket owned by this uid, in a directory owned by this
 * uid that others cannot write to — else a UserError says why, and nothing is sent to it.
 */
export function checkAgentSocket(socketPath: string): "absent" | "ok" {
  checkPrivateDir(dirname(socketPath), false);
  let st: Stats;
  try {
    st = lstatSync(socketPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "absent";
    throw err;
  }
  if (!st.isSocket() || st.uid !== myUid())
    throw new UserError(
      `refusing to talk to the deploy agent at ${socketPath}: ${st.isSocket() ? "the socket" : "it is not a socket; it"} is ${describeOwner(st)}, not this user's (uid ${myUid()}); another local user may be impersonating the agent`,
    );
  return "ok";
}
