// The file side of artifacts, shared by the local store (artifacts.ts) and the server-backed one
// (artifacts-remote.ts): copying with a digest, and writing an artifact's files into a download
// directory without ever writing outside it.
import { createHash } from "node:crypto";
import { constants, createReadStream, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, realpath, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { OperationError } from "../../lib/errors.js";
import { errorCode, isInside } from "./storage.js";

export type FileHash = { rel: string; sha256: string };

export function digestOf(hashes: FileHash[]): string {
  const hash = createHash("sha256");
  // Sorted by code unit, not locale, so the digest does not depend on the machine's settings.
  const sorted = [...hashes].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const h of sorted) hash.update(`${h.sha256}  ${h.rel}\n`);
  return hash.digest("hex");
}

// O_NOFOLLOW: a symlink planted at the destination makes the open fail instead of writing through it.
const writeFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export async function copyWithHash(src: string, dest: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const output = await open(dest, writeFlags);
  await pipeline(
    createReadStream(src),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    output.createWriteStream(),
  );
  return { sha256: hash.digest("hex"), size };
}

/** The regular files below a stored artifact's directory, as relative paths; anything else is refused. */
async function listStoredFiles(filesDir: string): Promise<string[]> {
  const result: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path.join(filesDir, rel));
    } catch (err) {
      if (rel === "" && errorCode(err) === "ENOENT") return;
      throw err;
    }
    for (const name of names.sort()) {
      const childRel = rel === "" ? name : path.join(rel, name);
      const stats: Stats = await lstat(path.join(filesDir, childRel));
      if (stats.isDirectory()) await walk(childRel);
      else if (stats.isFile()) result.push(childRel);
      else
        throw new OperationError(
          `Refusing to download ${childRel}: not a regular file in the artifact store`,
        );
    }
  };
  await walk("");
  return result;
}

/** Copies an artifact's files into `destination`, never writing outside it; returns the recomputed digest. */
export async function downloadTo(
  artifact: { filesDir: string },
  destination: string,
  signal: AbortSignal,
): Promise<string> {
  await mkdir(destination, { recursive: true });
  const rootReal = await realpath(destination);
  const checkedDirs = new Set<string>();
  const hashes: FileHash[] = [];
  for (const rel of await listStoredFiles(artifact.filesDir)) {
    signal.throwIfAborted();
    const segments = rel.split(path.sep);
    if (path.isAbsolute(rel) || segments.some((s) => s === "" || s === "." || s === "..")) {
      throw new OperationError(`Refusing to download ${rel}: the path leaves the download directory`);
    }
    const dest = path.join(destination, rel);
    const parent = path.dirname(dest);
    if (!checkedDirs.has(parent)) {
      await mkdir(parent, { recursive: true });
      // A directory already in `destination` may be a symlink; following it is fine only if it stays inside.
      if (!isInside(rootReal, await realpath(parent))) {
        throw new OperationError(`Refusing to download ${rel}: ${parent} resolves outside ${destination}`);
      }
      checkedDirs.add(parent);
    }
    const existing = await lstat(dest).catch(() => undefined);
    if (existing?.isSymbolicLink()) await unlink(dest);
    else if (existing?.isDirectory()) {
      throw new OperationError(`Cannot download ${rel}: ${dest} is a directory`);
    }
    const copied = await copyWithHash(path.join(artifact.filesDir, rel), dest);
    hashes.push({ rel, sha256: copied.sha256 });
  }
  return digestOf(hashes);
}
