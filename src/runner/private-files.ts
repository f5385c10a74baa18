// Job directories hold step scripts with interpolated secrets, GITHUB_ENV files and checkouts: they are
// private to slipway's user (0700, files 0600), whatever the umask, so another local user reads nothing.
import { chmodSync, mkdirSync } from "node:fs";

/** Makes `path` (and missing parents) 0700; an existing directory is narrowed to 0700 too. */
export function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}
