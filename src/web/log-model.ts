// A job's log as lines: ANSI colours turned into markup by ansi_up (which escapes the text and keeps
// only http(s) hyperlinks), `::group::`/`::endgroup::` folded, each line numbered (for #L<n> links) and
// stamped with the time its chunk was stored. Rendering is left to log-view.ts, which draws only the
// lines on screen, so 10,000 lines cost what 60 do.
import { AnsiUp } from "ansi_up";

export type LogLine = {
  /** 1-based, over the whole log (group markers included): what #L<n> names. */
  n: number;
  text: string;
  /** Markup from ansi_up (escaped text in spans); sanitised again before it reaches the page. */
  markup: string;
  at: number;
  /** The group-start line this one is inside (its index), or -1. */
  group: number;
  /** Set on a `::group::` line: its title. */
  title?: string;
  /** An `::endgroup::` line: never shown. */
  end?: boolean;
};

const ansiPattern = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

export function plainText(s: string): string {
  return s.replace(ansiPattern, "");
}

export class LogModel {
  readonly lines: LogLine[] = [];
  /** Group-start indexes that are folded; groups start folded, as on GitHub. */
  readonly folded = new Set<number>();
  lastSeq = 0;
  private readonly ansi = new AnsiUp();
  private openGroup = -1;
  private partial = "";
  private visibleCache: number[] | undefined;

  constructor() {
    this.ansi.use_classes = true;
    this.ansi.url_allowlist = { http: 1, https: 1 };
  }

  /** A stored chunk (in seq order; older or repeated seqs are ignored). */
  append(seq: number, content: string, at: number): boolean {
    if (seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    const parts = (this.partial + content).split("\n");
    this.partial = parts.pop() ?? "";
    for (const raw of parts) this.push(raw.replace(/\r$/, ""), at);
    this.visibleCache = undefined;
    return true;
  }

  private push(text: string, at: number): void {
    const index = this.lines.length;
    const plain = plainText(text);
    const g = /^::group::(.*)$/.exec(plain);
    if (g) {
      this.lines.push({ n: index + 1, text, markup: "", at, group: -1, title: g[1] });
      this.folded.add(index);
      this.openGroup = index;
      return;
    }
    if (/^::endgroup::/.test(plain)) {
      this.lines.push({ n: index + 1, text, markup: "", at, group: this.openGroup, end: true });
      this.openGroup = -1;
      return;
    }
    this.lines.push({ n: index + 1, text, markup: this.ansi.ansi_to_html(text), at, group: this.openGroup });
  }

  toggle(groupIndex: number): void {
    if (this.folded.has(groupIndex)) this.folded.delete(groupIndex);
    else this.folded.add(groupIndex);
    this.visibleCache = undefined;
  }

  /** Unfolds the group holding line index `i`, so it can be shown. */
  reveal(i: number): void {
    const g = this.lines[i]?.group ?? -1;
    if (g >= 0 && this.folded.delete(g)) this.visibleCache = undefined;
  }

  /** Indexes of the lines shown, in order. */
  visible(): number[] {
    if (this.visibleCache) return this.visibleCache;
    const out: number[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const l = this.lines[i];
      if (l.end) continue;
      if (l.group >= 0 && this.folded.has(l.group)) continue;
      out.push(i);
    }
    this.visibleCache = out;
    return out;
  }

  /** Indexes of lines whose text holds `q` (case-insensitive). */
  search(q: string): number[] {
    if (!q) return [];
    const needle = q.toLowerCase();
    const out: number[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const l = this.lines[i];
      if (!l.end && plainText(l.text).toLowerCase().includes(needle)) out.push(i);
    }
    return out;
  }
}
