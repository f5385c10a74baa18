// GitHub's matrix expansion: the product of the vectors, minus `exclude`, then `include` entries
// extend the combinations whose original values they do not change, or become combinations of their own.
import type { Json } from "../expressions/index.js";

export type MatrixLeg = Record<string, Json>;

export const maxMatrixLegs = 256;

export class MatrixError extends Error {}

function deepEqual(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function matchesPartial(leg: MatrixLeg, filter: Record<string, Json>): boolean {
  return Object.entries(filter).every(([k, v]) => {
    if (!(k in leg)) return false;
    const lv = leg[k];
    // An exclude entry may name part of an object value.
    if (
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      lv &&
      typeof lv === "object" &&
      !Array.isArray(lv)
    ) {
      return matchesPartial(lv as MatrixLeg, v as Record<string, Json>);
    }
    return deepEqual(lv, v);
  });
}

/** Expands an evaluated `strategy.matrix` value into legs; `null` (no matrix) gives one empty leg. */
export function expandMatrix(matrix: Json | undefined): MatrixLeg[] | null {
  if (matrix === undefined || matrix === null) return null;
  if (typeof matrix !== "object" || Array.isArray(matrix)) {
    throw new MatrixError(`strategy.matrix must be a mapping, got ${JSON.stringify(matrix)}`);
  }
  const vectors: [string, Json[]][] = [];
  let include: Json[] = [];
  let exclude: Json[] = [];
  for (const [key, value] of Object.entries(matrix)) {
    if (key === "include" || key === "exclude") {
      if (!Array.isArray(value)) throw new MatrixError(`strategy.matrix.${key} must be a sequence`);
      if (key === "include") include = value;
      else exclude = value;
      continue;
    }
    if (!Array.isArray(value)) {
      throw new MatrixError(`strategy.matrix.${key} must be a sequence, got ${JSON.stringify(value)}`);
    }
    if (value.length === 0) throw new MatrixError(`strategy.matrix.${key} must not be empty`);
    vectors.push([key, value]);
  }
  let legs: MatrixLeg[] = vectors.length ? [{}] : [];
  for (const [key, values] of vectors) {
    const next: MatrixLeg[] = [];
    for (const leg of legs) for (const v of values) next.push({ ...leg, [key]: v });
    legs = next;
    if (legs.length > maxMatrixLegs * 16)
      throw new MatrixError(`the matrix has more than ${maxMatrixLegs} legs`);
  }
  for (const ex of exclude) {
    if (!ex || typeof ex !== "object" || Array.isArray(ex))
      throw new MatrixError("each exclude entry must be a mapping");
    legs = legs.filter((leg) => !matchesPartial(leg, ex as Record<string, Json>));
  }
  // Only the original combinations are extended; an include entry that extends none is added on its own
  // (and later entries never extend it).
  const originals = legs.length;
  const original = legs.map((leg) => ({ ...leg }));
  const vectorKeys = new Set(vectors.map(([k]) => k));
  for (const inc of include) {
    if (!inc || typeof inc !== "object" || Array.isArray(inc))
      throw new MatrixError("each include entry must be a mapping");
    const entry = inc as Record<string, Json>;
    let extended = false;
    for (let i = 0; i < originals; i++) {
      const orig = original[i];
      // Original matrix values cannot be overwritten; values added by an earlier include can.
      const compatible = Object.entries(entry).every(
        ([k, v]) => !vectorKeys.has(k) || !(k in orig) || deepEqual(orig[k], v),
      );
      if (compatible) {
        Object.assign(legs[i], entry);
        extended = true;
      }
    }
    if (!extended) legs.push({ ...entry });
  }
  if (legs.length === 0) throw new MatrixError("the matrix has no legs: every combination was excluded");
  if (legs.length > maxMatrixLegs)
    throw new MatrixError(`the matrix has ${legs.length} legs; at most ${maxMatrixLegs} are allowed`);
  return legs;
}

/** The name GitHub shows for a leg: `build (ubuntu-latest, 18)`. */
export function legDisplayName(base: string, leg: MatrixLeg | null): string {
  if (!leg || Object.keys(leg).length === 0) return base;
  const parts = Object.values(leg).map((v) =>
    v !== null && typeof v === "object" ? JSON.stringify(v) : String(v),
  );
  return `${base} (${parts.join(", ")})`;
}
