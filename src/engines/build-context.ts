// The build context the Engine API expects: a tar of the context directory without what .dockerignore
// excludes, written here (no tar binary, no extra dependency) with uid/gid 0 as the docker CLI sends it.
import { existsSync, readFileSync } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import picomatch from "picomatch";
import { UserError } from "../lib/errors.js";

/** One line of a .dockerignore: a pattern, and whether it re-includes (`!pattern`). */
export type IgnoreRule = { pattern: string; negate: boolean; match: (path: string) => boolean };

/** Parses .dockerignore text with Docker's rules: comments, `!` exceptions, leading `/` ignored, `**`. */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    let negate = false;
    if (line.startsWith("!")) {
      negate = true;
      line = line.slice(1).trim();
    }
    let pattern = posix.normalize(line.replaceAll("\\", "/")).replace(/^\/+/, "").replace(/\/+$/, "");
    if (pattern === "." || pattern === "") pattern = "**";
    const isMatch = picomatch(pattern, { dot: true });
    rules.push({ pattern, negate, match: isMatch });
  }
  return rules;
}

/**
 * Whether a context path (posix, relative) is excluded: the last rule that matches the path or one of its
 * parent directories decides, as in Docker's pattern matcher.
 */
export function isExcluded(path: string, rules: IgnoreRule[]): boolean {
  const parts = path.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.match(c))) excluded = !rule.negate;
  }
  return excluded;
}

type Entry =
  | { type: "dir"; name: string; mode: number; mtime: number }
  | { type: "file"; name: string; mode: number; mtime: number; size: number; source: string }
  | { type: "symlink"; name: string; mode: number; mtime: number; target: string }
  | { type: "inline"; name: string; mode: number; mtime: number; data: Buffer };

/** The files of a context directory that a build sends, in tar order (parents before children). */
async function walkContext(dir: string, rules: IgnoreRule[], always: Set<string>): Promise<Entry[]> {
  const hasExceptions = rules.some((r) => r.negate);
  const out: Entry[] = [];
  const visit = async (rel: string) => {
    const names = (await readdir(rel ? join(dir, rel) : dir)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, ...path.split("/"));
      const st = await lstat(abs);
      const excluded = isExcluded(path, rules) && !always.has(path);
      const mtime = Math.floor(st.mtimeMs / 1000);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        if (!excluded) out.push({ type: "dir", name: path, mode, mtime });
        // An excluded directory is still walked when an exception (`!pattern`) may re-include a file in it.
        if (!excluded || hasExceptions) await visit(path);
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
 * when it exists, else from `<context>/.dockerignore`.
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
  const rules = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, "utf8")) : [];
  const inside = relative(dir, dockerfileAbs);
  const outside = inside.startsWith("..") || isAbsolute(inside);
  const dockerfileInContext = outside ? ".dockerfile.slipway" : inside.split(sep).join("/");
  const entries = await walkContext(dir, rules, new Set([".dockerignore", dockerfileInContext]));
  if (outside)
    entries.push({
      type: "inline",
      name: dockerfileInContext,
      mode: 0o644,
      mtime: Math.floor(Date.now() / 1000),
      data: readFileSync(dockerfileAbs),
    });
  return {
    stream: Readable.from(tarChunks(entries)),
    dockerfile: dockerfileInContext,
    files: entries.map((e) => e.name),
  };
}

// --- tar (ustar with PAX headers for long names) ---

const block = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

function header(fields: {
  name: string;
  mode: number;
  size: number;
  mtime: number;
  type: string;
  linkname?: string;
}): Buffer {
  const h = Buffer.alloc(block);
  h.write(fields.name, 0, 100, "utf8");
  h.write(octal(fields.mode, 8), 100, 8, "ascii");
  h.write(octal(0, 8), 108, 8, "ascii");
  h.write(octal(0, 8), 116, 8, "ascii");
  h.write(octal(fields.size, 12), 124, 12, "ascii");
  h.write(octal(fields.mtime, 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");
  h.write(fields.type, 156, 1, "ascii");
  if (fields.linkname) h.write(fields.linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}

function padding(size: number): Buffer {
  const rest = size % block;
  return Buffer.alloc(rest ? block - rest : 0);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function fits(s: string): boolean {
  return Buffer.byteLength(s) <= 100 && /^[\x20-\x7e]*$/.test(s);
}

function* entryHeaders(e: Entry, size: number): Generator<Buffer> {
  const name = e.type === "dir" ? `${e.name}/` : e.name;
  const linkname = e.type === "symlink" ? e.target : "";
  const pax: string[] = [];
  if (!fits(name)) pax.push(paxRecord("path", name));
  if (linkname && !fits(linkname)) pax.push(paxRecord("linkpath", linkname));
  if (pax.length) {
    const data = Buffer.from(pax.join(""));
    yield header({ name: "PaxHeader", mode: 0o644, size: data.length, mtime: e.mtime, type: "x" });
    yield data;
    yield padding(data.length);
  }
  const type = { dir: "5", file: "0", inline: "0", symlink: "2" }[e.type];
  yield header({
    name: fits(name) ? name : name.slice(0, 99),
    mode: e.mode,
    size,
    mtime: e.mtime,
    type,
    linkname: fits(linkname) ? linkname : linkname.slice(0, 99),
  });
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
  for await (const c of tarChunks(entries)) chunks.push(c);
  return Buffer.concat(chunks);
}

async function* tarChunks(entries: Entry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.type === "file") {
      yield* entryHeaders(e, e.size);
      // Exactly `size` bytes even if the file changed since it was listed.
      const fh = await open(e.source, "r");
      try {
        let left = e.size;
        while (left > 0) {
          const buf = Buffer.alloc(Math.min(left, 1 << 20));
          const { bytesRead } = await fh.read(buf, 0, buf.length, e.size - left);
          if (bytesRead === 0) {
            yield Buffer.alloc(left);
            break;
          }
          yield buf.subarray(0, bytesRead);
          left -= bytesRead;
        }
      } finally {
        await fh.close();
      }
      yield padding(e.size);
    } else if (e.type === "inline") {
      yield* entryHeaders(e, e.data.length);
      yield e.data;
      yield padding(e.data.length);
    } else {
      yield* entryHeaders(e, 0);
    }
  }
  yield Buffer.alloc(block * 2);
}
