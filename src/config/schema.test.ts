// schema/slipway.schema.json is what editors load; it must not drift from the sections' zod schemas.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchemaText } from "./index.js";

const published = join(import.meta.dirname, "..", "..", "schema", "slipway.schema.json");

describe("the published JSON Schema", () => {
  it("is the one the sections generate (regenerate with `npm run schema`)", () => {
    expect(readFileSync(published, "utf8")).toBe(configJsonSchemaText());
  });

  it("describes every section and rejects unknown top-level keys", () => {
    const schema = JSON.parse(configJsonSchemaText()) as {
      properties: Record<string, unknown>;
      additionalProperties: unknown;
    };
    expect(Object.keys(schema.properties)).toEqual(["build", "deploy", "notify"]);
    expect(schema.additionalProperties).toBe(false);
  });
});
