import { describe, expect, it } from "vitest";
import { expandMatrix, legDisplayName, MatrixError } from "./matrix.js";

describe("expandMatrix", () => {
  it("is null without a matrix", () => {
    expect(expandMatrix(undefined)).toBeNull();
    expect(expandMatrix(null)).toBeNull();
  });

  it("builds the product of the vectors in order", () => {
    expect(expandMatrix({ os: ["ubuntu", "windows"], node: [14, 16] })).toEqual([
      { os: "ubuntu", node: 14 },
      { os: "ubuntu", node: 16 },
      { os: "windows", node: 14 },
      { os: "windows", node: 16 },
    ]);
  });

  it("excludes combinations matching every key of an exclude entry", () => {
    const legs = expandMatrix({
      os: ["macos", "windows"],
      version: [12, 14, 16],
      environment: ["staging", "production"],
      exclude: [
        { os: "macos", version: 12, environment: "production" },
        { os: "windows", version: 16 },
      ],
    });
    expect(legs).toHaveLength(12 - 1 - 2);
    expect(legs).not.toContainEqual({ os: "macos", version: 12, environment: "production" });
    expect(legs?.filter((l) => l.os === "windows" && l.version === 16)).toEqual([]);
  });

  // GitHub's documented example for include.
  it("extends compatible combinations with include and adds the rest as new ones", () => {
    const legs = expandMatrix({
      fruit: ["apple", "pear"],
      animal: ["cat", "dog"],
      include: [
        { color: "green" },
        { color: "pink", animal: "cat" },
        { fruit: "apple", shape: "circle" },
        { fruit: "banana" },
        { fruit: "banana", animal: "cat" },
      ],
    });
    expect(legs).toEqual([
      { fruit: "apple", animal: "cat", color: "pink", shape: "circle" },
      { fruit: "apple", animal: "dog", color: "green", shape: "circle" },
      { fruit: "pear", animal: "cat", color: "pink" },
      { fruit: "pear", animal: "dog", color: "green" },
      { fruit: "banana" },
      { fruit: "banana", animal: "cat" },
    ]);
  });

  it("takes include entries as the legs when there are no vectors", () => {
    expect(expandMatrix({ include: [{ a: 1 }, { b: 2 }] })).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it("matches exclude entries against parts of object values", () => {
    const legs = expandMatrix({
      cfg: [
        { os: "a", v: 1 },
        { os: "b", v: 2 },
      ],
      exclude: [{ cfg: { os: "a" } }],
    });
    expect(legs).toEqual([{ cfg: { os: "b", v: 2 } }]);
  });

  it("rejects bad shapes and empty or oversized matrices", () => {
    expect(() => expandMatrix("x")).toThrow(MatrixError);
    expect(() => expandMatrix({ os: "ubuntu" })).toThrow(/must be a sequence/);
    expect(() => expandMatrix({ os: [] })).toThrow(/must not be empty/);
    expect(() => expandMatrix({ os: ["a"], exclude: [{ os: "a" }] })).toThrow(/no legs/);
    const big = Array.from({ length: 20 }, (_, i) => i);
    expect(() => expandMatrix({ a: big, b: big })).toThrow(/at most 256/);
  });
});

describe("legDisplayName", () => {
  it("appends the matrix values", () => {
    expect(legDisplayName("build", { os: "ubuntu", node: 18 })).toBe("build (ubuntu, 18)");
    expect(legDisplayName("build", { cfg: { a: 1 } })).toBe('build ({"a":1})');
    expect(legDisplayName("build", null)).toBe("build");
  });
});
