import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "./errors.js";
import { type GlobOptions, globPaths, globPathsSync, leastCommonAncestor } from "./glob.js";

async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `slipway-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let ws: string;
let home: string;

beforeEach(async () => {
  tmp = await makeTempDir("glob");
  ws = path.join(tmp.dir, "ws");
  home = path.join(tmp.dir, "home");
  for (const f of [
    "dist/a.js",
    "dist/a.js.map",
    "dist/sub/b.js",
    "dist/.hidden",
    "src/c.ts",
    ".env",
    "top.txt",
  ]) {
    await mkdir(path.dirname(path.join(ws, f)), { recursive: true });
    await writeFile(path.join(ws, f), f);
  }
  await mkdir(path.join(home, ".npm"), { recursive: true });
  await writeFile(path.join(home, ".npm", "x"), "x");
});
afterEach(() => tmp.cleanup());

const files = (extra: Partial<GlobOptions> = {}): GlobOptions => ({
  workdir: ws,
  home,
  implicitDescendants: true,
  matchDirectories: false,
  excludeHiddenFiles: false,
  ...extra,
});
const rel = (paths: string[]) => paths.map((p) => path.relative(ws, p)).sort();

describe("globPaths", () => {
  it("matches directories with their descendants, and reports the literal search paths", async () => {
    const r = await globPaths("dist/\n# a comment\n\nsrc/*.ts", files());
    expect(rel(r.matches)).toEqual([
      "dist/.hidden",
      "dist/a.js",
      "dist/a.js.map",
      "dist/sub/b.js",
      "src/c.ts",
    ]);
    expect(r.searchPaths).toEqual([path.join(ws, "dist"), path.join(ws, "src")]);
  });

  it("applies excludes in order, the last matching line winning", async () => {
    const r = await globPaths("dist\n!dist/**/*.map\n!dist/sub\ndist/sub/b.js", files());
    expect(rel(r.matches)).toEqual(["dist/.hidden", "dist/a.js", "dist/sub/b.js"]);
  });

  it("drops search paths below another one", async () => {
    const r = await globPaths("dist/**/*.js\ndist/sub", files());
    expect(r.searchPaths).toEqual([path.join(ws, "dist")]);
  });

  it("prunes hidden items, a hidden search root included, when asked", async () => {
    const r = await globPaths(".\n", files({ excludeHiddenFiles: true }));
    expect(rel(r.matches)).toEqual(["dist/a.js", "dist/a.js.map", "dist/sub/b.js", "src/c.ts", "top.txt"]);
    expect((await globPaths("~/.npm", files({ excludeHiddenFiles: true }))).matches).toEqual([]);
    expect((await globPaths("~/.npm", files())).matches).toEqual([path.join(home, ".npm", "x")]);
  });

  it("yields matched directories themselves without implicit descendants", async () => {
    const r = await globPaths("dist\n*.txt", files({ implicitDescendants: false, matchDirectories: true }));
    expect(rel(r.matches)).toEqual(["dist", "top.txt"]);
  });

  it("honours a trailing slash as directories only", async () => {
    const r = await globPaths("*/", files({ implicitDescendants: false, matchDirectories: true }));
    expect(rel(r.matches)).toEqual(["dist", "src"]);
  });

  it("supports ?, character sets and escapes", async () => {
    expect(rel((await globPaths("src/?.ts\ntop.[t]xt", files())).matches)).toEqual(["src/c.ts", "top.txt"]);
    expect(rel((await globPaths("dist/[!a]*/*", files())).matches)).toEqual(["dist/sub/b.js"]);
    expect((await globPaths("dist/\\*", files())).matches).toEqual([]);
  });

  it("rejects . and .. segments like @actions/glob", async () => {
    await expect(globPaths("../outside", files())).rejects.toThrow(UserError);
    await expect(globPaths("dist/../src", files())).rejects.toThrow(/Relative pathing/);
    expect(rel((await globPaths("./src", files())).matches)).toEqual(["src/c.ts"]);
  });

  it("follows symlinks and stops at cycles", async () => {
    await symlink(path.join(ws, "dist"), path.join(ws, "src", "loop"));
    await symlink(path.join(ws, "src"), path.join(ws, "dist", "back"));
    const r = await globPaths("src", files());
    expect(rel(r.matches)).toContain("src/loop/a.js");
    expect(r.matches.length).toBeLessThan(50);
  });

  it("takes the workspace literally even when it contains glob characters", async () => {
    const odd = path.join(tmp.dir, "w[s]*");
    await mkdir(odd);
    await writeFile(path.join(odd, "f"), "f");
    const r = await globPaths("f", files({ workdir: odd }));
    expect(r.matches).toEqual([path.join(odd, "f")]);
  });

  it("without following symlinks, yields a symlinked directory as an item and does not descend", async () => {
    await symlink(path.join(ws, "dist"), path.join(ws, "src", "link"));
    const noFollow = files({ followSymbolicLinks: false, matchDirectories: true });
    expect(rel((await globPaths("src/**", noFollow)).matches)).toEqual(["src", "src/c.ts", "src/link"]);
    expect(rel((await globPaths("src/**", files())).matches)).toContain("src/link/sub/b.js");
  });
});

describe("globPathsSync", () => {
  it("walks like globPaths, in the same order", async () => {
    await symlink(path.join(ws, "dist"), path.join(ws, "src", "loop"));
    for (const patterns of ["**", "dist/\n!**/*.map", "src\n~/.npm", "*/"]) {
      for (const options of [files(), files({ followSymbolicLinks: false, matchDirectories: true })]) {
        expect(globPathsSync(patterns, options)).toEqual(await globPaths(patterns, options));
      }
    }
    expect(() => globPathsSync("../x", files())).toThrow(/Relative pathing/);
  });

  it("walks names in byte order, depth first", async () => {
    // U+FF5E sorts before U+1F600 in UTF-8 bytes (as readdir lists them) but after it in UTF-16 units.
    for (const f of ["B", "a/z", "a/b", "a-b", "\u{1F600}", "\u00e9", "Z", "\uFF5E"]) {
      await mkdir(path.dirname(path.join(tmp.dir, "o", f)), { recursive: true });
      await writeFile(path.join(tmp.dir, "o", f), f);
    }
    const { matches } = globPathsSync("**", files({ workdir: path.join(tmp.dir, "o") }));
    expect(matches.map((m) => path.relative(path.join(tmp.dir, "o"), m))).toEqual([
      "B",
      "Z",
      "a/b",
      "a/z",
      "a-b",
      "\u00e9",
      "\uFF5E",
      "\u{1F600}",
    ]);
  });
});

describe("leastCommonAncestor", () => {
  it("finds the deepest shared directory", () => {
    expect(leastCommonAncestor(["/a/b/c", "/a/b/d/e"])).toBe("/a/b");
    expect(leastCommonAncestor(["/a/b", "/x"])).toBe("/");
  });
});
