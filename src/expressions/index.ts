// Expressions: GitHub's `${{ }}` language, evaluated with @actions/expressions.
// The library parses and evaluates; this domain supplies the contexts' shape, the status functions
// (success/failure/always/cancelled, whose answer depends on where they are evaluated) and hashFiles().
export { coerceToString, fromExpressionData, isTruthy, type Json, toExpressionData } from "./data.js";
export {
  contextNames,
  type EvaluationOptions,
  evaluateExpression,
  parseExpression,
  type StatusView,
  usesStatusFunction,
} from "./evaluate.js";
export { hashFiles } from "./hash-files.js";
