import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { validateRepoName } from "./repo-name.js";

describe("validateRepoName", () => {
  it.each(["app", "acme/app", "a.b_c-d", "acme/app.js", "x".repeat(100)])("accepts %j", (name) => {
    expect(validateRepoName(name)).toBe(name);
  });
  it.each([
    ".",
    "..",
    "acme/..",
    "../acme",
    "./x",
    "-x",
    "acme/-x",
    "a/b/c",
    "/abs",
    "acme/",
    "",
    "tab\tname",
    "new\nline",
    "nul\u0000",
    "back\\slash",
    "x".repeat(101),
  ])("refuses %j with the value escaped", (name) => {
    expect(() => validateRepoName(name)).toThrow(UserError);
    expect(() => validateRepoName(name)).toThrow(JSON.stringify(name));
  });
});
