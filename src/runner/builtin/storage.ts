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

/** An artifact as a server keeps it (GET /api/v1/runs/:id/artifacts lists these). */
export type ServerArtifact = {
  id: number;
  name: string;
  /** Bytes of its files. */
  size: number;
  files: number;
  /** The same digest as actions/upload-artifact's `artifact-digest` output. */
  digest: string;
  createdAt: number;
  expiresAt: number;
  /** Where it is downloaded from: the server's REST path (GET, viewer role). */
  url?: string;
};

/**
 * Where a job's artifacts go when it runs for a server: the server keeps them (so every runner of the
 * run, and `slipway artifacts download`, sees them), instead of the runner's own data directory. Bound
 * to the job the runner holds: it reaches that job's run and nothing else.
 */
export interface ArtifactBackend {
  /**
   * The run's ready, unexpired artifacts; with `runId`, another run's (download-artifact's `run-id`),
   * which the server allows only for a run of the same repository that the job may read.
   */
  list(runId?: string): Promise<ServerArtifact[]>;
  /**
   * Stores a tar stream of the artifact's files. `retentionDays` undefined: the server's default. Fails
   * (storing nothing) when the name is taken and `overwrite` is false, or the run's size cap is passed.
   */
  upload(
    artifact: { name: string; retentionDays?: number; overwrite: boolean },
    tar: import("node:stream").Readable,
  ): Promise<ServerArtifact>;
  /** A tar stream of the artifact's files (of run `runId`, as `list`). */
  download(name: string, runId?: string): Promise<import("node:stream").Readable>;
}
