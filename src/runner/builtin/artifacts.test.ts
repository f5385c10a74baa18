import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OperationError, RefusalError, UserError } from "../../lib/errors.js";
import { packFiles } from "../../lib/tar.js";
import { downloadArtifact, listArtifacts, uploadArtifact, validateArtifactName } from "./artifacts.js";
import type { ArtifactBackend } from "./storage.js";
import { type ContextOptions, makeContext, makeTempDir } from "./testing.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let dataDir: string;
let home: string;
let counter = 0;

beforeEach(async () => {
  tmp = await makeTempDir("artifacts");
  dataDir = path.join(tmp.dir, "data");
  home = path.join(tmp.dir, "home");
  await mkdir(home);
});
afterEach(() => tmp.cleanup());

/** A fresh workspace holding the given files. */
async function workspace(files: Record<string, string> = {}): Promise<string> {
  const ws = path.join(tmp.dir, `ws${++counter}`);
  await mkdir(ws, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, name)), { recursive: true });
    await writeFile(path.join(ws, name), content);
  }
  return ws;
}

function context(ws: string, inputs: Record<string, string>, options: ContextOptions = {}) {
  return makeContext({ inputs, workspace: ws, dataDir, home, runId: "100", ...options });
}

async function upload(ws: string, inputs: Record<string, string>, options: ContextOptions = {}) {
  const { ctx, rec } = context(ws, inputs, options);
  await uploadArtifact.main(ctx);
  return rec;
}

async function download(ws: string, inputs: Record<string, string>, options: ContextOptions = {}) {
  const { ctx, rec } = context(ws, inputs, options);
  await downloadArtifact.main(ctx);
  return rec;
}

/** Every file below `dir` as `relative path → content`. */
async function tree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    result[path.relative(dir, full)] = await readFile(full, "utf8");
  }
  return result;
}

async function storedFiles(name: string, runId = "100"): Promise<Record<string, string>> {
  const artifact = (await listArtifacts(dataDir, "octo/repo", runId)).find((a) => a.name === name);
  if (!artifact) throw new Error(`no artifact ${name}`);
  return tree(artifact.filesDir);
}

describe("upload-artifact", () => {
  it("uploads a directory relative to itself and downloads it by name in the same run", async () => {
    const ws = await workspace({ "dist/a.js": "A", "dist/lib/b.js": "B", "src/x.ts": "X" });
    const rec = await upload(ws, { name: "build", path: "dist/" });
    expect(rec.outputs["artifact-id"]).toMatch(/^[0-9]+$/);
    expect(rec.outputs["artifact-url"]).toMatch(/^file:\/\//);
    expect(rec.outputs["artifact-digest"]).toMatch(/^[0-9a-f]{64}$/);
    expect(await storedFiles("build")).toEqual({ "a.js": "A", "lib/b.js": "B" });

    const other = await workspace();
    const got = await download(other, { name: "build", path: "out" });
    expect(got.outputs["download-path"]).toBe(path.join(other, "out"));
    expect(await tree(path.join(other, "out"))).toEqual({ "a.js": "A", "lib/b.js": "B" });
  });

  it("round-trips large binary files intact", async () => {
    const ws = await workspace();
    const big = randomBytes(3 * 1024 * 1024 + 7);
    await writeFile(path.join(ws, "big.bin"), big);
    await upload(ws, { name: "big", path: "big.bin" });
    const other = await workspace();
    await download(other, { name: "big" });
    expect((await readFile(path.join(other, "big.bin"))).equals(big)).toBe(true);
  });

  it("stores paths relative to the least common ancestor of the search paths", async () => {
    const ws = await workspace({ "dir/a/x.txt": "x", "dir/b/y.txt": "y", "dir/c/z.txt": "z" });
    await upload(ws, { name: "lca", path: "dir/a/x.txt\ndir/b/" });
    expect(await storedFiles("lca")).toEqual({ "a/x.txt": "x", "b/y.txt": "y" });
    await upload(ws, { name: "single", path: "dir/a/x.txt" });
    expect(await storedFiles("single")).toEqual({ "x.txt": "x" });
    await upload(ws, { name: "wild", path: "dir/*/y.txt" });
    expect(await storedFiles("wild")).toEqual({ "b/y.txt": "y" });
  });

  it("honours excludes and skips hidden files unless asked", async () => {
    const ws = await workspace({
      "out/app.js": "a",
      "out/app.js.map": "m",
      "out/.env": "secret",
      "out/.git/config": "c",
      ".output/index.html": "h",
    });
    await upload(ws, { name: "plain", path: "out\n!out/*.map" });
    expect(await storedFiles("plain")).toEqual({ "app.js": "a" });
    await upload(ws, { name: "hidden", path: "out\n!out/*.map", "include-hidden-files": "true" });
    expect(await storedFiles("hidden")).toEqual({ "app.js": "a", ".env": "secret", ".git/config": "c" });
    // As on GitHub, a hidden search root is pruned too.
    const rec = await upload(ws, { name: "dot", path: ".output/" });
    expect(rec.warnings[0]).toMatch(/No files were found/);
    await upload(ws, { name: "dot", path: ".output/", "include-hidden-files": "true" });
    expect(await storedFiles("dot")).toEqual({ "index.html": "h" });
  });

  it("follows symlinks to files and stores regular files", async () => {
    const outside = path.join(tmp.dir, "outside.txt");
    await writeFile(outside, "linked");
    const ws = await workspace({ "d/real.txt": "r" });
    await symlink(outside, path.join(ws, "d", "link.txt"));
    await upload(ws, { name: "links", path: "d" });
    const artifact = (await listArtifacts(dataDir, "octo/repo", "100"))[0];
    expect((await lstat(path.join(artifact.filesDir, "link.txt"))).isFile()).toBe(true);
    expect(await tree(artifact.filesDir)).toEqual({ "real.txt": "r", "link.txt": "linked" });
  });

  it("applies if-no-files-found", async () => {
    const ws = await workspace();
    expect((await upload(ws, { path: "nothing" })).warnings).toHaveLength(1);
    const ignored = await upload(ws, { path: "nothing", "if-no-files-found": "ignore" });
    expect(ignored.warnings).toEqual([]);
    expect(ignored.logs.join("\n")).toMatch(/No files were found/);
    await expect(upload(ws, { path: "nothing", "if-no-files-found": "error" })).rejects.toThrow(
      OperationError,
    );
    await expect(upload(ws, { path: "nothing", "if-no-files-found": "fail" })).rejects.toThrow(UserError);
    expect(await listArtifacts(dataDir, "octo/repo", "100")).toEqual([]);
  });

  it("refuses to replace an artifact unless overwrite is set", async () => {
    const ws = await workspace({ "f.txt": "one" });
    const first = await upload(ws, { path: "f.txt" });
    await writeFile(path.join(ws, "f.txt"), "two");
    await expect(upload(ws, { path: "f.txt" })).rejects.toThrow(/already exists/);
    expect(await storedFiles("artifact")).toEqual({ "f.txt": "one" });
    const second = await upload(ws, { path: "f.txt", overwrite: "true" });
    expect(Number(second.outputs["artifact-id"])).toBeGreaterThan(Number(first.outputs["artifact-id"]));
    expect(await storedFiles("artifact")).toEqual({ "f.txt": "two" });
    // The same name in another run is another artifact.
    await upload(ws, { path: "f.txt" }, { runId: "101" });
    expect(await listArtifacts(dataDir, "octo/repo", "101")).toHaveLength(1);
  });

  it("gives concurrent uploads distinct ids", async () => {
    const ws = await workspace({ "f.txt": "f" });
    const recs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => upload(ws, { name: `a${i}`, path: "f.txt" })),
    );
    const ids = new Set(recs.map((r) => r.outputs["artifact-id"]));
    expect(ids.size).toBe(8);
  });

  it("computes a deterministic digest over the files", async () => {
    const ws = await workspace({ "d/a": "1", "d/b/c": "2" });
    const one = await upload(ws, { name: "x", path: "d" });
    const two = await upload(ws, { name: "x", path: "d" }, { runId: "7" });
    expect(one.outputs["artifact-digest"]).toBe(two.outputs["artifact-digest"]);
    await writeFile(path.join(ws, "d/a"), "changed");
    const three = await upload(ws, { name: "y", path: "d" });
    expect(three.outputs["artifact-digest"]).not.toBe(one.outputs["artifact-digest"]);
  });

  it("records retention in the metadata", async () => {
    const ws = await workspace({ f: "f" });
    await upload(ws, { path: "f", "retention-days": "3", "compression-level": "0" });
    const [a] = await listArtifacts(dataDir, "octo/repo", "100");
    expect(Date.parse(a.expiresAt) - Date.parse(a.createdAt)).toBe(3 * 86_400_000);
    expect(a).toMatchObject({ name: "artifact", size: 1, files: 1, expired: false });
    await expect(upload(ws, { name: "z", path: "f", "compression-level": "11" })).rejects.toThrow(UserError);
    await expect(upload(ws, { name: "z", path: "f", "retention-days": "soon" })).rejects.toThrow(UserError);
  });

  it("expands ~ in the path", async () => {
    await mkdir(path.join(home, "reports"));
    await writeFile(path.join(home, "reports", "r.xml"), "<r/>");
    await upload(await workspace(), { name: "home", path: "~/reports" });
    expect(await storedFiles("home")).toEqual({ "r.xml": "<r/>" });
  });
});

describe("artifact names", () => {
  const bad: Array<[string, RegExp]> = [
    ['a"b', /Double quote/],
    ["a:b", /Colon/],
    ["a<b", /Less than/],
    ["a>b", /Greater than/],
    ["a|b", /Vertical bar/],
    ["a*b", /Asterisk/],
    ["a?b", /Question mark/],
    ["a\rb", /Carriage return/],
    ["a\nb", /Line feed/],
    ["a\\b", /Backslash/],
    ["a/b", /Forward slash/],
    ["../up", /Forward slash/],
  ];
  it.each(bad)("rejects %j", async (name, message) => {
    expect(() => validateArtifactName(name)).toThrow(message);
    const ws = await workspace({ f: "f" });
    await expect(upload(ws, { name, path: "f" })).rejects.toThrow(UserError);
  });

  it("rejects empty, . and ..", () => {
    expect(() => validateArtifactName("")).toThrow(UserError);
    expect(() => validateArtifactName(".")).toThrow(UserError);
    expect(() => validateArtifactName("..")).toThrow(UserError);
    expect(() => validateArtifactName("my artifact (1).tar")).not.toThrow();
  });

  it("rejects files whose path has a character GitHub refuses", async () => {
    const ws = await workspace({ "d/a:b.txt": "x" });
    await expect(upload(ws, { path: "d" })).rejects.toThrow(/not valid: a:b.txt/);
  });

  it("trims the name as @actions/core does", async () => {
    const ws = await workspace({ f: "f" });
    await upload(ws, { name: "  spaced  ", path: "f" });
    expect((await listArtifacts(dataDir, "octo/repo", "100")).map((a) => a.name)).toEqual(["spaced"]);
  });
});

describe("download-artifact", () => {
  async function seed() {
    const ws = await workspace({ "a/1.txt": "a1", "b/2.txt": "b2", "b/sub/3.txt": "b3", "c/1.txt": "c1" });
    await upload(ws, { name: "build-a", path: "a" });
    await upload(ws, { name: "build-b", path: "b" });
    await upload(ws, { name: "logs", path: "c" });
  }

  it("downloads every artifact into a directory per name, by default into the workspace", async () => {
    await seed();
    const ws = await workspace();
    const rec = await download(ws, {});
    expect(rec.outputs["download-path"]).toBe(ws);
    expect(await tree(ws)).toEqual({
      "build-a/1.txt": "a1",
      "build-b/2.txt": "b2",
      "build-b/sub/3.txt": "b3",
      "logs/1.txt": "c1",
    });
  });

  it("merges artifacts with merge-multiple and filters by pattern", async () => {
    await seed();
    const ws = await workspace();
    await download(ws, { pattern: "build-*", "merge-multiple": "true", path: "all" });
    expect(await tree(path.join(ws, "all"))).toEqual({ "1.txt": "a1", "2.txt": "b2", "sub/3.txt": "b3" });
    const ws2 = await workspace();
    await download(ws2, { pattern: "build-*" });
    expect(Object.keys(await tree(ws2)).sort()).toEqual([
      "build-a/1.txt",
      "build-b/2.txt",
      "build-b/sub/3.txt",
    ]);
  });

  it("downloads from another run with run-id", async () => {
    const ws = await workspace({ "r.txt": "from run 5" });
    await upload(ws, { name: "report", path: "r.txt" }, { runId: "5" });
    const other = await workspace();
    await expect(download(other, { name: "report" })).rejects.toThrow(
      "Unable to download artifact(s): Artifact not found for name: report",
    );
    await download(other, { name: "report", "run-id": "5", "github-token": "x", repository: "Octo/Repo" });
    expect(await tree(other)).toEqual({ "r.txt": "from run 5" });
    await expect(
      download(other, { name: "report", "run-id": "5", repository: "someone/else" }),
    ).rejects.toThrow(UserError);
    await expect(download(other, { name: "report", "run-id": "../5" })).rejects.toThrow(UserError);
  });

  it("keeps repositories apart", async () => {
    const ws = await workspace({ "f.txt": "f" });
    await upload(ws, { name: "x", path: "f.txt" }, { repository: "octo/other" });
    await expect(download(await workspace(), { name: "x" })).rejects.toThrow(/not found/);
  });

  it("expands ~ in the download path and skips expired artifacts", async () => {
    await seed();
    await download(await workspace(), { name: "logs", path: "~/got" });
    expect(await tree(path.join(home, "got"))).toEqual({ "1.txt": "c1" });

    const logs = (await listArtifacts(dataDir, "octo/repo", "100")).find((a) => a.name === "logs")!;
    const metaFile = path.join(path.dirname(logs.filesDir), "artifact.json");
    const meta = JSON.parse(await readFile(metaFile, "utf8"));
    await writeFile(metaFile, JSON.stringify({ ...meta, expiresAt: "2000-01-01T00:00:00.000Z" }));
    await expect(download(await workspace(), { name: "logs" })).rejects.toThrow(/not found/);
  });

  it("never writes through a symlinked directory that leads outside the download path", async () => {
    await seed();
    const outside = path.join(tmp.dir, "outside");
    await mkdir(outside);
    const ws = await workspace();
    await mkdir(path.join(ws, "dest"));
    await symlink(outside, path.join(ws, "dest", "sub"));
    await expect(download(ws, { name: "build-b", path: "dest" })).rejects.toThrow(/outside/);
    expect(await readdir(outside)).toEqual([]);
  });

  it("replaces a symlink at a file's place instead of writing through it", async () => {
    await seed();
    const victim = path.join(tmp.dir, "victim.txt");
    await writeFile(victim, "untouched");
    const ws = await workspace();
    await symlink(victim, path.join(ws, "1.txt"));
    await download(ws, { name: "logs" });
    expect(await readFile(victim, "utf8")).toBe("untouched");
    expect((await lstat(path.join(ws, "1.txt"))).isFile()).toBe(true);
    expect(await readFile(path.join(ws, "1.txt"), "utf8")).toBe("c1");
  });

  it("refuses symlinks planted in the store", async () => {
    await seed();
    const logs = (await listArtifacts(dataDir, "octo/repo", "100")).find((a) => a.name === "logs")!;
    await symlink("/etc/passwd", path.join(logs.filesDir, "evil"));
    await expect(download(await workspace(), { name: "logs" })).rejects.toThrow(/not a regular file/);
  });

  it("ignores store entries whose recorded name does not match their directory", async () => {
    await seed();
    const logs = (await listArtifacts(dataDir, "octo/repo", "100")).find((a) => a.name === "logs")!;
    const metaFile = path.join(path.dirname(logs.filesDir), "artifact.json");
    const meta = JSON.parse(await readFile(metaFile, "utf8"));
    await writeFile(metaFile, JSON.stringify({ ...meta, name: "../../escape" }));
    const ws = await workspace();
    await download(ws, {});
    expect(Object.keys(await tree(ws)).some((f) => f.startsWith("logs"))).toBe(false);
  });

  it("warns when the downloaded files do not match the recorded digest", async () => {
    await seed();
    const logs = (await listArtifacts(dataDir, "octo/repo", "100")).find((a) => a.name === "logs")!;
    await writeFile(path.join(logs.filesDir, "1.txt"), "tampered");
    const rec = await download(await workspace(), { name: "logs" });
    expect(rec.warnings.join("\n")).toMatch(/digest validation failed/);
  });

  it("selects by artifact-ids", async () => {
    await seed();
    const ids = (await listArtifacts(dataDir, "octo/repo", "100")).map((a) => a.id);
    const ws = await workspace();
    await download(ws, { "artifact-ids": `${ids[0]}, ${ids[2]}` });
    expect(Object.keys(await tree(ws)).sort()).toEqual(["build-a/1.txt", "logs/1.txt"]);
    await expect(download(ws, { name: "logs", "artifact-ids": "1" })).rejects.toThrow(UserError);
  });
});

describe("download-artifact on a server", () => {
  /** A server's artifact store as a job sees it: its run (100) and run 7 of the same repository. */
  function backend(calls: string[]): ArtifactBackend {
    const runs: Record<string, Record<string, string>> = {
      "100": { "own.txt": "mine" },
      "7": { "old.txt": "from 7" },
    };
    const of = (runId: string | undefined) => {
      const files = runs[runId ?? "100"];
      if (!files) throw new RefusalError(403, `run ${runId} is another repository's`);
      return files;
    };
    return {
      async list(runId) {
        calls.push(`list ${runId ?? "own"}`);
        const files = of(runId);
        return [
          {
            id: Number(runId ?? 100),
            name: "bundle",
            size: Object.values(files).join("").length,
            files: 1,
            digest: "d",
            createdAt: 0,
            expiresAt: 0,
          },
        ];
      },
      async upload() {
        throw new Error("not in this test");
      },
      async download(name, runId) {
        calls.push(`download ${name} ${runId ?? "own"}`);
        const dir = await workspace(of(runId));
        return packFiles(Object.keys(of(runId)).map((rel) => ({ rel, file: path.join(dir, rel) })));
      },
    };
  }

  it("fetches another run's artifact from the server with run-id, and its own run's without", async () => {
    const calls: string[] = [];
    const artifacts = backend(calls);
    const ws = await workspace();
    await download(ws, { name: "bundle", path: "old", "run-id": "7", "github-token": "t" }, { artifacts });
    expect(await tree(path.join(ws, "old"))).toEqual({ "old.txt": "from 7" });
    await download(ws, { name: "bundle", path: "own" }, { artifacts });
    expect(await tree(path.join(ws, "own"))).toEqual({ "own.txt": "mine" });
    // Its own run's id is its own run: no other run is asked for.
    await download(ws, { name: "bundle", path: "same", "run-id": "100" }, { artifacts });
    expect(calls).toEqual([
      "list 7",
      "download bundle 7",
      "list own",
      "download bundle own",
      "list own",
      "download bundle own",
    ]);
  });

  it("passes the server's refusal on, and refuses another repository and a run id that is not digits before asking", async () => {
    const calls: string[] = [];
    const artifacts = backend(calls);
    const ws = await workspace();
    await expect(
      download(ws, { name: "bundle", "run-id": "9", "github-token": "t" }, { artifacts }),
    ).rejects.toThrow("run 9 is another repository's");
    await expect(
      download(
        ws,
        { name: "bundle", "run-id": "7", repository: "someone/else", "github-token": "t" },
        { artifacts },
      ),
    ).rejects.toThrow(/another repository \(someone\/else\)/);
    await expect(download(ws, { name: "bundle", "run-id": "7/../1" }, { artifacts })).rejects.toThrow(
      UserError,
    );
    expect(calls).toEqual(["list 9"]);
  });
});
