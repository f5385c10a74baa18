// Secret masking for every line slipway prints or stores, with the semantics of GitHub's SecretMasker
// (actions/runner, src/Sdk/DTLogging/Logging): every occurrence of every registered value is found, including
// overlapping ones, the covered ranges are merged (touching ranges too), and each merged range becomes one
// "***". So with secrets `ab` and `bc`, `abc` prints as `***`, and `abab` with secret `ab` as `***`.
//
// Like the runner, each value is also registered in the encodings a step is likely to print it in; see
// `encodedForms`.
//
// Matching uses an Aho-Corasick automaton rather than one RegExp alternation: V8 slows down by a factor of
// about 30 once an alternation passes roughly a thousand literals (measured on Node 20: 36 ms per MB at 1000
// literals, 1.1 s at 2000), and a thousand secrets with their encodings are several thousand literals. The automaton scans in
// time linear in the text, whatever the number of secrets.

/** Base64 fragments shorter than this are not registered: a few base64 characters occur in ordinary text. */
const minBase64Fragment = 6;

/**
 * The forms of a secret the masker looks for besides the value itself, following the encoders the runner
 * registers (HostContext: ValueEncoders):
 * - JSON string content (`a"b` → `a\"b`): secrets inside JSON documents and `toJSON` output;
 * - URL encodings, both `encodeURIComponent` and RFC 3986 (.NET's Uri.EscapeDataString, which also escapes
 *   `!'()*`): secrets in URLs and form bodies;
 * - XML escaping (`&` `<` `>` `"` `'`) and expression escaping (`'` doubled, as in `'${{ ... }}'` strings);
 * - the value between double quotes when a long value (over 8 characters) is itself quoted;
 * - base64 of the UTF-8 bytes in full, as the runner registers it, plus trimmed variants of the value and
 *   of the value without its first one or two bytes (the runner's shift encoders, trimmed as its ADR 0297
 *   proposes): padding and the last character before it are dropped, because they depend on what follows
 *   the value when it is encoded as part of a longer text (`base64("user:" + password + "\n")`). Trimmed
 *   fragments shorter than `minBase64Fragment` are skipped, a slipway rule against masking two-letter
 *   fragments all over the log.
 */
export function encodedForms(value: string): string[] {
  const forms = new Set<string>();
  forms.add(JSON.stringify(value).slice(1, -1));
  try {
    const uri = encodeURIComponent(value);
    forms.add(uri);
    forms.add(uri.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  } catch {
    // A lone surrogate has no URL encoding; nobody can print one either.
  }
  forms.add(
    value.replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
    ),
  );
  forms.add(value.replaceAll("'", "''"));
  if (value.length > 8 && value.startsWith('"') && value.endsWith('"')) forms.add(value.slice(1, -1));

  const bytes = Buffer.from(value, "utf8");
  forms.add(bytes.toString("base64"));
  for (const shift of [0, 1, 2]) {
    const encoded = (bytes.length > shift ? bytes.subarray(shift) : bytes).toString("base64");
    const trimmed = encoded.endsWith("=") ? encoded.replace(/=+$/, "").slice(0, -1) : encoded;
    if (trimmed.length >= minBase64Fragment) forms.add(trimmed);
  }
  forms.delete(value);
  forms.delete("");
  return [...forms];
}

/** An Aho-Corasick automaton over UTF-16 code units that reports, at each end position, the longest match. */
type Automaton = {
  /** Code unit → 1-based index in the patterns' alphabet; 0 for a unit no pattern contains. */
  alphabet: Int32Array;
  alphabetSize: number;
  /** Goto edges keyed by `state * alphabetSize + symbol`. */
  edges: Map<number, number>;
  fail: Int32Array;
  /** Length of the longest pattern that ends in this state (itself or through its failure links); 0 if none. */
  longest: Int32Array;
};

function buildAutomaton(patterns: Iterable<string>): Automaton {
  const alphabet = new Int32Array(65536);
  let alphabetSize = 1;
  const list = [...patterns];
  for (const p of list) {
    for (let i = 0; i < p.length; i++) {
      const unit = p.charCodeAt(i);
      if (alphabet[unit] === 0) alphabet[unit] = alphabetSize++;
    }
  }
  const edges = new Map<number, number>();
  const longest: number[] = [0];
  // Children of each state as flat [symbol, state, symbol, state, ...] lists, for the breadth-first pass.
  const children: number[][] = [[]];
  for (const p of list) {
    let state = 0;
    for (let i = 0; i < p.length; i++) {
      const symbol = alphabet[p.charCodeAt(i)];
      const key = state * alphabetSize + symbol;
      let next = edges.get(key);
      if (next === undefined) {
        next = longest.length;
        longest.push(0);
        children.push([]);
        edges.set(key, next);
        children[state].push(symbol, next);
      }
      state = next;
    }
    longest[state] = p.length;
  }

  const fail = new Int32Array(longest.length);
  const queue: number[] = [];
  for (let j = 1; j < children[0].length; j += 2) queue.push(children[0][j]);
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head];
    const next = children[state];
    for (let j = 0; j < next.length; j += 2) {
      const symbol = next[j];
      const child = next[j + 1];
      let f = fail[state];
      let target = edges.get(f * alphabetSize + symbol);
      while (target === undefined && f !== 0) {
        f = fail[f];
        target = edges.get(f * alphabetSize + symbol);
      }
      fail[child] = target !== undefined && target !== child ? target : 0;
      longest[child] = Math.max(longest[child], longest[fail[child]]);
      queue.push(child);
    }
  }
  return { alphabet, alphabetSize, edges, fail, longest: Int32Array.from(longest) };
}

/** Appends [start, end) to the flat, merged range list, merging it with the ranges it overlaps or touches. */
function pushRange(ranges: number[], start: number, end: number): void {
  // Ranges arrive in order of end; a new one can reach back over several earlier ones.
  while (ranges.length > 0 && ranges[ranges.length - 1] >= start) {
    start = Math.min(start, ranges[ranges.length - 2]);
    end = Math.max(end, ranges[ranges.length - 1]);
    ranges.length -= 2;
  }
  ranges.push(start, end);
}

function scan(automaton: Automaton, text: string, ranges: number[]): void {
  const { alphabet, alphabetSize, edges, fail, longest } = automaton;
  let state = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = alphabet[text.charCodeAt(i)];
    if (symbol === 0) {
      state = 0;
      continue;
    }
    let next = edges.get(state * alphabetSize + symbol);
    while (next === undefined && state !== 0) {
      state = fail[state];
      next = edges.get(state * alphabetSize + symbol);
    }
    state = next ?? 0;
    const length = longest[state];
    if (length > 0) pushRange(ranges, i + 1 - length, i + 1);
  }
}

export class Masker {
  /** Values registered with `add` (whole values and their lines), without encodings. */
  readonly #values = new Set<string>();
  /** Everything searched for: the values and their encoded forms. */
  readonly #patterns = new Set<string>();
  #automaton: Automaton | undefined;
  /** How many patterns the automaton was built from. */
  #built = 0;
  /** Patterns added since the automaton was built, found with indexOf until the next rebuild. */
  #pending: string[] = [];
  /** The length of the longest pattern: how far a match can reach past a cut. */
  #longest = 0;

  /** The number of distinct values registered (lines of multi-line values included, encodings not). */
  get size(): number {
    return this.#values.size;
  }

  /**
   * Registers a secret. Empty and whitespace-only values are ignored (masking them would blank the log).
   * A multi-line value is registered whole and line by line (CR trimmed, blank lines skipped), so that a
   * key printed one line at a time is masked too.
   */
  add(value: string): void {
    if (value.trim() === "") return;
    this.#register(value);
    if (value.includes("\n") || value.includes("\r")) {
      for (const line of value.split("\n")) {
        const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
        if (trimmed.trim() !== "") this.#register(trimmed);
      }
    }
  }

  #register(value: string): void {
    if (this.#values.has(value)) return;
    this.#values.add(value);
    for (const pattern of [value, ...encodedForms(value)]) {
      if (this.#patterns.has(pattern)) continue;
      this.#patterns.add(pattern);
      this.#pending.push(pattern);
      this.#longest = Math.max(this.#longest, pattern.length);
    }
  }

  /** The merged [start, end) ranges of `text` that mask to "***", as a flat list. */
  #ranges(text: string): number[] {
    const pending = this.#pending;
    // Rebuilding costs time in proportion to all patterns, so it waits until enough have piled up (a step
    // that alternates add-mask and output would otherwise rebuild on every line), or until the text is long
    // enough that scanning it once per pending pattern would cost more.
    if (
      pending.length > 0 &&
      (this.#automaton === undefined ||
        pending.length > 32 + this.#built / 4 ||
        pending.length * text.length > 1 << 22)
    ) {
      this.#automaton = buildAutomaton(this.#patterns);
      this.#built = this.#patterns.size;
      this.#pending = [];
    }

    const ranges: number[] = [];
    if (this.#automaton) scan(this.#automaton, text, ranges);
    if (this.#pending.length > 0) {
      const extra: Array<[number, number]> = [];
      for (let i = 0; i < ranges.length; i += 2) extra.push([ranges[i], ranges[i + 1]]);
      for (const pattern of this.#pending) {
        for (let at = text.indexOf(pattern); at >= 0; at = text.indexOf(pattern, at + 1)) {
          extra.push([at, at + pattern.length]);
        }
      }
      extra.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      ranges.length = 0;
      // GitHub's merge: by start, a range that begins at or before the current end extends it.
      for (const [start, end] of extra) {
        if (ranges.length > 0 && start <= ranges[ranges.length - 1]) {
          ranges[ranges.length - 1] = Math.max(ranges[ranges.length - 1], end);
        } else {
          ranges.push(start, end);
        }
      }
    }
    return ranges;
  }

  /**
   * Where a text too long to keep whole may be cut so that both pieces mask exactly as the whole would:
   * `at` when no masked range straddles it, else the start of that range (or its end, when it starts the
   * text). Undefined when it cannot be told yet: a registered pattern starting before the cut could still
   * end after the text, so the caller waits for more (unless `final`: no more will come, or it can wait no
   * longer). Masking each piece is then the same as masking the line: no secret prints in two clear halves.
   */
  safeCut(text: string, at: number, final = false): number | undefined {
    if (at <= 0 || at >= text.length) return final ? text.length : undefined;
    if (this.#patterns.size === 0) return at;
    const reach = this.#longest - 1;
    if (!final && text.length - at < reach) return undefined;
    const ranges = this.#ranges(text);
    for (let i = 0; i < ranges.length; i += 2) {
      const [start, end] = [ranges[i], ranges[i + 1]];
      if (start >= at) break;
      if (end <= at) continue;
      if (start > 0) return start;
      // The range starts the text: cut after it, once a pattern that begins inside it must be complete.
      if (!final && text.length - end < reach) return undefined;
      return end;
    }
    return at;
  }

  /** Replaces every occurrence of every registered value, and of its encoded forms, with "***". */
  mask(text: string): string {
    if (text === "" || this.#patterns.size === 0) return text;
    const ranges = this.#ranges(text);
    if (ranges.length === 0) return text;

    let out = "";
    let from = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      out += text.slice(from, ranges[i]) + "***";
      from = ranges[i + 1];
    }
    return out + text.slice(from);
  }
}
