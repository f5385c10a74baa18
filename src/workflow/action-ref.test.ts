import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { validateActionRef } from "./action-ref.js";

const ok = { owner: "actions", repo: "setup-node", path: "", ref: "v4" };

describe("validateActionRef", () => {
  it.each([
    ok,
    { ...ok, ref: "releases/v1.2" },
    { ...ok, ref: "0123456789abcdef0123456789abcdef01234567" },
    { ...ok, owner: "my_org.x", repo: "a.b" },
    { ...ok, path: "sub/dir" },
  ])("accepts %j", (parts) => {
    expect(validateActionRef(parts)).toEqual(parts);
  });
  it.each([
    { ...ok, owner: ".." },
    { ...ok, owner: "." },
    { ...ok, owner: "-x" },
    { ...ok, repo: ".." },
    { ...ok, repo: "." },
    { ...ok, repo: "-r" },
    { ...ok, ref: ".." },
    { ...ok, ref: "../../x" },
    { ...ok, ref: "a/../b" },
    { ...ok, ref: "-f" },
    { ...ok, ref: "v1\nrm" },
    { ...ok, ref: "a b" },
    { ...ok, ref: "x/.hidden" },
    { ...ok, ref: "" },
    { ...ok, path: "../x" },
    { ...ok, path: "a/../../b" },
    { ...ok, path: "a//b" },
    { ...ok, path: "a\\b" },
    { ...ok, path: "a\u0001" },
  ])("refuses %j", (parts) => {
    expect(() => validateActionRef(parts)).toThrow(UserError);
  });
});
