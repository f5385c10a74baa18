// Checks and encodings shared by releases, their events and the deploy locks: names and enum values
// refused with a UserError naming the field, page limits clamped, and nullable JSON/text columns written
// the same way (null stays SQL NULL; in a patch, undefined leaves the column alone).
import { UserError } from "../lib/errors.js";
import { storableText, toJson } from "./util.js";

/** JSON for a nullable column: null and undefined are SQL NULL, not the text "null". */
export function nullableJson(value: unknown): string | null {
  return value === null || value === undefined ? null : toJson(value);
}

/** For patches: undefined leaves the column alone, null clears it. */
export function patchJson(value: unknown): string | null | undefined {
  return value === undefined ? undefined : nullableJson(value);
}

export function patchText(value: string | null | undefined): string | null | undefined {
  return typeof value === "string" ? storableText(value) : value;
}

export function requireName(what: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new UserError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function requireOneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UserError(`${what} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  return Math.min(Math.max(Math.trunc(limit ?? fallback), 1), max);
}
