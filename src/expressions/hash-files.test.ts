import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashFiles } from "./index.js";

// The expected value computed the way GitHub documents it, from the files named in walk order.
const sha256 = (data: Buffer | string) => createHash("sha256").update(data);
const expected = (root: string, files: string[]) =>
  sha256(Buffer.concat(files.map((f) => sha256(readFileSync(join(root, f))).digest()))).digest("hex");

describe("hashFiles", () => {
  const base = mkdtempSync(join(tmpdir(), "slipway-hash-"));
  const ws = join(base, "ws");
  const outside = join(base, "outside");
  const files: Record<string, string> = {
    "package-lock.json": "{root}",
    "a/b/package-lock.json": "{ab}",
    "a/x.txt": "x",
    "node_modules/dep/package-lock.json": "{dep}",
    "web/package-lock.json": "{web}",
    "web/yarn.lock": "yarn",
    ".git/HEAD": "ref",
  };
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(join(ws, f, ".."), { recursive: true });
    writeFileSync(join(ws, f), content);
  }
  mkdirSync(join(outside, "lib"), { recursive: true });
  writeFileSync(join(outside, "secret.txt"), "secret");
  writeFileSync(join(outside, "lib", "package-lock.json"), "{linked}");
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("hashes the files of several patterns in walk order, negations applied in order", () => {
    expect(hashFiles(ws, ["**/package-lock.json", "!**/node_modules/**"])).toBe(
      expected(ws, ["a/b/package-lock.json", "package-lock.json", "web/package-lock.json"]),
    );
    // Later patterns can include again what an earlier one excluded; each file counts once.
    expect(hashFiles(ws, ["**/*.json", "!**/node_modules/**", "node_modules/dep/*", "web/**"])).toBe(
      expected(ws, [
        "a/b/package-lock.json",
        "node_modules/dep/package-lock.json",
        "package-lock.json",
        "web/package-lock.json",
        "web/yarn.lock",
      ]),
    );
    // Walk order follows the patterns' search paths, and one argument may hold several lines (the runner
    // joins the arguments with newlines).
    expect(hashFiles(ws, ["web/yarn.lock", "a/x.txt"])).toBe(expected(ws, ["web/yarn.lock", "a/x.txt"]));
    expect(hashFiles(ws, ["web/yarn.lock\n# comment\na/x.txt"])).toBe(
      expected(ws, ["web/yarn.lock", "a/x.txt"]),
    );
  });

  it("walks ** into hidden directories and a directory pattern into its files", () => {
    expect(hashFiles(ws, ["**/HEAD"])).toBe(expected(ws, [".git/HEAD"]));
    expect(hashFiles(ws, ["web"])).toBe(expected(ws, ["web/package-lock.json", "web/yarn.lock"]));
  });

  it("ignores matches outside the workspace", () => {
    expect(hashFiles(ws, [join(outside, "secret.txt")])).toBe("");
    expect(hashFiles(ws, [join(outside, "secret.txt"), "a/x.txt"])).toBe(expected(ws, ["a/x.txt"]));
    expect(() => hashFiles(ws, ["../outside/secret.txt"])).toThrow(/Relative pathing/);
  });

  it("hashes a symlinked file, and descends into symlinked directories only with --follow-symbolic-links", () => {
    const link = mkdtempSync(join(tmpdir(), "slipway-hash-link-"));
    try {
      symlinkSync(join(outside, "secret.txt"), join(link, "secret-link"));
      symlinkSync(join(outside, "lib"), join(link, "lib"));
      writeFileSync(join(link, "package-lock.json"), "{own}");
      expect(hashFiles(link, ["secret-link"])).toBe(sha256(sha256("secret").digest()).digest("hex"));
      expect(hashFiles(link, ["**/package-lock.json"])).toBe(expected(link, ["package-lock.json"]));
      expect(hashFiles(link, ["--follow-symbolic-links", "**/package-lock.json"])).toBe(
        expected(link, ["lib/package-lock.json", "package-lock.json"]),
      );
      expect(() => hashFiles(link, ["--no-such-option", "x"])).toThrow(/Invalid glob option/);
    } finally {
      rmSync(link, { recursive: true, force: true });
    }
  });

  it("gives an empty string when nothing matches", () => {
    expect(hashFiles(ws, ["**/Gemfile.lock"])).toBe("");
    expect(hashFiles(ws, ["**/package-lock.json", "!**"])).toBe("");
    expect(hashFiles(ws, ["a"])).toBe(expected(ws, ["a/b/package-lock.json", "a/x.txt"]));
  });
});
