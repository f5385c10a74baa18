// The runner protocol's checks: a runner's labels come from its registration, and every message is
// refused (naming the field) when a type, enum or size is wrong.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import {
  claimBody,
  claimLabels,
  completeBody,
  heartbeatBody,
  jobRowIdParam,
  logBody,
  parseRunnerMessage,
  stepBody,
} from "./runner-protocol.js";

describe("claimLabels", () => {
  it("uses the registered labels, or a subset of them (case-insensitively)", () => {
    expect(claimLabels(["linux", "gpu"], undefined)).toEqual(["linux", "gpu"]);
    expect(claimLabels(["linux", "gpu"], ["GPU"])).toEqual(["GPU"]);
    expect(claimLabels(["linux"], [])).toEqual([]);
  });
  it("refuses a label the runner was not registered with", () => {
    expect(() => claimLabels(["a"], ["b"])).toThrow(UserError);
    expect(() => claimLabels(["a"], ["a", "prod-deploy"])).toThrow(/"prod-deploy" is not among/);
    expect(() => claimLabels([], ["anything"])).toThrow(/registered labels \(none\)/);
  });
});

describe("runner messages", () => {
  const refuse = (schema: Parameters<typeof parseRunnerMessage>[0], body: unknown, field: RegExp) =>
    expect(() => parseRunnerMessage(schema, body, "message")).toThrow(field);

  it("checks claims", () => {
    expect(parseRunnerMessage(claimBody, { labels: ["a"], waitMs: 20_000 }, "claim")).toEqual({
      labels: ["a"],
      waitMs: 20_000,
    });
    refuse(claimBody, { waitMs: -1 }, /waitMs/);
    refuse(claimBody, { waitMs: 1e12 }, /waitMs/);
    refuse(claimBody, { labels: "a" }, /labels/);
    refuse(claimBody, { labels: ["a"], sneaky: true }, /sneaky|Unrecognized/);
  });

  it("a claim says whether the runner takes forks' legs: a boolean, absent meaning no", () => {
    expect(parseRunnerMessage(claimBody, { untrusted: true }, "claim")).toEqual({ untrusted: true });
    expect(parseRunnerMessage(claimBody, {}, "claim").untrusted).toBeUndefined();
    refuse(claimBody, { untrusted: "yes" }, /untrusted/);
  });

  it("checks heartbeats: nothing but an empty object", () => {
    expect(parseRunnerMessage(heartbeatBody, {}, "heartbeat")).toEqual({});
    refuse(heartbeatBody, { status: "success" }, /Unrecognized|status/);
  });

  it("checks log chunks", () => {
    refuse(logBody, { seq: "abc", content: "x" }, /seq/);
    refuse(logBody, { seq: 0, content: "x" }, /seq/);
    refuse(logBody, { seq: 1.5, content: "x" }, /seq/);
    refuse(logBody, { seq: 1, content: 42 }, /content/);
    refuse(logBody, { seq: 1, content: "x".repeat(4 * 1024 * 1024 + 1) }, /content/);
  });

  it("checks step reports", () => {
    const ok = { idx: 0, id: "s", name: "Build", status: "completed", conclusion: "success", finishedAt: 1 };
    expect(parseRunnerMessage(stepBody, ok, "step")).toEqual(ok);
    refuse(stepBody, { ...ok, conclusion: "bogus-status" }, /conclusion/);
    refuse(stepBody, { ...ok, status: "done" }, /status/);
    refuse(stepBody, { ...ok, idx: -1 }, /idx/);
    refuse(stepBody, { ...ok, name: "n".repeat(16 * 1024 + 1) }, /name/);
    refuse(stepBody, { ...ok, finishedAt: "yesterday" }, /finishedAt/);
  });

  it("checks job results: the status enum, outputs' types and sizes", () => {
    expect(completeBody.parse({ status: "success" })).toMatchObject({ status: "success", outputs: {} });
    refuse(completeBody, { status: "bogus-status" }, /status/);
    refuse(completeBody, { status: "success", outputs: { a: 1 } }, /outputs/);
    refuse(completeBody, { status: "success", outputs: { a: "x".repeat(1024 * 1024 + 1) } }, /outputs/);
    refuse(completeBody, { status: "failure", message: 7 }, /message/);
  });

  it("checks job results' annotations and summary: level enum, positions, sizes", () => {
    const a = { level: "warning", message: "m", file: "a.js", line: 3, col: 1, title: "T" };
    expect(completeBody.parse({ status: "success", annotations: [a], summary: "# s" })).toMatchObject({
      annotations: [a],
      summary: "# s",
    });
    refuse(
      completeBody,
      { status: "success", annotations: [{ ...a, level: "fatal" }] },
      /annotations\.0\.level/,
    );
    refuse(completeBody, { status: "success", annotations: [{ ...a, line: -1 }] }, /annotations\.0\.line/);
    refuse(
      completeBody,
      { status: "success", annotations: [{ ...a, message: 1 }] },
      /annotations\.0\.message/,
    );
    refuse(completeBody, { status: "success", annotations: Array(1001).fill(a) }, /annotations/);
    // The step that made it: a 1-based number and a name of bounded size.
    expect(
      completeBody.parse({ status: "success", annotations: [{ ...a, stepNumber: 2, stepName: "Build" }] })
        .annotations?.[0],
    ).toMatchObject({ stepNumber: 2, stepName: "Build" });
    refuse(completeBody, { status: "success", annotations: [{ ...a, stepNumber: 0 }] }, /stepNumber/);
    refuse(completeBody, { status: "success", annotations: [{ ...a, stepNumber: 1.5 }] }, /stepNumber/);
    refuse(
      completeBody,
      { status: "success", annotations: [{ ...a, stepName: "x".repeat(1025) }] },
      /stepName/,
    );
    refuse(completeBody, { status: "success", environmentUrl: 5 }, /environmentUrl/);
    refuse(completeBody, { status: "success", environmentUrl: "x".repeat(64 * 1024 + 1) }, /environmentUrl/);
    refuse(completeBody, { status: "success", summary: "x".repeat(8 * 1024 * 1024 + 1) }, /summary/);
  });

  it("checks job ids in URLs", () => {
    expect(jobRowIdParam("42")).toBe(42);
    for (const bad of ["0", "-1", "abc", "1e3", "99999999999999999999", ""])
      expect(() => jobRowIdParam(bad)).toThrow(UserError);
  });
});
