// GitHub's filter patterns for `branches`, `tags`, `paths` and their `-ignore` twins.
//
// These are not shell globs (so not picomatch or minimatch): `?` and `+` are regex-like quantifiers of
// the preceding character, `**/` may match nothing, and a list of patterns is evaluated in order with
// the last match deciding. The rules follow the "Filter pattern cheat sheet" in GitHub's workflow
// syntax reference; where the docs are silent (what `\` does before an ordinary character, which
// characters may be quantified) we follow what GitHub's own validation accepts, as recorded by
// actionlint's glob checker.

import { UserError } from "../lib/errors.js";

export type CompiledFilterPattern = { negated: boolean; regex: RegExp };

// After `\` these lose their special meaning. Before any other character `\` is an ordinary character,
// because a file name may contain one (`mkdir 'a\b'`).
const escapable = new Set(["[", "]", "?", "*", "+", "\\", "!"]);

function isAlnumRange(from: string, to: string): boolean {
  const same = (lo: string, hi: string) => from >= lo && from <= hi && to >= lo && to <= hi;
  return (same("0", "9") || same("a", "z") || same("A", "Z")) && from <= to;
}

function escapeRegexChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function invalid(pattern: string, index: number, why: string): UserError {
  return new UserError(`invalid filter pattern '${pattern}' at character ${index + 1}: ${why}`);
}

/**
 * Compiles one pattern to an anchored regular expression. Throws `UserError` for patterns GitHub
 * rejects (empty, a lone `!`, `?`/`+` with nothing quantifiable before them, bad `[...]`).
 */
export function compileFilterPattern(pattern: string): CompiledFilterPattern {
  if (pattern === "") throw new UserError("invalid filter pattern: a pattern cannot be empty");
  // `!` negates only as the first character; anywhere else it is literal.
  const negated = pattern.startsWith("!");
  const chars = Array.from(pattern);
  let i = negated ? 1 : 0;
  if (negated && i >= chars.length) throw invalid(pattern, 0, "'!' must be followed by a pattern");

  let source = "";
  // Whether the last element is a single character or class that `?` and `+` may repeat; GitHub
  // refuses to quantify `*`, `**` or another quantifier.
  let quantifiable = false;
  const emit = (re: string, canRepeat: boolean) => {
    source += re;
    quantifiable = canRepeat;
  };

  while (i < chars.length) {
    const c = chars[i];
    if (c === "*") {
      if (chars[i + 1] === "*") {
        // `**/` also matches nothing, so `**/README.md` matches `README.md` at the root.
        if (chars[i + 2] === "/") {
          emit("(?:.*/)?", false);
          i += 3;
        } else {
          emit(".*", false);
          i += 2;
        }
      } else {
        emit("[^/]*", false);
        i += 1;
      }
    } else if (c === "?" || c === "+") {
      if (!quantifiable) {
        throw invalid(pattern, i, `'${c}' must follow a character it can repeat (escape it as '\\${c}')`);
      }
      // Every atom is a single character or class, so the quantifier can be appended directly.
      source += c;
      quantifiable = false;
      i += 1;
    } else if (c === "[") {
      const start = i;
      i += 1;
      if (chars[i] === "]") throw invalid(pattern, start, "'[]' must list at least one character");
      let cls = "";
      while (i < chars.length && chars[i] !== "]") {
        const from = chars[i];
        if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
          const to = chars[i + 2];
          if (!isAlnumRange(from, to)) {
            throw invalid(pattern, i, `range '${from}-${to}' must be within a-z, A-Z or 0-9 and in order`);
          }
          cls += `${from}-${to}`;
          i += 3;
        } else {
          cls += escapeClassChar(from);
          i += 1;
        }
      }
      if (i >= chars.length) throw invalid(pattern, start, "'[' has no closing ']'");
      i += 1;
      emit(`[${cls}]`, true);
    } else if (c === "\\" && i + 1 < chars.length && escapable.has(chars[i + 1])) {
      emit(escapeRegexChar(chars[i + 1]), true);
      i += 2;
    } else {
      emit(escapeRegexChar(c), true);
      i += 1;
    }
  }
  // `s` so `**` crosses any character; `u` so a quantifier applies to a whole code point.
  return { negated, regex: new RegExp(`^${source}$`, "su") };
}

// Trigger matching evaluates the same few patterns against every event and changed file.
const cache = new Map<string, CompiledFilterPattern>();

function compileCached(pattern: string): CompiledFilterPattern {
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compileFilterPattern(pattern);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, compiled);
  }
  return compiled;
}

/**
 * True when `value` is included by the ordered pattern list: every pattern is tried and the last one
 * that matches decides (a positive pattern includes, a `!` pattern excludes). Nothing matching means
 * excluded, which is also why a list of only `!` patterns never includes anything (GitHub requires a
 * positive pattern alongside `!` ones).
 */
export function matchesAnyFilter(patterns: readonly string[], value: string): boolean {
  let included = false;
  for (const pattern of patterns) {
    const { negated, regex } = compileCached(pattern);
    if (regex.test(value)) included = !negated;
  }
  return included;
}
