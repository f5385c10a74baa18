// Reading a process instance's log: `<id>.log` and its rotated predecessors `<id>.log.1` (newest) …
// `<id>.log.N` (oldest), each line prefixed with its time by the log writer (log-writer.ts). A follower
// holds the file open and, when the writer has rotated it (the path names another file), reads the old
// one to its end before it opens the new one: no line is lost or shown twice across a rotation.
import type { Stats } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { sleep } from "../../../lib/async.js";
import { timestampPattern } from "./log-writer.js";

/** How much of a log file `tailFile` reads from its end. */
const logReadLimit = 1024 * 1024;
const pollMs = 100;

export type LogLine = { at?: number; line: string };

/** A stored line without the writer's time prefix (and its time, when it had one). */
export function parseLogLine(text: string): LogLine {
  const m = timestampPattern.exec(text);
  if (!m) return { line: text };
  return { at: Date.parse(m[1]), line: text.slice(m[0].length) };
}

/** Reads the last `tail` lines of a file (from at most its last MiB), without their time prefixes. */
export async function tailFile(path: string, tail: number): Promise<string> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch {
    return "";
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, logReadLimit);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const lines = buf.toString().split("\n");
    if (lines.at(-1) === "") lines.pop();
    // A partial first line (the read started mid-line) is dropped unless it is all there is.
    if (length < size && lines.length > 1) lines.shift();
    return lines
      .slice(-tail)
      .map((l) => parseLogLine(l).line)
      .join("\n");
  } finally {
    await fh.close();
  }
}

/** The rotated files of `path`, oldest first (`.3`, `.2`, `.1`). */
async function rotatedFiles(
  path: string,
  list: (dir: string) => Promise<string[]> = (dir) => readdir(dir).catch(() => []),
): Promise<string[]> {
  const name = basename(path);
  const names = await list(dirname(path));
  return names
    .map((n) => ({ n, i: n.startsWith(`${name}.`) ? Number(n.slice(name.length + 1)) : Number.NaN }))
    .filter((x) => Number.isInteger(x.i) && x.i > 0)
    .sort((a, b) => b.i - a.i)
    .map((x) => `${dirname(path)}/${x.n}`);
}

async function readWhole(path: string): Promise<string> {
  try {
    const fh = await open(path, "r");
    try {
      return (await fh.readFile()).toString();
    } finally {
      await fh.close();
    }
  } catch {
    return "";
  }
}

/** What `successor` looks at the files with; a test puts a rotation between two of its calls. */
export type LogDirOps = {
  readdir: (dir: string) => Promise<string[]>;
  stat: (path: string) => Promise<Stats | undefined>;
};
const fsOps: LogDirOps = {
  readdir: (dir) => readdir(dir).catch(() => [] as string[]),
  stat: (path) => stat(path).catch(() => undefined),
};

type Look = { chain: string[]; stats: (Stats | undefined)[] };

/**
 * The log's files oldest first with what each name held. The writer renames oldest first (`.k` → `.k+1`
 * down to the log → `.1`), so at any instant the names, oldest first, hold the files in the order they
 * were written; a look made of many calls, though, can see a file at two names or at none when a
 * rotation comes between them. So the names are read newest first (a file moved since can only reappear
 * older: seen twice, never missed), and a look counts only when the next one saw the same.
 */
async function lookSteady(path: string, ops: LogDirOps): Promise<Look | undefined> {
  const look = async (): Promise<Look> => {
    const chain = [...(await rotatedFiles(path, ops.readdir)), path];
    const stats: (Stats | undefined)[] = new Array(chain.length);
    for (let i = chain.length - 1; i >= 0; i--) stats[i] = await ops.stat(chain[i]);
    return { chain, stats };
  };
  const key = (l: Look) => l.chain.map((p, i) => `${p}:${l.stats[i]?.dev}:${l.stats[i]?.ino}`).join("|");
  let last = await look();
  for (let attempt = 0; attempt < 50; attempt++) {
    const again = await look();
    if (key(again) === key(last)) {
      // A name listed but gone by its stat (mid-rotation) holds nothing to read.
      const held = again.chain.map((p, i) => ({ p, s: again.stats[i] })).filter((x) => x.s !== undefined);
      return { chain: held.map((x) => x.p), stats: held.map((x) => x.s) };
    }
    last = again;
  }
  return undefined;
}

/**
 * The file written after `after` (by inode) among the rotated files and the current one, opened; with no
 * `after` (or one already dropped), the oldest there is. Undefined when the files kept moving while it
 * looked (the caller looks again on its next round).
 */
export async function successor(
  path: string,
  after: Stats | undefined,
  ops: LogDirOps = fsOps,
): Promise<FileHandle | undefined> {
  const look = await lookSteady(path, ops);
  if (!look) return undefined;
  const { chain, stats } = look;
  const at = after ? stats.findIndex((s) => s && s.ino === after.ino && s.dev === after.dev) : -1;
  const pick = at >= 0 ? at + 1 : 0;
  if (pick >= chain.length || !stats[pick]) return undefined;
  const fh = await open(chain[pick], "r").catch(() => undefined);
  if (!fh) return undefined;
  const st = await fh.stat();
  // Renamed between the look and the open: look again on the next round.
  if (st.ino !== stats[pick]!.ino || st.dev !== stats[pick]!.dev) {
    await fh.close();
    return undefined;
  }
  return fh;
}

export type ReadLogOptions = {
  /** The last N lines (of those since `since`); undefined: all. */
  tail?: number;
  /** Only lines written at or after this time (ms since the epoch). */
  since?: number;
  /** Keep reading new lines until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  onLine: (line: LogLine) => void;
};

/**
 * The lines of a log (rotated files included), then with `follow` each new one as it is written, across
 * rotations, until the signal aborts.
 */
export async function readLog(path: string, o: ReadLogOptions): Promise<void> {
  // The current file is opened first and read through the same handle afterwards: what the writer adds
  // after this point is read by the follower, what came before by the lines below — nothing twice.
  let fh = await open(path, "r").catch(() => undefined);
  let offset = fh ? (await fh.stat()).size : 0;
  const earlier: LogLine[] = [];
  const keep = (text: string) => {
    for (const raw of text.split("\n")) {
      if (raw === "") continue;
      const l = parseLogLine(raw);
      if (o.since !== undefined && (l.at === undefined || l.at < o.since)) continue;
      earlier.push(l);
      if (o.tail !== undefined && earlier.length > o.tail * 2 + 1024)
        earlier.splice(0, earlier.length - o.tail);
    }
  };
  for (const file of await rotatedFiles(path)) {
    // A whole file written before `since` is skipped unread.
    const mtime = o.since === undefined ? undefined : (await stat(file).catch(() => undefined))?.mtimeMs;
    if (mtime !== undefined && o.since !== undefined && mtime < o.since) continue;
    keep(await readWhole(file));
  }
  if (fh && offset > 0) {
    const buf = Buffer.alloc(offset);
    const { bytesRead } = await fh.read(buf, 0, offset, 0);
    const text = buf.subarray(0, bytesRead).toString();
    // Only whole lines; a partial last one is the follower's to finish.
    const end = text.lastIndexOf("\n") + 1;
    keep(text.slice(0, end));
    offset = Buffer.byteLength(text.slice(0, end));
  }
  for (const l of o.tail === undefined ? earlier : earlier.slice(-o.tail)) o.onLine(l);
  if (!o.follow) {
    await fh?.close();
    return;
  }

  // Split on newline bytes, decoded per line: a read may end in the middle of a UTF-8 character.
  let pending = Buffer.alloc(0);
  const emit = (chunk: Buffer) => {
    let data = Buffer.concat([pending, chunk]);
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      o.onLine(parseLogLine(data.subarray(0, nl).toString()));
      data = data.subarray(nl + 1);
    }
    pending = Buffer.from(data);
  };
  const drain = async (handle: FileHandle) => {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      emit(buf.subarray(0, bytesRead));
    }
  };
  try {
    while (!o.signal?.aborted) {
      if (fh) await drain(fh);
      // Rotated (the path is another file now): finish the old file, then go on with the one written after
      // it — not the current one, which is several rotations further when the writer is fast.
      const now = await stat(path).catch(() => undefined);
      const current = fh ? await fh.stat() : undefined;
      if (now && (!current || now.ino !== current.ino || now.dev !== current.dev)) {
        if (fh) await drain(fh);
        const next = await successor(path, current);
        if (next) {
          await fh?.close();
          fh = next;
          offset = 0;
          continue;
        }
      }
      await sleep(pollMs, o.signal).catch(() => {});
    }
  } finally {
    await fh?.close();
  }
}
