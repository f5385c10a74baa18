// Contexts are converted for the evaluator only when an expression names one: a step evaluates many
// expressions, and converting every context (the whole event payload in `github`) for each was a per-step cost.
import { describe, expect, it } from "vitest";
import { evaluateExpression } from "./evaluate.js";

describe("evaluateExpression's contexts", () => {
  it("converts only the contexts an expression names, in any letter case", () => {
    const contexts: Record<string, unknown> = { github: { sha: "abc" }, Matrix: { os: "linux" } };
    Object.defineProperty(contexts, "secrets", {
      enumerable: true,
      get: () => {
        throw new Error("secrets was read");
      },
    });
    expect(evaluateExpression("github.sha", { contexts })).toBe("abc");
    expect(evaluateExpression("format('{0}-{1}', GITHUB.sha, matrix.os)", { contexts })).toBe("abc-linux");
    expect(() => evaluateExpression("secrets.x", { contexts })).toThrow("secrets was read");
  });

  it("gives null for a context that is there but undefined, as before", () => {
    expect(evaluateExpression("inputs == null", { contexts: { inputs: undefined } })).toBe(true);
    expect(evaluateExpression("toJSON(needs)", { contexts: { needs: {} } })).toBe("{}");
  });
});
