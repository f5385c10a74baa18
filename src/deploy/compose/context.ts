// What the parts of the compose importer share: paths into the compose document and where they are in
// the file (for problems and warnings), and the context each part of a service's translation works in.
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { Problem } from "../../lib/errors.js";

export type Path = (string | number)[];
export type Json = Record<string, unknown>;

export const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Where things are in the compose file, for problems and warnings. */
export class Locator {
  private readonly doc: Document;
  private readonly lines: LineCounter;
  readonly file: string;

  constructor(doc: Document, lines: LineCounter, file: string) {
    this.doc = doc;
    this.lines = lines;
    this.file = file;
  }

  /** The position of the value at path (of its key when `key`), else of its nearest ancestor. */
  private position(path: Path, key: boolean): { line?: number; col?: number } {
    let node: unknown = this.doc.contents;
    let best: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? (node as Node) : undefined;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part),
        );
        if (!pair) break;
        best = (key && part === path.at(-1) ? pair.key : (pair.value ?? pair.key)) as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof part === "number" && node.items[part]) {
        node = node.items[part];
        best = node as Node;
      } else break;
    }
    const offset = best?.range?.[0];
    return offset === undefined ? {} : this.lines.linePos(offset);
  }

  problem(path: Path, message: string, key = false): Problem {
    return { file: this.file, ...this.position(path, key), message };
  }
}

/** What translating one part of a service needs from the import around it. */
export type ImportContext = {
  /** The compose file's name, for messages. */
  readonly file: string;
  /** The whole compose document. */
  readonly data: Json;
  /** compose service name → slipway service name. */
  readonly names: ReadonlyMap<string, string>;
  /** Warns about the value at path (its key when `key`). */
  warn(path: Path, message: string, key?: boolean): void;
  /** A text value with compose's variable substitution undone as far as it can be (see Importer). */
  text(path: Path, value: unknown, service: string): string;
};
