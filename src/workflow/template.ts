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
import { type EvaluationOptions, evaluateExpression, type Json } from "../expressions/index.js";

const INSERT = 4; // TokenType.InsertExpression
const NULL = 7;

/** The literal value of a token that holds no expression. */
export function tokenToJson(token: TemplateToken): Json {
  return evaluateToken(token, { contexts: {} });
}

export function evaluateToken(token: TemplateToken, opts: EvaluationOptions): Json {
  if (isString(token)) return token.value;
  if (isNumber(token)) return token.value;
  if (isBoolean(token)) return token.value;
  if (token.templateTokenType === NULL) return null;
  if (isBasicExpression(token)) return evaluateExpression(token.expression, opts);
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
