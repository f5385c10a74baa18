// Evaluates GitHub expressions with @actions/expressions, adding what the library leaves to the runner:
// the status functions and hashFiles(), which depend on the state of the run.
import { Evaluator, Lexer, Parser, data } from "@actions/expressions";
import { type Json, fromExpressionData, toExpressionData } from "./data.js";

type FunctionDefinition = {
  name: string;
  minArgs: number;
  maxArgs: number;
  call: (...args: data.ExpressionData[]) => data.ExpressionData;
};

export const contextNames = [
  "github",
  "env",
  "vars",
  "secrets",
  "job",
  "jobs",
  "steps",
  "runner",
  "matrix",
  "strategy",
  "needs",
  "inputs",
] as const;

/** What the status functions answer, given where the expression is evaluated. */
export type StatusView = {
  /** success(): for a job `if`, all ancestor jobs succeeded; for a step, no earlier step failed. */
  success: boolean;
  /** failure(): for a job `if`, some ancestor job failed; for a step, an earlier step failed. */
  failure: boolean;
  cancelled: boolean;
};

export type EvaluationOptions = {
  contexts: Record<string, unknown>;
  status?: StatusView;
  /** hashFiles(...patterns) implementation; absent where GitHub does not allow it. */
  hashFiles?: (patterns: string[]) => string;
};

export class ExpressionSyntaxError extends Error {}

const functionInfos = [
  { name: "success", minArgs: 0, maxArgs: 0 },
  { name: "failure", minArgs: 0, maxArgs: 0 },
  { name: "always", minArgs: 0, maxArgs: 0 },
  { name: "cancelled", minArgs: 0, maxArgs: 0 },
  { name: "hashFiles", minArgs: 1, maxArgs: 255 },
];

const parsed = new Map<string, ReturnType<Parser["parse"]>>();

export function parseExpression(expr: string): ReturnType<Parser["parse"]> {
  let tree = parsed.get(expr);
  if (!tree) {
    const lexed = new Lexer(expr).lex();
    tree = new Parser(lexed.tokens, [...contextNames], functionInfos).parse();
    if (parsed.size > 5000) parsed.clear();
    parsed.set(expr, tree);
  }
  return tree;
}

/** Whether the expression calls one of the status functions (if not, GitHub wraps it in `success() && (...)`). */
export function usesStatusFunction(expr: string): boolean {
  return /\b(success|failure|always|cancelled)\s*\(/i.test(expr);
}

/**
 * The contexts as the evaluator sees them: each is converted to the library's data model when an
 * expression first names it, not all of them (the whole `github` event payload among them) for every
 * expression evaluated.
 */
class LazyContexts extends data.Dictionary {
  private readonly raw: Record<string, unknown>;
  constructor(raw: Record<string, unknown>) {
    super();
    this.raw = raw;
  }
  override get(key: string): data.ExpressionData | undefined {
    const done = super.get(key);
    if (done !== undefined) return done;
    const lower = key.toLowerCase();
    const name = Object.keys(this.raw).find((k) => k.toLowerCase() === lower);
    if (name === undefined) return undefined;
    const value = toExpressionData(this.raw[name]);
    this.add(name, value);
    return value;
  }
}

export function evaluateExpression(expr: string, opts: EvaluationOptions): Json {
  const tree = parseExpression(expr);
  const ctx = new LazyContexts(opts.contexts);
  const status = opts.status ?? { success: true, failure: false, cancelled: false };
  const fn = (name: string, minArgs: number, maxArgs: number, call: FunctionDefinition["call"]) =>
    [name.toLowerCase(), { name, minArgs, maxArgs, call }] as const;
  const functions = new Map<string, FunctionDefinition>([
    fn("success", 0, 0, () => new data.BooleanData(status.success && !status.cancelled)),
    fn("failure", 0, 0, () => new data.BooleanData(status.failure && !status.cancelled)),
    fn("always", 0, 0, () => new data.BooleanData(true)),
    fn("cancelled", 0, 0, () => new data.BooleanData(status.cancelled)),
    fn("hashFiles", 1, 255, (...args) => {
      if (!opts.hashFiles) throw new Error("hashFiles() is not available in this context");
      return new data.StringData(opts.hashFiles(args.map((a) => a.coerceString())));
    }),
  ]);
  return fromExpressionData(new Evaluator(tree, ctx, functions).evaluate());
}
