import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../../lib/errors.js";
import {
  archiveMembers,
  type CacheEntry,
  cache,
  cacheRestore,
  cacheSave,
  cacheVersion,
  listCacheEntries,
  selectCacheEntry,
} from "./cache.js";
import { type ContextOptions, makeContext, makeTempDir } from "./testing.js";
import type { BuiltinAction } from "./types.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let dataDir: string;
let home: string;
let counter = 0;

beforeEach(async () => {
  tmp = await makeTempDir("cache");
  dataDir = path.join(tmp.dir, "data");
  home = path.join(tmp.dir, "home");
  await mkdir(home);
});
afterEach(() => tmp.cleanup());

async function workspace(files: Record<string, string> = {}): Promise<string> {
  const ws = path.join(tmp.dir, `ws${++counter}`);
  await mkdir(ws, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, name)), { recursive: true });
    await writeFile(path.join(ws, name), content);
  }
  return ws;
}

/** Runs an action's main, then its post with main's state, as the job executor does. */
async function runJob(
  action: BuiltinAction,
  ws: string,
  inputs: Record<string, string>,
  options: ContextOptions & { beforePost?: () => Promise<void> } = {},
) {
  const { beforePost, ...contextOptions } = options;
  const base = { inputs, workspace: ws, dataDir, home, ...contextOptions };
  const main = makeContext(base);
  await action.main(main.ctx);
  await beforePost?.();
  const post = makeContext({ ...base, state: { ...main.rec.saved } });
  await action.post?.(post.ctx);
  return { main: main.rec, post: post.rec };
}

const entries = () => listCacheEntries(dataDir, "octo/repo");
const read = (file: string) => readFile(file, "utf8");

describe("actions/cache", () => {
  it("misses, saves in post, then hits exactly in a later job", async () => {
    const ws1 = await workspace({ "node_modules/a/index.js": "a", "node_modules/.bin/x": "x" });
    const first = await runJob(cache, ws1, { key: "npm-abc", path: "node_modules" });
    expect(first.main.outputs).toEqual({});
    expect(first.main.logs).toContain("Cache not found for input keys: npm-abc");
    expect(first.main.saved).toEqual({ CACHE_KEY: "npm-abc" });
    expect(first.post.logs).toContain("Cache saved with key: npm-abc");
    expect((await entries()).map((e) => [e.key, e.ref])).toEqual([["npm-abc", "refs/heads/main"]]);

    const ws2 = await workspace();
    const second = await runJob(cache, ws2, { key: "npm-abc", path: "node_modules" });
    expect(second.main.outputs).toEqual({ "cache-hit": "true" });
    expect(await read(path.join(ws2, "node_modules/a/index.js"))).toBe("a");
    expect(await read(path.join(ws2, "node_modules/.bin/x"))).toBe("x");
    expect(second.post.logs).toContain("Cache hit occurred on the primary key npm-abc, not saving cache.");
    expect(await entries()).toHaveLength(1);
  });

  it("restores the newest entry matching a restore-key prefix, with cache-hit false", async () => {
    for (const version of ["1", "2"]) {
      const ws = await workspace({ "deps/v.txt": version });
      await runJob(cache, ws, { key: `deps-${version}`, path: "deps" });
    }
    await runJob(cache, await workspace({ "deps/v.txt": "other" }), { key: "unrelated-1", path: "deps" });

    const ws = await workspace();
    const { main, post } = await runJob(cache, ws, {
      key: "deps-3",
      "restore-keys": "nope-\ndeps-",
      path: "deps",
    });
    expect(main.outputs).toEqual({ "cache-hit": "false" });
    expect(main.saved).toEqual({ CACHE_KEY: "deps-3", CACHE_RESULT: "deps-2" });
    expect(await read(path.join(ws, "deps/v.txt"))).toBe("2");
    // An inexact hit saves the new key.
    expect(post.logs).toContain("Cache saved with key: deps-3");
  });

  it("treats another path list as another cache (version mismatch is a miss)", async () => {
    await runJob(cache, await workspace({ "a/f": "a" }), { key: "k", path: "a" });
    const { main } = await runJob(cache, await workspace({ "b/f": "b" }), { key: "k", path: "a\nb" });
    expect(main.outputs["cache-hit"]).toBeUndefined();
    expect(main.logs).toContain("Cache not found for input keys: k");
    expect(new Set((await entries()).map((e) => e.version)).size).toBe(2);
  });

  it("lets a feature branch read the default branch's cache, but not the reverse", async () => {
    await runJob(cache, await workspace({ "d/f": "main" }), { key: "k-main", path: "d" });
    const feature = { ref: "refs/heads/feature" };
    const fromFeature = await runJob(cache, await workspace(), { key: "k-main", path: "d" }, feature);
    expect(fromFeature.main.outputs["cache-hit"]).toBe("true");

    await runJob(cache, await workspace({ "d/f": "feature" }), { key: "k-feature", path: "d" }, feature);
    const fromMain = await runJob(cache, await workspace(), { key: "k-feature", path: "d" });
    expect(fromMain.main.outputs["cache-hit"]).toBeUndefined();
    const fromOther = await runJob(
      cache,
      await workspace(),
      { key: "k-feature", path: "d" },
      { ref: "refs/heads/x" },
    );
    expect(fromOther.main.outputs["cache-hit"]).toBeUndefined();
  });

  it("prefers a prefix match on its own ref over the default branch", async () => {
    await runJob(cache, await workspace({ "d/f": "main" }), { key: "k-1", path: "d" });
    await runJob(
      cache,
      await workspace({ "d/f": "pr" }),
      { key: "k-0", path: "d" },
      { ref: "refs/pull/3/merge" },
    );
    const ws = await workspace();
    const { main } = await runJob(
      cache,
      ws,
      { key: "k-1", "restore-keys": "k-", path: "d" },
      { ref: "refs/pull/3/merge" },
    );
    expect(main.saved.CACHE_RESULT).toBe("k-0");
    expect(await read(path.join(ws, "d/f"))).toBe("pr");
  });

  it("never replaces an existing entry", async () => {
    await runJob(cache, await workspace({ "d/f": "first" }), { key: "k", path: "d" });
    const [before] = await entries();
    const cacheSaveRun = await runJob(cacheSave, await workspace({ "d/f": "second" }), {
      key: "k",
      path: "d",
    });
    expect(cacheSaveRun.main.logs.join("\n")).toMatch(/Cache already exists/);
    expect(await entries()).toEqual([before]);
    const ws = await workspace();
    await runJob(cacheRestore, ws, { key: "k", path: "d" });
    expect(await read(path.join(ws, "d/f"))).toBe("first");
    // The same key on another ref is that ref's own entry.
    await runJob(
      cacheSave,
      await workspace({ "d/f": "b" }),
      { key: "k", path: "d" },
      { ref: "refs/heads/b" },
    );
    expect((await entries()).map((e) => e.ref).sort()).toEqual(["refs/heads/b", "refs/heads/main"]);
  });

  it("lets exactly one of two concurrent saves of the same key win", async () => {
    const [one, two] = await Promise.all([
      runJob(cacheSave, await workspace({ "d/f": "1" }), { key: "k", path: "d" }),
      runJob(cacheSave, await workspace({ "d/f": "2" }), { key: "k", path: "d" }),
    ]);
    const logs = [...one.main.logs, ...two.main.logs].join("\n");
    expect(logs.match(/Cache saved with key: k/g)).toHaveLength(1);
    expect(logs.match(/Cache already exists/g)).toHaveLength(1);
    expect(await entries()).toHaveLength(1);
  });

  it("treats an unreadable archive as a miss with a warning", async () => {
    await runJob(cache, await workspace({ "d/f": "x" }), { key: "k", path: "d" });
    const [entry] = await entries();
    const archive = path.join(
      dataDir,
      "cache",
      encodeURIComponent("octo/repo"),
      "entries",
      entry.id,
      "cache.tgz",
    );
    await writeFile(archive, "not a tarball");
    const { main } = await runJob(cacheRestore, await workspace(), { key: "k", path: "d" });
    expect(main.warnings.join("\n")).toMatch(/Failed to restore/);
    expect(main.outputs["cache-hit"]).toBeUndefined();
  });

  it("only looks up with lookup-only", async () => {
    await runJob(cache, await workspace({ "d/f": "x" }), { key: "k", path: "d" });
    const ws = await workspace();
    const { main } = await runJob(cache, ws, { key: "k", path: "d", "lookup-only": "true" });
    expect(main.outputs["cache-hit"]).toBe("true");
    expect(main.logs).toContain("Cache found and can be restored from key: k");
    expect(await readdir(ws)).toEqual([]);
  });

  it("fails on a miss with fail-on-cache-miss", async () => {
    const ws = await workspace();
    await expect(runJob(cache, ws, { key: "k", path: "d", "fail-on-cache-miss": "true" })).rejects.toThrow(
      OperationError,
    );
  });

  it("round-trips absolute and ~ paths to the same place", async () => {
    const tool = path.join(tmp.dir, "opt", "tool");
    await mkdir(tool, { recursive: true });
    await writeFile(path.join(tool, "bin"), "tool");
    await mkdir(path.join(home, ".npm", "_cacache"), { recursive: true });
    await writeFile(path.join(home, ".npm", "_cacache", "index"), "npm");
    const paths = `${tool}\n~/.npm\nlocal`;
    await runJob(cache, await workspace({ "local/l": "l" }), { key: "k", path: paths });

    await rm(tool, { recursive: true });
    await rm(path.join(home, ".npm"), { recursive: true });
    const ws = await workspace();
    const { main } = await runJob(cache, ws, { key: "k", path: paths });
    expect(main.outputs["cache-hit"]).toBe("true");
    expect(await read(path.join(tool, "bin"))).toBe("tool");
    expect(await read(path.join(home, ".npm", "_cacache", "index"))).toBe("npm");
    expect(await read(path.join(ws, "local/l"))).toBe("l");
  });

  it("saves what the globs select, excludes applied", async () => {
    const ws1 = await workspace({ "pkgs/a/out": "a", "pkgs/b/out": "b", "pkgs/skip/out": "s" });
    await runJob(cache, ws1, { key: "k", path: "pkgs/*\n!pkgs/skip" });
    const ws2 = await workspace();
    await runJob(cache, ws2, { key: "k", path: "pkgs/*\n!pkgs/skip" });
    expect((await readdir(path.join(ws2, "pkgs"))).sort()).toEqual(["a", "b"]);
  });

  it("does not save when the job failed, unless save-always", async () => {
    const failed = await runJob(
      cache,
      await workspace({ "d/f": "x" }),
      { key: "k", path: "d" },
      { jobStatus: "failure" },
    );
    expect(failed.post.logs.join("\n")).toMatch(/Not saving cache/);
    expect(await entries()).toEqual([]);
    const always = await runJob(
      cache,
      await workspace({ "d/f": "x" }),
      { key: "k", path: "d", "save-always": "true" },
      { jobStatus: "failure" },
    );
    expect(always.main.warnings.join("\n")).toMatch(/deprecated/);
    expect(await entries()).toHaveLength(1);
    expect(cache.postIf).toBe("always()");
  });

  it("warns instead of failing when there is nothing to save", async () => {
    const { post } = await runJob(cache, await workspace(), { key: "k", path: "missing" });
    expect(post.warnings.join("\n")).toMatch(/Path Validation Error/);
    expect(await entries()).toEqual([]);
  });

  it("validates keys: an error when restoring, a warning when saving", async () => {
    const ws = await workspace({ "d/f": "x" });
    await expect(runJob(cache, ws, { key: "a,b", path: "d" })).rejects.toThrow(UserError);
    await expect(runJob(cache, ws, { key: "x".repeat(513), path: "d" })).rejects.toThrow(/512/);
    await expect(runJob(cache, ws, { key: "k", path: "" })).rejects.toThrow(/path/);
    await expect(runJob(cache, ws, { path: "d" })).rejects.toThrow(/key/);
    const many = Array.from({ length: 10 }, (_, i) => `r${i}`).join("\n");
    await expect(runJob(cache, ws, { key: "k", "restore-keys": many, path: "d" })).rejects.toThrow(
      /maximum of 10/,
    );
    const { main } = await runJob(cacheSave, ws, { key: "a,b", path: "d" });
    expect(main.warnings).toEqual(["Key Validation Error: a,b cannot contain commas.", "Cache save failed."]);
  });

  it("leaves no staging garbage behind", async () => {
    await runJob(cache, await workspace({ "d/f": "x" }), { key: "k", path: "d" });
    await runJob(cacheSave, await workspace({ "d/f": "x" }), { key: "k", path: "d" });
    const root = path.join(dataDir, "cache", encodeURIComponent("octo/repo"));
    expect(await readdir(path.join(root, ".tmp"))).toEqual([]);
    expect((await stat(path.join(root, "entries"))).isDirectory()).toBe(true);
  });
});

describe("actions/cache/restore and actions/cache/save", () => {
  it("publishes the primary and matched keys as outputs", async () => {
    const saved = await runJob(cacheSave, await workspace({ "d/f": "x" }), { key: "build-1", path: "d" });
    expect(saved.main.logs).toContain("Cache saved with key: build-1");
    const ws = await workspace();
    const { main } = await runJob(cacheRestore, ws, { key: "build-2", "restore-keys": "build-", path: "d" });
    expect(main.outputs).toEqual({
      "cache-primary-key": "build-2",
      "cache-matched-key": "build-1",
      "cache-hit": "false",
    });
    expect(cacheRestore.post).toBeUndefined();
    const miss = await runJob(cacheRestore, ws, { key: "other", path: "d" });
    expect(miss.main.outputs).toEqual({ "cache-primary-key": "other" });
  });
});

describe("selectCacheEntry", () => {
  const version = cacheVersion(["d"]);
  const entry = (key: string, ref: string, createdAt: string): CacheEntry => ({
    key,
    ref,
    version,
    createdAt,
    size: 1,
    id: `${key}@${ref}`,
  });
  const all = [
    entry("npm-a", "refs/heads/main", "2024-01-01T00:00:00.000Z"),
    entry("npm-b", "refs/heads/main", "2024-01-03T00:00:00.000Z"),
    entry("npm-c", "refs/heads/main", "2024-01-02T00:00:00.000Z"),
    entry("npm-f", "refs/heads/feat", "2024-01-01T00:00:00.000Z"),
  ];
  const select = (primaryKey: string, restoreKeys: string[], ref = "refs/heads/main") =>
    selectCacheEntry(all, { primaryKey, restoreKeys, version, ref, defaultBranch: "main" })?.id;

  it("prefers the exact key, then the newest prefix match of the primary key, then restore keys in order", () => {
    expect(select("npm-a", ["npm-"])).toBe("npm-a@refs/heads/main");
    expect(select("npm-", [])).toBe("npm-b@refs/heads/main");
    expect(select("x", ["y", "npm-"])).toBe("npm-b@refs/heads/main");
    expect(select("x", ["npm-c", "npm-"])).toBe("npm-c@refs/heads/main");
    expect(select("x", ["y"])).toBeUndefined();
  });

  it("searches the run's ref before the default branch, and never other branches", () => {
    expect(select("x", ["npm-"], "refs/heads/feat")).toBe("npm-f@refs/heads/feat");
    expect(select("npm-a", [], "refs/heads/feat")).toBe("npm-a@refs/heads/main");
    expect(select("npm-f", [], "refs/heads/other")).toBeUndefined();
    expect(
      selectCacheEntry(all, {
        primaryKey: "npm-a",
        restoreKeys: [],
        version: "v2",
        ref: "refs/heads/main",
        defaultBranch: "main",
      }),
    ).toBeUndefined();
  });

  it("matches GitHub's version hash for gzip archives", () => {
    // sha256("d|gzip|1.0"), what @actions/cache computes for `path: d` without zstd.
    expect(version).toBe("820bce09e6625141e3f2da9f99c9f3400169e11aa70d0c8c6b90bc39d606fc24");
  });
});

describe("archiveMembers", () => {
  it("keeps workspace paths relative, others absolute, and drops nested duplicates", () => {
    expect(archiveMembers(["/ws/a", "/ws/a/b", "/ws", "/home/u/.npm"], "/ws")).toEqual(["/home/u/.npm", "."]);
    expect(archiveMembers(["/ws/a/b", "/ws/c", "/opt/x"], "/ws")).toEqual(["/opt/x", "a/b", "c"]);
  });
});
