// What the migration ranges (NNNN-NNNN.ts) share: the dialect names and the few column helpers whose SQL
// differs between SQLite and PostgreSQL, so each migration is written once for both.
import type { ColumnDefinitionBuilder, CreateTableBuilder } from "kysely";

export type DialectName = "sqlite" | "postgres";

type Table = CreateTableBuilder<string, never>;

export type SchemaHelpers = {
  /** Adds the table's auto-increment `id` primary key. */
  withId: (t: Table) => Table;
  /** A foreign key to `target` ("table.column") with its ON DELETE. */
  ref: (
    target: string,
    onDelete: "cascade" | "set null",
  ) => (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  notNull: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
};

export function schemaHelpers(dialect: DialectName): SchemaHelpers {
  // Ids: bigserial on PostgreSQL; on SQLite `integer primary key autoincrement` (the rowid, never reused).
  const withId = (t: Table): Table =>
    dialect === "postgres"
      ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
      : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
  const ref =
    (target: string, onDelete: "cascade" | "set null") =>
    (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
      c.references(target).onDelete(onDelete);
  const notNull = (c: ColumnDefinitionBuilder) => c.notNull();
  return { withId, ref, notNull };
}
