// The build context the Engine API expects: a tar of the context directory without what .dockerignore
// excludes, as the docker CLI sends it: Docker's own ignore rules (@balena/dockerignore, a port of its
// matcher), entries owned by root, modes kept, PAX headers for names a ustar header cannot hold (tar-stream).
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import dockerignore from "@balena/dockerignore";
import tar, { type Headers, type Pack } from "tar-stream";
import { OperationError, UserError } from "../lib/errors.js";

/** The rules of a .dockerignore. */
export type IgnoreRules = {
  /** Whether a context path (posix, relative) is left out: the last pattern matching it or a parent decides. */
  excludes(path: string): boolean;
  /**
   * Whether the walk must enter an excluded directory because an exception (`!pattern`) may re-include
   * something in it: as the docker CLI decides, when an exception's path starts with the directory's.
   */
  mayReinclude(dir: string): boolean;
};

/** Parses .dockerignore text with Docker's rules: comments, `!` exceptions, leading `/` ignored, `**`. */
export function parseDockerignore(text: string): IgnoreRules {
  // The package is CommonJS with a `default` property on its export; its types describe only that property.
  const matcher = dockerignore.default().add(text.split(/\r?\n/));
  const exceptions = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith("!"))
    .map((line) => `${posix.normalize(line.slice(1).trim()).replace(/^\/+/, "").replace(/\/+$/, "")}/`);
  return {
    excludes: (path) => matcher.ignores(path),
    mayReinclude: (dir) => exceptions.some((e) => e.startsWith(`${dir}/`)),
  };
}

type Entry =
  | { type: "dir"; name: string; mode: number; mtime: number }
  | { type: "file"; name: string; mode: number; mtime: number; size: number; source: string }
  | { type: "symlink"; name: string; mode: number; mtime: number; target: string }
  | { type: "inline"; name: string; mode: number; mtime: number; data: Buffer };

/** The files of a context directory that a build sends, in tar order (parents before children). */
async function walkContext(dir: string, rules: IgnoreRules, always: string[]): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (rel: string) => {
    const names = (await readdir(rel ? join(dir, rel) : dir)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, ...path.split("/"));
      const st = await lstat(abs);
      const excluded = rules.excludes(path) && !always.includes(path);
      const mtime = Math.floor(st.mtimeMs / 1000);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        if (!excluded) out.push({ type: "dir", name: path, mode, mtime });
        // An excluded directory is walked only when an exception may re-include something in it; the
        // directory itself is not sent (the engine makes the parents of what is).
        if (!excluded || rules.mayReinclude(path) || always.some((a) => a.startsWith(`${path}/`)))
          await visit(path);
        continue;
      }
      if (excluded) continue;
      if (st.isSymbolicLink())
        out.push({ type: "symlink", name: path, mode, mtime, target: await readlink(abs) });
      else if (st.isFile()) out.push({ type: "file", name: path, mode, mtime, size: st.size, source: abs });
      // Sockets, fifos and devices are not part of a build context.
    }
  };
  await visit("");
  return out;
}

export type BuildContext = {
  /** The tar stream to send as the body of POST /build. */
  stream: Readable;
  /** The Dockerfile's path inside the context (the `dockerfile` query parameter). */
  dockerfile: string;
  /** The context paths included, for logs and tests. */
  files: string[];
};

/**
 * Packs `contextDir` for a build. `dockerfile` is relative to the context (default `Dockerfile`) or absolute;
 * one outside the context is added under a generated name. Ignore rules come from `<Dockerfile>.dockerignore`
 * when it exists, else from `<context>/.dockerignore`; neither the Dockerfile nor .dockerignore is ever left
 * out (the docker CLI adds exceptions for both).
 */
export async function createBuildContext(
  contextDir: string,
  dockerfile = "Dockerfile",
): Promise<BuildContext> {
  const dir = resolve(contextDir);
  if (!existsSync(dir)) throw new UserError(`build context ${dir} does not exist`);
  const dockerfileAbs = isAbsolute(dockerfile) ? dockerfile : resolve(dir, dockerfile);
  if (!existsSync(dockerfileAbs)) throw new UserError(`Dockerfile ${dockerfileAbs} does not exist`);
  const ignoreFile = existsSync(`${dockerfileAbs}.dockerignore`)
    ? `${dockerfileAbs}.dockerignore`
    : join(dir, ".dockerignore");
  const rules = parseDockerignore(existsSync(ignoreFile) ? readFileSync(ignoreFile, "utf8") : "");
  const inside = relative(dir, dockerfileAbs);
  const outside = inside.startsWith("..") || isAbsolute(inside);
  const dockerfileInContext = outside ? ".dockerfile.slipway" : inside.split(sep).join("/");
  const entries = await walkContext(dir, rules, [".dockerignore", dockerfileInContext]);
  if (outside)
    entries.push({
      type: "inline",
      name: dockerfileInContext,
      mode: 0o644,
      mtime: Math.floor(Date.now() / 1000),
      data: readFileSync(dockerfileAbs),
    });
  return { stream: packEntries(entries), dockerfile: dockerfileInContext, files: entries.map((e) => e.name) };
}

/**
 * A tar of in-memory files (for PUT /containers/{id}/archive). No directory entries: the engine creates
 * missing parents itself, and an entry for an existing directory (/tmp) would reset its mode and owner.
 */
export async function tarFiles(files: { path: string; content: Buffer; mode?: number }[]): Promise<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const entries: Entry[] = files.map((f) => {
    const name = posix.normalize(f.path.replaceAll("\\", "/")).replace(/^\/+/, "");
    if (!name || name === "." || name === ".." || name.startsWith("../") || name.endsWith("/"))
      throw new UserError(`file path '${f.path}' does not name a file`);
    return { type: "inline", name, mode: f.mode ?? 0o644, mtime, data: f.content };
  });
  const chunks: Buffer[] = [];
  for await (const c of packEntries(entries)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The entries as a tar stream, owned by root as the docker CLI sends them; files are read as it is consumed. */
function packEntries(entries: Entry[]): Pack {
  const pack = tar.pack();
  const add = (header: Headers, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
  const write = async () => {
    for (const e of entries) {
      const header: Headers = {
        name: e.name,
        mode: e.mode,
        mtime: new Date(e.mtime * 1000),
        uid: 0,
        gid: 0,
        uname: "root",
        gname: "root",
      };
      if (e.type === "dir") await add({ ...header, type: "directory" });
      else if (e.type === "symlink") await add({ ...header, type: "symlink", linkname: e.target });
      else if (e.type === "inline") await add({ ...header, type: "file" }, e.data);
      else {
        let settle: (err?: Error | null) => void = () => {};
        const written = new Promise<void>((resolve, reject) => {
          settle = (err) => (err ? reject(err) : resolve());
        });
        written.catch(() => {}); // a failed entry is reported through the pack (below)
        const sink = pack.entry({ ...header, type: "file", size: e.size }, (err) => settle(err));
        // Written by hand rather than piped: a read error must reach the pack before the entry is destroyed.
        for await (const chunk of exactly(e.source, e.size)) {
          if (sink.destroyed) return; // the reader went away
          if (!sink.write(chunk))
            await new Promise((resume) => {
              sink.once("drain", resume);
              sink.once("close", resume);
            });
        }
        sink.end();
        await written;
      }
    }
    pack.finalize();
  };
  write().catch((err: unknown) => {
    // tar-stream destroys the pack on a failed entry without saying why: the reason is emitted here, to
    // whoever reads the stream (an unread one has nobody to tell).
    if (pack.listenerCount("error") > 0) pack.emit("error", err);
    pack.destroy();
  });
  return pack;
}

/**
 * The first `size` bytes of a file, as listed: a file that grew since is cut there (the tar header is
 * written), one that shrank is an error rather than a silently padded file in the image.
 */
async function* exactly(path: string, size: number): AsyncGenerator<Buffer> {
  let left = size;
  if (size > 0)
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) {
      left -= (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  if (left > 0) throw new OperationError(`${path} changed while the build context was being sent`);
}
