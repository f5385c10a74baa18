// The path matching of @actions/glob, which upload-artifact and cache use for their `path:` input and GitHub's
// runner uses for hashFiles(). Ported rather than approximated with a generic glob library because its rules
// decide which files a workflow uploads, caches or hashes: one pattern per line, `#` comments, `!` excludes
// where the last matching line wins, `.`/`~` prefixes, no `..` segments, a trailing `/` matching only
// directories, "search paths" (the literal prefix of each pattern, which upload-artifact uses to compute the
// artifact's root), symlinks followed with cycle detection (unless told not to), and hidden items pruned
// during the walk (including a hidden search root) when asked.
// POSIX only: patterns and paths use `/`.

import { lstatSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { UserError } from "./errors.js";

export type GlobOptions = {
  /** Relative patterns (and a leading `.`) are resolved against it. */
  workdir: string;
  /** A leading `~` expands to it. */
  home: string;
  /** A pattern matching a directory also matches everything below it. */
  implicitDescendants: boolean;
  /** Yield matched directories themselves (else only files below them, if implicitDescendants). */
  matchDirectories: boolean;
  /** Skip items whose name starts with `.`, without descending into them. */
  excludeHiddenFiles: boolean;
  /** Descend into symlinked directories (with cycle detection); default true, as in @actions/glob. */
  followSymbolicLinks?: boolean;
  signal?: AbortSignal;
};

export type GlobResult = {
  /** Absolute paths of the matched items, in walk order. */
  matches: string[];
  /** The literal prefix of each include pattern, without duplicates or descendants of one another. */
  searchPaths: string[];
};

// Bit flags as in @actions/glob's MatchKind: a trailing-slash pattern only matches directories, and an
// exclude of such a pattern removes only the directory bit.
const matchNone = 0;
const matchDirectory = 1;
const matchFile = 2;
const matchAll = 3;

type Segment = { kind: "literal"; value: string } | { kind: "glob"; re: RegExp } | { kind: "globstar" };

export type Pattern = {
  negate: boolean;
  /** Segments below the filesystem root `/`. */
  segments: Segment[];
  trailingSeparator: boolean;
  searchPath: string;
};

/** Parses the patterns of a multi-line input, skipping blank lines and `#` comments. */
export function parsePatterns(text: string, workdir: string, home: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    patterns.push(parsePattern(line, workdir, home));
  }
  return patterns;
}

function parsePattern(line: string, workdir: string, home: string): Pattern {
  let pattern = line;
  let negate = false;
  while (pattern.startsWith("!")) {
    negate = !negate;
    pattern = pattern.slice(1).trim();
  }
  if (pattern === "") throw new UserError(`Invalid pattern '${line}'. The pattern is empty.`);

  const userSegments = pattern.split("/").filter((s) => s !== "");
  userSegments.forEach((segment, i) => {
    const literal = literalOf(segment);
    if ((literal === "." && (i > 0 || pattern.startsWith("/"))) || literal === "..") {
      throw new UserError(`Invalid pattern '${pattern}'. Relative pathing '.' and '..' is not allowed.`);
    }
  });

  // The root the pattern hangs from is taken literally even if it contains glob characters.
  let root: string;
  let rest: string[];
  if (pattern.startsWith("/")) {
    root = "/";
    rest = userSegments;
  } else if (pattern === "." || pattern.startsWith("./")) {
    root = workdir;
    rest = userSegments.slice(1);
  } else if (pattern === "~" || pattern.startsWith("~/")) {
    root = home;
    rest = userSegments.slice(1);
  } else {
    root = workdir;
    rest = userSegments;
  }
  const segments: Segment[] = [
    ...splitPath(path.resolve(root)).map((value): Segment => ({ kind: "literal", value })),
    ...rest.map(compileSegment),
  ];
  return makePattern(negate, segments, pattern.endsWith("/"));
}

function makePattern(negate: boolean, segments: Segment[], trailingSeparator: boolean): Pattern {
  const literals: string[] = [];
  for (const segment of segments) {
    if (segment.kind !== "literal") break;
    literals.push(segment.value);
  }
  return { negate, segments, trailingSeparator, searchPath: `/${literals.join("/")}` };
}

function splitPath(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}

/** The segment as a literal name (escapes removed, one-character sets unwrapped), or "" if it is a glob. */
function literalOf(segment: string): string {
  let literal = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "\\" && i + 1 < segment.length) {
      literal += segment[++i];
      continue;
    }
    if (c === "*" || c === "?") return "";
    if (c === "[" && i + 1 < segment.length) {
      let set = "";
      let closed = -1;
      for (let j = i + 1; j < segment.length; j++) {
        const c2 = segment[j];
        if (c2 === "\\" && j + 1 < segment.length) {
          set += segment[++j];
          continue;
        }
        if (c2 === "]") {
          closed = j;
          break;
        }
        set += c2;
      }
      if (closed >= 0) {
        if (set.length > 1) return "";
        if (set) {
          literal += set;
          i = closed;
          continue;
        }
      }
    }
    literal += c;
  }
  return literal;
}

function compileSegment(segment: string): Segment {
  if (segment === "**") return { kind: "globstar" };
  const literal = literalOf(segment);
  if (literal !== "") return { kind: "literal", value: literal };
  return { kind: "glob", re: segmentRegExp(segment) };
}

const regExpSpecial = /[\\^$.*+?()[\]{}|/-]/g;
const escapeRegExp = (s: string) => s.replace(regExpSpecial, "\\$&");

/** minimatch's rules for one segment with `dot: true`, `nobrace`, `noext`: `*`, `?`, `[...]`, `\x`. */
function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "\\" && i + 1 < segment.length) {
      re += escapeRegExp(segment[++i]);
    } else if (c === "*") {
      re += ".*";
    } else if (c === "?") {
      re += ".";
    } else if (c === "[") {
      const set = parseCharacterSet(segment, i);
      if (set) {
        re += set.source;
        i = set.end;
      } else {
        re += "\\[";
      }
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(`^${re}$`, "s");
}

function parseCharacterSet(segment: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negated = false;
  if (segment[i] === "!" || segment[i] === "^") {
    negated = true;
    i++;
  }
  let body = "";
  let first = true;
  for (; i < segment.length; i++) {
    const c = segment[i];
    if (c === "]" && !first) return { source: `[${negated ? "^" : ""}${body}]`, end: i };
    if (c === "\\" && i + 1 < segment.length) {
      body += `\\${segment[++i]}`;
    } else if (c === "-" && !first && segment[i + 1] !== "]") {
      body += "-";
    } else {
      body += c.replace(/[\\\]^[-]/g, "\\$&");
    }
    first = false;
  }
  return undefined;
}

/** Whether the item (split into segments) matches, or with `partial`, may have matching descendants. */
function matchSegments(pattern: Segment[], item: string[], partial: boolean, pi = 0, si = 0): boolean {
  for (; pi < pattern.length; pi++, si++) {
    const segment = pattern[pi];
    if (segment.kind === "globstar") {
      if (pi === pattern.length - 1) return true;
      for (let k = si; k <= item.length; k++) {
        if (matchSegments(pattern, item, partial, pi + 1, k)) return true;
      }
      return false;
    }
    if (si >= item.length) return partial;
    const name = item[si];
    if (segment.kind === "literal" ? segment.value !== name : !segment.re.test(name)) return false;
  }
  return si === item.length;
}

function matchPatterns(patterns: Pattern[], item: string[]): number {
  let result = matchNone;
  for (const pattern of patterns) {
    if (!matchSegments(pattern.segments, item, false)) continue;
    const kind = pattern.trailingSeparator ? matchDirectory : matchAll;
    result = pattern.negate ? result & ~kind : result | kind;
  }
  return result;
}

function partialMatchPatterns(patterns: Pattern[], item: string[]): boolean {
  return patterns.some((p) => !p.negate && matchSegments(p.segments, item, true));
}

/** The search paths of the include patterns, dropping duplicates and paths below another one. */
export function getSearchPaths(patterns: Pattern[]): string[] {
  const candidates = new Set(patterns.filter((p) => !p.negate).map((p) => p.searchPath));
  const included = new Set<string>();
  const result: string[] = [];
  for (const pattern of patterns) {
    if (pattern.negate || included.has(pattern.searchPath)) continue;
    if (!ancestors(pattern.searchPath).some((a) => candidates.has(a))) {
      result.push(pattern.searchPath);
      included.add(pattern.searchPath);
    }
  }
  return result;
}

function ancestors(p: string): string[] {
  const result: string[] = [];
  for (let parent = path.dirname(p); parent !== p; p = parent, parent = path.dirname(p)) result.push(parent);
  return result;
}

/** Finds the files (and directories, if asked) that the multi-line `patterns` select. */
export async function globPaths(patterns: string, options: GlobOptions): Promise<GlobResult> {
  const walk = walkPatterns(patterns, options);
  let step = walk.next();
  while (!step.done) {
    const { op, path: p } = step.value;
    let result: unknown;
    try {
      result = await asyncOps[op](p);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(result);
  }
  return step.value;
}

/**
 * The same walk with blocking I/O, for callers that cannot await (hashFiles() runs inside the synchronous
 * expression evaluator).
 */
export function globPathsSync(patterns: string, options: GlobOptions): GlobResult {
  const walk = walkPatterns(patterns, options);
  let step = walk.next();
  while (!step.done) {
    const { op, path: p } = step.value;
    let result: unknown;
    try {
      result = syncOps[op](p);
    } catch (err) {
      step = walk.throw(err);
      continue;
    }
    step = walk.next(result);
  }
  return step.value;
}

// The walk is written once as a generator that yields the filesystem calls it needs; globPaths and
// globPathsSync answer them with fs/promises or fs respectively.
type Ops = {
  stat: (p: string) => Stats;
  lstat: (p: string) => Stats;
  realpath: (p: string) => string;
  readdir: (p: string) => string[];
};
type Op = keyof Ops;
type Request = { op: Op; path: string };
type Walk<T> = Generator<Request, T, unknown>;

const asyncOps: { [K in Op]: (p: string) => Promise<ReturnType<Ops[K]>> } = {
  stat: (p) => fs.stat(p),
  lstat: (p) => fs.lstat(p),
  realpath: (p) => fs.realpath(p),
  readdir: (p) => fs.readdir(p),
};
const syncOps: Ops = {
  stat: (p) => statSync(p),
  lstat: (p) => lstatSync(p),
  realpath: (p) => realpathSync(p),
  readdir: (p) => readdirSync(p),
};

function* call<K extends Op>(op: K, p: string): Walk<ReturnType<Ops[K]>> {
  return (yield { op, path: p }) as ReturnType<Ops[K]>;
}

function* walkPatterns(patterns: string, options: GlobOptions): Walk<GlobResult> {
  const followSymbolicLinks = options.followSymbolicLinks ?? true;
  const parsed = parsePatterns(patterns, options.workdir, options.home);
  const searchPaths = getSearchPaths(parsed);

  const all: Pattern[] = [];
  for (const pattern of parsed) {
    all.push(pattern);
    const last = pattern.segments[pattern.segments.length - 1];
    if (options.implicitDescendants && (pattern.trailingSeparator || last?.kind !== "globstar")) {
      all.push(makePattern(pattern.negate, [...pattern.segments, { kind: "globstar" }], false));
    }
  }

  type Item = { path: string; level: number };
  const stack: Item[] = [];
  for (const searchPath of getSearchPaths(all)) {
    try {
      yield* call("lstat", searchPath);
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    stack.unshift({ path: searchPath, level: 1 });
  }

  const matches: string[] = [];
  const traversalChain: string[] = [];
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const item = stack.pop()!;
    const segments = splitPath(item.path);
    const match = matchPatterns(all, segments);
    const partial = match !== matchNone || partialMatchPatterns(all, segments);
    if (!partial) continue;

    // Without following, a symlink is an item of its own (never a directory to descend into), as in
    // @actions/glob's lstat branch.
    const stats = followSymbolicLinks
      ? yield* statFollowing(item, traversalChain)
      : yield* call("lstat", item.path);
    if (!stats) continue;
    if (options.excludeHiddenFiles && path.basename(item.path).startsWith(".")) continue;

    if (stats.isDirectory()) {
      if (match & matchDirectory && options.matchDirectories) matches.push(item.path);
      // Descend even below a yielded directory, as @actions/glob does: `dir/**` also yields dir's contents.
      const children = (yield* call("readdir", item.path)).sort(compareBytes);
      for (const child of children.reverse()) {
        stack.push({ path: path.join(item.path, child), level: item.level + 1 });
      }
    } else if (match & matchFile) {
      matches.push(item.path);
    }
  }
  return { matches, searchPaths };
}

// Node's readdir lists names in strcmp (UTF-8 byte) order, which is the order @actions/glob walks in;
// sorting again keeps that order whatever the platform returns.
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const isNotFound = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";

/** `stat` through symlinks; undefined for broken links and directory cycles, which the walk skips. */
function* statFollowing(
  item: { path: string; level: number },
  traversalChain: string[],
): Walk<Stats | undefined> {
  let stats: Stats;
  try {
    stats = yield* call("stat", item.path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (stats.isDirectory()) {
    const real = yield* call("realpath", item.path);
    while (traversalChain.length >= item.level) traversalChain.pop();
    if (traversalChain.includes(real)) return undefined;
    traversalChain.push(real);
  }
  return stats;
}

/** The deepest directory that contains all the given absolute paths (upload-artifact's getMultiPathLCA). */
export function leastCommonAncestor(paths: string[]): string {
  const split = paths.map((p) => splitPath(path.normalize(p)));
  const shortest = Math.min(...split.map((s) => s.length));
  const common: string[] = [];
  for (let i = 0; i < shortest; i++) {
    const name = split[0][i];
    if (!split.every((s) => s[i] === name)) break;
    common.push(name);
  }
  return `/${common.join("/")}`;
}
