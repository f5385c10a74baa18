// Small readers for untyped webhook JSON, shared by the provider normalisers.

export type Json = Record<string, unknown>;

export const zeroSha = "0000000000000000000000000000000000000000";

export function record(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** A non-empty string, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function isZeroSha(sha: unknown): boolean {
  return typeof sha === "string" && /^0+$/.test(sha);
}

/** What a provider's payload becomes: the GitHub event a workflow sees, or why there is none. */
export type Normalised =
  | { kind: "event" | "ping"; eventName: string; payload: Json; commitCount?: number }
  | { kind: "ignored"; eventName?: string; reason: string };
