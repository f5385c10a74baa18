// Moving a directory of regular files as a tar stream (artifacts between runners, the server and the
// CLI), and unpacking one that may have been made by someone hostile. Extraction writes only regular
// files and directories, below a fresh destination: names are checked (no absolute path, no `..`,
// no NUL or backslash), files are opened O_EXCL|O_NOFOLLOW (nothing written through a link, nothing
// overwritten), links and devices are refused, and the bytes are counted against a cap as they arrive,
// so an archive larger than it says stops at the cap.
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { lstat, mkdir, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar, { type Pack } from "tar-stream";
import { UserError } from "./errors.js";

/** An archive over the cap: the caller tells who sent it what the cap is. */
export class ArchiveTooLargeError extends UserError {
  constructor(maxBytes: number) {
    super(`the archive holds more than ${maxBytes} bytes`);
    this.name = "ArchiveTooLargeError";
  }
}

export type ExtractedFile = { rel: string; size: number; sha256: string };

/** The regular files below `dir`, as sorted POSIX relative paths; anything else (a link) is refused. */
export async function listRegularFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const st = await lstat(path.join(dir, childRel));
      if (st.isDirectory()) await walk(childRel);
      else if (st.isFile()) out.push(childRel);
      else throw new UserError(`${childRel} is not a regular file or directory`);
    }
  };
  await walk("");
  return out;
}

/** A tar stream of the regular files below `dir` (modes and owners not kept). */
export function packDirectory(dir: string): Readable {
  const pack = tar.pack();
  void listRegularFiles(dir)
    .then((rels) =>
      addFiles(
        pack,
        rels.map((rel) => ({ rel, file: path.join(dir, rel) })),
      ),
    )
    .catch((err: Error) => pack.destroy(err));
  return pack;
}

/** A tar stream of these files under these relative names (links followed, modes not kept). */
export function packFiles(entries: { rel: string; file: string }[]): Readable {
  const pack = tar.pack();
  void addFiles(pack, entries).catch((err: Error) => pack.destroy(err));
  return pack;
}

async function addFiles(pack: Pack, entries: { rel: string; file: string }[]): Promise<void> {
  for (const { rel, file } of entries) {
    const { size } = await stat(file);
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry(
        { name: rel.split(path.sep).join("/"), size, mode: 0o644, type: "file" },
        (err?: Error | null) => (err ? reject(err) : resolve()),
      );
      createReadStream(file).on("error", reject).pipe(entry);
    });
  }
  pack.finalize();
}

/** A tar entry's name as a safe relative path, or a UserError naming it. */
export function safeEntryPath(name: string): string {
  const shown = JSON.stringify(name.slice(0, 200));
  if (name.includes("\0") || name.includes("\\"))
    throw new UserError(`refusing archive entry ${shown}: NUL or backslash in its name`);
  const trimmed = name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed.startsWith("/"))
    throw new UserError(`refusing archive entry ${shown}: not a relative path`);
  if (trimmed.split("/").some((s) => s === "" || s === "." || s === ".."))
    throw new UserError(`refusing archive entry ${shown}: the path leaves the destination`);
  return trimmed;
}

// O_EXCL and O_NOFOLLOW: a name seen twice, or a link planted in the way, fails instead of being
// written through.
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Unpacks a tar stream into `dest` (created 0700 if absent; it should be empty and the caller's own).
 * Throws ArchiveTooLargeError past `maxBytes` of file content, UserError for an unsafe entry; what was
 * written is left for the caller to remove.
 */
export async function extractTar(
  input: Readable,
  dest: string,
  opts: { maxBytes: number; maxFiles?: number },
): Promise<{ files: ExtractedFile[]; size: number }> {
  await mkdir(dest, { recursive: true, mode: 0o700 });
  const files: ExtractedFile[] = [];
  let size = 0;
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const done = (err?: unknown) => {
      if (err) {
        stream.resume();
        extract.destroy(err as Error);
      } else next();
    };
    (async () => {
      const rel = safeEntryPath(header.name);
      const target = path.join(dest, rel);
      if (header.type === "directory") {
        await mkdir(target, { recursive: true, mode: 0o700 });
        stream.resume();
        return;
      }
      if (header.type !== "file")
        throw new UserError(`refusing archive entry ${JSON.stringify(rel)}: a ${header.type}, not a file`);
      if (opts.maxFiles !== undefined && files.length >= opts.maxFiles)
        throw new UserError(`the archive holds more than ${opts.maxFiles} files`);
      if (size + (header.size ?? 0) > opts.maxBytes) throw new ArchiveTooLargeError(opts.maxBytes);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const hash = createHash("sha256");
      let written = 0;
      const out = await open(target, createFlags, 0o600);
      await pipeline(
        stream,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            written += chunk.length;
            if (size + written > opts.maxBytes) throw new ArchiveTooLargeError(opts.maxBytes);
            hash.update(chunk);
            yield chunk;
          }
        },
        out.createWriteStream(),
      );
      size += written;
      files.push({ rel, size: written, sha256: hash.digest("hex") });
    })().then(() => done(), done);
  });
  await pipeline(input, extract);
  return { files: files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)), size };
}
