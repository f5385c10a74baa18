// Small helpers shared by the aggregate modules.
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

/** The store's query handle: the Kysely instance, or a transaction on it. */
export type Db = Kysely<Database>;

/**
 * Runs `fn` in a transaction, or directly when `db` already is one, so that an operation which needs
 * several statements to be atomic also composes into a caller's larger transaction.
 */
export async function atomic<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

/** Rows touched by an UPDATE or DELETE (Kysely reports them as bigint). */
export function affected(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): number {
  return Number(result.numUpdatedRows ?? result.numDeletedRows ?? 0n);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  return JSON.parse(text) as T;
}

/** PostgreSQL text cannot hold NUL; both dialects store U+FFFD instead so they behave the same. */
export function storableText(s: string): string {
  return s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s;
}

export function isoTime(ms: number | null): string {
  return ms === null ? "an unknown time" : new Date(ms).toISOString();
}

/** Drops the keys whose value is undefined, so a partial patch only sets what it names. */
export function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
