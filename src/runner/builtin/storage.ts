// Filesystem helpers shared by the artifact and cache stores. Both publish an entry by renaming a fully
// written staging directory into place: rename is atomic within a filesystem, so a reader sees a whole entry
// or none, a crash leaves only garbage in `.tmp/`, and of two writers racing for one name exactly one wins
// (renaming onto an existing non-empty directory fails).

import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * A directory name for `owner/name` that is injective, has no `/`, and never starts with `.` (so it
 * cannot be `.`, `..` or collide with the stores' own `.tmp`).
 */
export function repositoryDirName(repository: string): string {
  return encodeURIComponent(repository).replace(/^\./, "%2E");
}

/** A fresh directory below `root/.tmp`, on the same filesystem as the entries it will be renamed to. */
export async function makeStagingDir(root: string): Promise<string> {
  const dir = path.join(root, ".tmp", `${process.pid}-${randomBytes(8).toString("hex")}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Renames `from` to `to` unless `to` already exists (as a non-empty directory); returns whether it did. */
export async function renameIfAbsent(from: string, to: string): Promise<boolean> {
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await rename(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") return false;
    throw err;
  }
}

/** Writes a file so that readers never see it half written. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Whether `child` is `parent` or below it (both absolute and normalized). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith("../") && !path.isAbsolute(rel));
}

export function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
