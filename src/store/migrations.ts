// The schema, as migrations defined in code. One schema for both dialects: the only difference is how
// an auto-increment id is spelled (migrations/helpers.ts). Migrations are append-only: never edit one
// that has shipped; add the next number after the last, at the end of the newest range file
// (migrations/NNNN-NNNN.ts), and list a new range file below, after the others. Names sort lexically,
// so keep the 4-digit prefix: Kysely applies them in name order, and `migrations` refuses a list that
// is not strictly increasing.
import type { Migration, MigrationProvider } from "kysely";
import { InternalError } from "../lib/errors.js";
import { migrations0001to0099 } from "./migrations/0001-0099.js";
import { migrations0100to0199 } from "./migrations/0100-0199.js";
import { type DialectName, schemaHelpers } from "./migrations/helpers.js";

export type { DialectName } from "./migrations/helpers.js";

export function migrations(dialect: DialectName): Record<string, Migration> {
  const h = schemaHelpers(dialect);
  return inOrder([migrations0001to0099(h), migrations0100to0199(h)]);
}

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}

/**
 * The ranges joined into one list, which must be strictly increasing by name (so no name twice, even
 * across ranges): a migration out of order or repeated is a bug, refused before anything is applied.
 */
export function inOrder(ranges: Record<string, Migration>[]): Record<string, Migration> {
  const all: Record<string, Migration> = {};
  let last: string | undefined;
  for (const range of ranges) {
    for (const [name, migration] of Object.entries(range)) {
      if (last !== undefined && name <= last) {
        throw new InternalError(
          `migration ${name} is listed after ${last}: migrations must be strictly increasing by name`,
        );
      }
      all[name] = migration;
      last = name;
    }
  }
  return all;
}
