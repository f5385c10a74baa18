// Process groups: a command slipway starts with `detached: true` leads a group of its own, so that a
// timeout or a cancel reaches everything it started (a shell's children, a server it backgrounded), not
// just the leader. Stopping asks first (SIGTERM, or what the caller names) and insists (SIGKILL) after
// a grace period.
import type { ChildProcess } from "node:child_process";

/**
 * Sends `signal` to the process group `pgid` leads. False when there is no such group any more; a pgid
 * of 1 or less is refused (kill(-1) would reach every process this user may signal).
 */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pgid === undefined || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export type StopGroupOptions = {
  /** The first signal (default SIGTERM). */
  signal?: NodeJS.Signals;
  /** How long the group has to end before SIGKILL (default 3 s). */
  graceMs?: number;
};

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Stops the group a child (spawned detached) leads: the first signal, then SIGKILL when the child has
 * not exited within the grace period. Resolves when the child has exited.
 */
export function stopGroup(child: ChildProcess, opts: StopGroupOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    if (child.pid === undefined || exited(child)) return resolve();
    // A child that leads no group (not spawned detached) is signalled alone.
    const send = (signal: NodeJS.Signals) => signalGroup(child.pid, signal) || child.kill(signal);
    const timer = setTimeout(() => send("SIGKILL"), opts.graceMs ?? 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    send(opts.signal ?? "SIGTERM");
  });
}
