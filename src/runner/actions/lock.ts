// A lock file shared by every slipway process on this machine (jobs of one run, other runs, the server's
// runner): created with O_EXCL, holding the owner's pid. A lock whose owner is gone (killed mid-fetch) is
// taken over, so a crash never blocks the next fetch; what the crashed fetch left is a temp dir that no
// reader looks at (the entry appears only by rename).
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { sleep } from "../../lib/async.js";

const staleAfterMs = 30 * 60 * 1000;

function ownerAlive(file: string): boolean {
  try {
    const [host, pid] = readFileSync(file, "utf8").split(" ");
    // Just created, its owner not written yet.
    if (!pid) return Date.now() - statSync(file).mtimeMs < 10_000;
    if (host !== hostname()) return Date.now() - statSync(file).mtimeMs < staleAfterMs;
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but is another user's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs `fn` holding the lock `file`; waits (polling) while another live process holds it. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    signal?.throwIfAborted();
    let fd: number | undefined;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${hostname()} ${process.pid}`);
      } finally {
        closeSync(fd);
      }
      try {
        return await fn();
      } finally {
        rmSync(file, { force: true });
      }
    }
    if (!ownerAlive(file)) {
      rmSync(file, { force: true });
      continue;
    }
    await sleep(wait, signal);
  }
}
