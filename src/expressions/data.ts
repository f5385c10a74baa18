// Conversion between plain JSON-like values and @actions/expressions' data model.
import { data } from "@actions/expressions";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toExpressionData(value: unknown): data.ExpressionData {
  if (value === null || value === undefined) return new data.Null();
  if (typeof value === "string") return new data.StringData(value);
  if (typeof value === "number") return new data.NumberData(value);
  if (typeof value === "boolean") return new data.BooleanData(value);
  if (Array.isArray(value)) return new data.Array(...value.map(toExpressionData));
  if (typeof value === "object") {
    const d = new data.Dictionary();
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) d.add(k, toExpressionData(v));
    }
    return d;
  }
  return new data.StringData(String(value));
}

export function fromExpressionData(d: data.ExpressionData): Json {
  switch (d.kind) {
    case data.Kind.Null:
      return null;
    case data.Kind.Boolean:
      return (d as data.BooleanData).value;
    case data.Kind.Number:
      return (d as data.NumberData).value;
    case data.Kind.String:
      return (d as data.StringData).value;
    case data.Kind.Array:
      return (d as data.Array).values().map(fromExpressionData);
    default: {
      const out: Record<string, Json> = {};
      for (const { key, value } of (d as data.Dictionary).pairs()) out[key] = fromExpressionData(value);
      return out;
    }
  }
}

/** GitHub's string coercion of an expression result, used where a string is expected (env, run, with). */
export function coerceToString(value: Json): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return toExpressionData(value).coerceString();
  return JSON.stringify(value, null, 2);
}

/** GitHub's truthiness of an expression result (used for `if`). */
export function isTruthy(value: Json): boolean {
  if (value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "string") return value.length > 0;
  return true;
}
