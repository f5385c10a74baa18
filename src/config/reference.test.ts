// The key reference of docs/slipway-yaml.md is generated from the JSON Schema and must not go stale.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { configJsonSchema, configKeyReference, withKeyReference } from "./index.js";

const docPath = join(import.meta.dirname, "..", "..", "docs", "slipway-yaml.md");

describe("the key reference", () => {
  it("in docs/slipway-yaml.md is the generated one (regenerate with `npm run schema`)", () => {
    const doc = readFileSync(docPath, "utf8");
    expect(doc).toBe(withKeyReference(doc));
    expect(doc).toContain(
      "| `deploy.services.<name>.replicas` | integer ≥ 0 | `1` | How many instances (default 1). |",
    );
  });

  it("lists nested keys, records, list items and every form of a value once", () => {
    const schema = configJsonSchema({
      s: z
        .strictObject({
          n: z.number().int().min(1).default(2).describe("A | count."),
          items: z.record(z.string(), z.strictObject({ on: z.array(z.string()) })),
          list: z.array(z.strictObject({ name: z.string() })).optional(),
          kind: z
            .union([
              z.enum(["a", "b"]),
              z.discriminatedUnion("type", [
                z.strictObject({ type: z.literal("a"), x: z.string().optional() }),
                z.strictObject({ type: z.literal("b") }),
              ]),
            ])
            .optional(),
        })
        .describe("A section."),
    });
    expect(configKeyReference(schema)).toBe(
      [
        "| key | values | default | meaning |",
        "|---|---|---|---|",
        "| `s` | mapping |  | A section. |",
        "| `s.n` | integer ≥ 1 | `2` | A \\| count. |",
        "| `s.items` | mapping, required |  |  |",
        "| `s.items.<name>` | mapping |  |  |",
        "| `s.items.<name>.on` | list of string, required |  |  |",
        "| `s.list` | list of mapping |  |  |",
        "| `s.list[].name` | string, required |  |  |",
        "| `s.kind` | `a`, `b` or mapping |  |  |",
        "| `s.kind.type` | `a` or `b`, required |  |  |",
        "| `s.kind.x` | string |  |  |",
        "",
      ].join("\n"),
    );
  });

  it("refuses a page without its markers", () => {
    expect(() => withKeyReference("# no markers\n")).toThrow("no <!-- generated: keys -->");
  });
});
