// Slipway's own files are private to its user: data directories 0700, files 0600. The processes that
// write them (`slipway serve`, `slipway runner`, the deploy agent) set the umask 077 first, so every file
// and directory they (and libraries such as SQLite) create is private whatever the caller's umask; and
// data directories made by an older slipway, or under a looser umask, are narrowed at start.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Sets the process umask to 077 (new files 0600, directories 0700); returns the previous one. */
export function restrictUmask(): number {
  return process.umask(0o077);
}

/**
 * Creates `dir` (0700) when missing, and narrows it to 0700, the files directly in it to 0600 and the
 * directories directly in it to 0700 (the directory's own 0700 already keeps others out of everything
 * deeper, so the walk stops there). Symbolic links are left alone. Returns what was open to others
 * before, as `path (mode)`, for a warning.
 */
export function makeDataDirPrivate(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const opened: string[] = [];
  const narrow = (path: string, mode: number) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) {
      opened.push(`${path} (${(st.mode & 0o777).toString(8).padStart(4, "0")})`);
      chmodSync(path, mode);
    }
  };
  narrow(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    try {
      narrow(path, entry.isDirectory() ? 0o700 : 0o600);
    } catch (err) {
      // Gone in between (SQLite's -shm, a temporary file): nothing to narrow.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return opened;
}
