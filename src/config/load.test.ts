// slipway.yaml loading, driven by testdata/<case>/slipway.yaml: either expected.json (the validated config)
// or expected.txt (the problems, one `file:line:col: message` per line).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatProblem, UserError } from "../lib/errors.js";
import { configJsonSchema, findCycle, loadConfig, parseConfig } from "./index.js";

const testdata = join(import.meta.dirname, "testdata");

describe("slipway.yaml fixtures", () => {
  for (const name of readdirSync(testdata).sort()) {
    it(name, () => {
      const dir = join(testdata, name);
      const text = readFileSync(join(dir, "slipway.yaml"), "utf8");
      if (existsSync(join(dir, "expected.json"))) {
        const loaded = parseConfig(text, "slipway.yaml");
        expect(loaded.config).toEqual(JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")));
        return;
      }
      let err: unknown;
      try {
        parseConfig(text, "slipway.yaml");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UserError);
      const got = (err as UserError).problems.map(formatProblem).join("\n");
      expect(got).toBe(readFileSync(join(dir, "expected.txt"), "utf8").trim());
    });
  }
});

describe("loadConfig", () => {
  it("resolves the file and locates values for later problems", () => {
    const loaded = loadConfig(join(testdata, "valid", "slipway.yaml"));
    expect(loaded.dir).toBe(join(testdata, "valid"));
    expect(loaded.config.build?.services.gateway.depends_on).toEqual(["base"]);
    expect(loaded.locate(["build", "services", "gateway"])).toEqual({ line: 12, col: 5 });
    expect(loaded.locate(["build", "nope"])).toBeUndefined();
  });

  it("reports a missing file as a user error", () => {
    expect(() => loadConfig(join(testdata, "nope.yaml"))).toThrow(/cannot read .*nope.yaml: no such file/);
  });

  it("takes other sections (how later domains plug in) and rejects keys none claims", () => {
    const sections = { notify: z.strictObject({ slack: z.url() }) };
    expect(parseConfig("notify: { slack: 'https://hooks.example/x' }\n", "s.yaml", sections).config).toEqual({
      notify: { slack: "https://hooks.example/x" },
    });
    expect(() => parseConfig("build: {services: {}}\n", "s.yaml", sections)).toThrow(UserError);
  });

  it("rejects a document that is not a mapping", () => {
    expect(() => parseConfig("- a\n- b\n", "s.yaml")).toThrow(/invalid s.yaml/);
  });
});

describe("JSON Schema", () => {
  it("describes the build section for editors", () => {
    const schema = configJsonSchema() as {
      additionalProperties: boolean;
      properties: { build: { properties: Record<string, { default?: unknown }>; required?: string[] } };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties.build.properties)).toEqual([
      "registry",
      "prefix",
      "tag",
      "latest",
      "concurrency",
      "builder",
      "services",
    ]);
    expect(schema.properties.build.properties.tag.default).toBe("{version}");
    expect(schema.properties.build.required).toEqual(["services"]);
  });
});

describe("findCycle", () => {
  it("names the cycle or nothing", () => {
    expect(findCycle({ a: ["b"], b: [] })).toBeUndefined();
    expect(findCycle({ a: ["a"] })).toEqual(["a", "a"]);
    expect(findCycle({ x: [], a: ["b"], b: ["c"], c: ["a", "x"] })).toEqual(["a", "b", "c", "a"]);
    expect(findCycle({ a: ["missing"] })).toBeUndefined();
  });
});
