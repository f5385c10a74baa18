import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { coerceToString, evaluateExpression, hashFiles, isTruthy } from "./index.js";

const contexts = {
  github: { ref: "refs/heads/main", event: { commits: [{ id: "a" }, { id: "b" }] } },
  needs: { build: { result: "success", outputs: { list: '["x","y"]' } } },
  matrix: { node: 18 },
};

describe("evaluateExpression", () => {
  it("evaluates contexts, operators and GitHub's built-in functions", () => {
    expect(evaluateExpression("github.ref == 'refs/heads/main'", { contexts })).toBe(true);
    expect(evaluateExpression("fromJSON(needs.build.outputs.list)[1]", { contexts })).toBe("y");
    expect(evaluateExpression("format('node-{0}', matrix.node)", { contexts })).toBe("node-18");
    expect(evaluateExpression("github.event.commits.*.id", { contexts })).toEqual(["a", "b"]);
    expect(evaluateExpression("matrix.missing || 'default'", { contexts })).toBe("default");
    expect(evaluateExpression("GITHUB.REF", { contexts })).toBe("refs/heads/main");
  });

  it("answers the status functions from the given view", () => {
    const failed = { success: false, failure: true, cancelled: false };
    expect(evaluateExpression("success()", { contexts, status: failed })).toBe(false);
    expect(evaluateExpression("failure()", { contexts, status: failed })).toBe(true);
    expect(evaluateExpression("always()", { contexts, status: failed })).toBe(true);
    const cancelled = { success: true, failure: false, cancelled: true };
    expect(evaluateExpression("cancelled()", { contexts, status: cancelled })).toBe(true);
    expect(evaluateExpression("success()", { contexts, status: cancelled })).toBe(false);
    expect(evaluateExpression("failure()", { contexts, status: { ...failed, cancelled: true } })).toBe(false);
  });

  it("reports syntax errors and hashFiles outside a job", () => {
    expect(() => evaluateExpression("github.ref ==", { contexts })).toThrow();
    expect(() => evaluateExpression("hashFiles('x')", { contexts })).toThrow(/not available/);
  });
});

describe("coercion", () => {
  it("coerces like GitHub", () => {
    expect(coerceToString(null)).toBe("");
    expect(coerceToString(true)).toBe("true");
    expect(coerceToString(1.5)).toBe("1.5");
    expect(coerceToString({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(isTruthy("")).toBe(false);
    expect(isTruthy("false")).toBe(true);
    expect(isTruthy(0)).toBe(false);
    expect(isTruthy([])).toBe(true);
  });
});

describe("hashFiles", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-hash-"));
  mkdirSync(join(dir, "a", "b"), { recursive: true });
  writeFileSync(join(dir, "package-lock.json"), "{}");
  writeFileSync(join(dir, "a", "b", "package-lock.json"), "{1}");
  writeFileSync(join(dir, "a", "x.txt"), "x");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("hashes matched files, is stable, and changes with content and patterns", () => {
    const all = hashFiles(dir, ["**/package-lock.json"]);
    expect(all).toMatch(/^[0-9a-f]{64}$/);
    expect(hashFiles(dir, ["**/package-lock.json"])).toBe(all);
    expect(hashFiles(dir, ["**/package-lock.json", "!a/**"])).toBe(hashFiles(dir, ["package-lock.json"]));
    expect(hashFiles(dir, ["**/package-lock.json", "!a/**"])).not.toBe(all);
    expect(hashFiles(dir, ["nothing-*.lock"])).toBe("");
    writeFileSync(join(dir, "a", "b", "package-lock.json"), "{2}");
    expect(hashFiles(dir, ["**/package-lock.json"])).not.toBe(all);
  });
});
