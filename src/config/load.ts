// Loading slipway.yaml: YAML with positions, validated by the sections' zod schemas, every problem reported
// as `file:line:col: message` (zod issue paths are mapped back to the YAML nodes they came from).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from "yaml";
import type { z } from "zod";
import { type Problem, UserError } from "../lib/errors.js";
import { type ConfigSections, configSchema, configSections, type SlipwayConfig } from "./schema.js";

export type ConfigPath = readonly (string | number)[];

export type LoadedConfig<C = SlipwayConfig> = {
  /** Absolute path of the file. */
  file: string;
  /** Its directory: relative paths in the file are relative to it. */
  dir: string;
  config: C;
  /** Where a value of the file is (for problems found after validation, e.g. by a planner). */
  locate(path: ConfigPath): { line: number; col: number } | undefined;
};

type Located = { node?: Node | null; key?: Node | null; parent?: Node | null; parentKey?: Node | null };

function keyOf(pair: Pair): string | undefined {
  const k = pair.key;
  if (isScalar(k)) return String(k.value);
  return k === null || k === undefined ? undefined : String(k);
}

/** The YAML node at a path, the key node naming it, and the nearest existing ancestor when it is missing. */
function find(root: Node | null | undefined, path: ConfigPath): Located {
  let node: Node | null | undefined = root;
  let key: Node | null | undefined;
  let parent: Node | null | undefined;
  let parentKey: Node | null | undefined;
  for (const part of path) {
    parent = node;
    parentKey = key;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyOf(p) === String(part));
      if (!pair) return { parent, parentKey };
      key = pair.key as Node;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof part === "number") {
      const item = node.items[part] as Node | undefined;
      if (item === undefined) return { parent, parentKey };
      key = undefined;
      node = item;
    } else return { parent, parentKey };
  }
  return { node, key, parent, parentKey };
}

function valueAt(data: unknown, path: ConfigPath): unknown {
  let v = data;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return "nothing (null)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string ("${v.length > 40 ? `${v.slice(0, 40)}…` : v}")`;
  return `a ${typeof v} (${String(v)})`;
}

function expectedName(expected: string): string {
  return expected === "object" ? "a mapping" : expected === "array" ? "a list" : `a ${expected}`;
}

const dotted = (path: ConfigPath) =>
  path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${p}` : p), "");

/** Problems for one zod issue (unknown keys give one problem per key, at the key). */
function problemsFor(
  issue: z.core.$ZodIssue,
  data: unknown,
  root: Node | null | undefined,
  at: (node: Node | null | undefined) => { line?: number; col?: number },
  file: string,
  sections: ConfigSections,
): Problem[] {
  const path = issue.path as (string | number)[];
  const where = dotted(path);
  const prefix = where ? `${where}: ` : "";
  const loc = find(root, path);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => {
      const known = path.length === 0 ? ` (known top-level keys: ${Object.keys(sections).join(", ")})` : "";
      const keyLoc = find(root, [...path, k]);
      return { file, ...at(keyLoc.key ?? loc.node), message: `${prefix}unknown key '${k}'${known}` };
    });
  }
  if (issue.code === "invalid_key") {
    const detail = issue.issues.map((i) => i.message).join("; ");
    return [{ file, ...at(loc.key ?? loc.node), message: `${prefix}invalid name: ${detail}` }];
  }
  const actual = valueAt(data, path);
  if (issue.code === "invalid_type") {
    if (actual === undefined && !loc.node) {
      const field = path.at(-1);
      const parentWhere = dotted(path.slice(0, -1));
      return [
        {
          file,
          ...at(loc.parentKey ?? loc.parent ?? root),
          message: `${parentWhere ? `${parentWhere}: ` : ""}missing required field '${String(field)}'`,
        },
      ];
    }
    return [
      {
        file,
        ...at(loc.node ?? loc.parent),
        message: `${prefix}expected ${expectedName(issue.expected)}, got ${describe(actual)}`,
      },
    ];
  }
  return [{ file, ...at(loc.node ?? loc.parentKey ?? loc.parent), message: `${prefix}${issue.message}` }];
}

/** Parses and validates the text of a slipway.yaml; `file` is used in problems and to resolve paths. */
export function parseConfig<S extends ConfigSections = typeof configSections>(
  text: string,
  file: string,
  sections: S = configSections as unknown as S,
): LoadedConfig<{ [K in keyof S]?: z.output<S[K]> }> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      return { file, line: pos.line, col: pos.col, message: e.message.split("\n")[0] };
    });
    throw new UserError(`${file} is not valid YAML`, problems);
  }
  const root = doc.contents as Node | null;
  const data = doc.toJS() ?? {};
  if (typeof data !== "object" || Array.isArray(data))
    throw new UserError(`invalid ${file}`, [
      {
        file,
        ...at(root),
        message: `expected a mapping of sections (${Object.keys(sections).join(", ")}), got ${describe(data)}`,
      },
    ]);
  const result = configSchema(sections).safeParse(data);
  if (!result.success) {
    const problems = result.error.issues
      .flatMap((i) => problemsFor(i, data, root, at, file, sections))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new UserError(`invalid ${file}`, problems);
  }
  return {
    file,
    dir: dirname(file),
    config: result.data as { [K in keyof S]?: z.output<S[K]> },
    locate(path) {
      const loc = find(root, path);
      const p = at(loc.key ?? loc.node);
      return p.line === undefined ? undefined : { line: p.line, col: p.col ?? 1 };
    },
  };
}

/** Reads and validates a slipway.yaml (a missing or unreadable file is a UserError too). */
export function loadConfig<S extends ConfigSections = typeof configSections>(
  path: string,
  sections: S = configSections as unknown as S,
): LoadedConfig<{ [K in keyof S]?: z.output<S[K]> }> {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT"
        ? "no such file"
        : e.code === "EISDIR"
          ? "it is a directory (give the file: DIR/slipway.yaml)"
          : e.message;
    throw new UserError(`cannot read ${path}: ${why}`, [{ file: path, message: `cannot read: ${why}` }]);
  }
  // Problems name the file as the user gave it; the result carries the absolute path.
  return { ...parseConfig(text, path, sections), file, dir: dirname(file) };
}
