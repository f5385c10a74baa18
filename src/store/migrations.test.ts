// The list of migrations is one strictly increasing sequence of NNNN_name, as Kysely applies them (in
// name order), however the ranges in migrations/ divide it; a repeated or misplaced name is refused.
import type { Migration } from "kysely";
import { describe, expect, it } from "vitest";
import { InternalError } from "../lib/errors.js";
import { inOrder, migrations } from "./migrations.js";

const noop: Migration = { async up() {} };

describe.each(["sqlite", "postgres"] as const)("the migrations on %s", (dialect) => {
  it("are strictly increasing and unique, each named with a 4-digit prefix", () => {
    const names = Object.keys(migrations(dialect));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name).toMatch(/^\d{4}_[a-z0-9_]+$/);
    for (let i = 1; i < names.length; i++) expect(names[i] > names[i - 1], names[i]).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    // The order Kysely's Migrator applies them in (it sorts the names).
    expect(names).toEqual([...names].sort());
  });
});

describe("inOrder", () => {
  it("joins the ranges in order", () => {
    expect(Object.keys(inOrder([{ "0001_a": noop, "0002_b": noop }, { "0100_c": noop }]))).toEqual([
      "0001_a",
      "0002_b",
      "0100_c",
    ]);
  });

  it("refuses a name twice, within or across ranges, and one out of order", () => {
    expect(() => inOrder([{ "0001_a": noop }, { "0001_a": noop }])).toThrow(InternalError);
    expect(() => inOrder([{ "0001_a": noop, "0003_c": noop, "0002_b": noop }])).toThrow(
      /migration 0002_b is listed after 0003_c/,
    );
    expect(() => inOrder([{ "0100_c": noop }, { "0002_b": noop }])).toThrow(InternalError);
  });
});
