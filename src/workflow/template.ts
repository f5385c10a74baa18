// Evaluation of template tokens left unevaluated by the workflow parser (matrix, runs-on, env, with, ...).
import {
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
} from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import { LineCounter, parseDocument, visit } from "yaml";
import {
  coerceToString,
  type EvaluationOptions,
  evaluateExpression,
  type Json,
} from "../expressions/index.js";

const INSERT = 4; // TokenType.InsertExpression
const NULL = 7;

/** The literal value of a token that holds no expression. */
export function tokenToJson(token: TemplateToken): Json {
  return evaluateToken(token, { contexts: {} });
}

/**
 * The exact text of strings that mix literal text with `${{ }}`. GitHub's parser turns them into
 * `format('…', …)` built from the raw YAML text, which keeps the indentation of block scalars, does not
 * fold `>` scalars and trips over quotes; the `yaml` library's value of the same scalar is right, so
 * these strings are evaluated from it, segment by segment.
 */
const templateText = new WeakMap<TemplateToken, string>();

/** The file each expression token comes from, named as in messages. */
const expressionFile = new WeakMap<TemplateToken, string>();

/**
 * Records the YAML value of every templated string under `root` and the file (`name`) its
 * expressions come from (call once per parsed file).
 */
export function registerTemplateStrings(root: TemplateToken, content: string, name?: string): void {
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, uniqueKeys: false });
  const scalars = new Map<string, string>();
  visit(doc, {
    Scalar(_key, node) {
      if (node.range && typeof node.value === "string" && node.value.includes("${{")) {
        const pos = lines.linePos(node.range[0]);
        scalars.set(`${pos.line}:${pos.col}`, node.value);
      }
    },
  });
  const walk = (t: TemplateToken) => {
    if (isBasicExpression(t)) {
      if (name !== undefined) expressionFile.set(t, name);
      const start = t.range?.start;
      const text = start ? scalars.get(`${start.line}:${start.column}`) : undefined;
      // A scalar that is exactly one expression is one for the parser too; anything else (text around
      // it, or the indentation and line breaks of a block scalar) became a format() call.
      if (text !== undefined && wholeExpression(text) !== text.slice(3, -2)) templateText.set(t, text);
      return;
    }
    if (isSequence(t)) for (const item of t) walk(item);
    else if (isMapping(t)) {
      for (const { key, value } of t) {
        walk(key);
        walk(value);
      }
    }
  };
  walk(root);
}

/** Where the `}}` closing the expression opened at `open` is: the first outside a '…' literal. */
function closingBraces(text: string, open: number): number {
  let inString = false;
  for (let j = open + 3; j < text.length; j++) {
    const c = text[j];
    if (c === "'") inString = !inString;
    else if (!inString && c === "}" && text[j + 1] === "}") return j;
  }
  return -1;
}

/** The expression inside `${{ }}` when that is all the text holds, whitespace around it aside. */
function wholeExpression(text: string): string | undefined {
  const open = text.indexOf("${{");
  if (open < 0 || text.slice(0, open).trim() !== "") return undefined;
  const close = closingBraces(text, open);
  if (close < 0 || text.slice(close + 2).trim() !== "") return undefined;
  return text.slice(open + 3, close);
}

/** Evaluates `literal ${{ expr }} literal …` to a string, as GitHub's format() would. */
export function evaluateTemplateString(text: string, opts: EvaluationOptions): string {
  let out = "";
  let i = 0;
  for (;;) {
    const open = text.indexOf("${{", i);
    if (open < 0) return out + text.slice(i);
    out += text.slice(i, open);
    const close = closingBraces(text, open);
    if (close < 0) return out + text.slice(open);
    out += coerceToString(evaluateExpression(text.slice(open + 3, close).trim(), opts));
    i = close + 2;
  }
}

/**
 * A templated string's value. A block scalar holding one expression and only whitespace around it
 * (`matrix: |` then `${{ fromJSON('…') }}` over several lines) gives that expression's object or
 * array, as on GitHub; a scalar result keeps the text around it.
 */
function evaluateTemplated(text: string, opts: EvaluationOptions): Json {
  const expr = wholeExpression(text);
  if (expr === undefined) return evaluateTemplateString(text, opts);
  const value = evaluateExpression(expr.trim(), opts);
  if (value !== null && typeof value === "object") return value;
  const open = text.indexOf("${{");
  return text.slice(0, open) + coerceToString(value) + text.slice(closingBraces(text, open) + 2);
}

export function evaluateToken(token: TemplateToken, opts: EvaluationOptions): Json {
  if (isString(token)) return token.value;
  if (isNumber(token)) return token.value;
  if (isBoolean(token)) return token.value;
  if (token.templateTokenType === NULL) return null;
  if (isBasicExpression(token)) {
    const text = templateText.get(token);
    return text !== undefined ? evaluateTemplated(text, opts) : evaluateExpression(token.expression, opts);
  }
  if (isSequence(token)) {
    const out: Json[] = [];
    for (const item of token) out.push(evaluateToken(item, opts));
    return out;
  }
  if (isMapping(token)) {
    const out: Record<string, Json> = {};
    for (const { key, value } of token) {
      if (key.templateTokenType === INSERT) {
        // `${{ insert }}`: the value (an expression yielding a mapping) is merged into this mapping.
        const inserted = evaluateToken(value, opts);
        if (inserted && typeof inserted === "object" && !Array.isArray(inserted))
          Object.assign(out, inserted);
        continue;
      }
      const k = evaluateToken(key, opts);
      out[typeof k === "string" ? k : JSON.stringify(k)] = evaluateToken(value, opts);
    }
    return out;
  }
  return null;
}

/** The source location of a token, for error messages. */
export function tokenLocation(token: TemplateToken | undefined): { line?: number; col?: number } {
  const start = token?.range?.start;
  return start ? { line: start.line, col: start.column } : {};
}

/**
 * A value that must be a mapping (`env`, `services`): a literal mapping, or a whole expression that
 * gives an object (null gives none). Anything else is an error that says where the value is.
 */
export function evaluateMapping(
  token: TemplateToken,
  opts: EvaluationOptions,
  what: string,
): Record<string, Json> {
  const value = evaluateToken(token, opts);
  if (value === null) return {};
  if (typeof value === "object" && !Array.isArray(value)) return value;
  const { line, col } = tokenLocation(token);
  const file = expressionFile.get(token);
  const where = file ? `${file}${line ? `:${line}:${col}` : ""}: ` : line ? `${line}:${col}: ` : "";
  throw new Error(`${where}${what} must be a mapping, but the expression gave ${JSON.stringify(value)}`);
}
