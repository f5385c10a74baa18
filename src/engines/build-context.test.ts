// The build context: Docker's .dockerignore rules, and the tar the engine receives — read back here with a
// tar reader, and built by the real Docker Engine for the headers only a real reader judges (PAX names).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar, { type Headers } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { connectEngine, createBuildContext, parseDockerignore, tarFiles } from "./index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function contextDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-context-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

type Unpacked = Map<string, { header: Headers; body: string }>;

/** The entries of a tar by name (directories without their trailing slash). */
async function untar(stream: Readable): Promise<Unpacked> {
  const out: Unpacked = new Map();
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on("data", (c: Buffer) => chunks.push(c));
    body.on("end", () => {
      out.set(header.name.replace(/\/$/, ""), { header, body: Buffer.concat(chunks).toString() });
      next();
    });
  });
  await pipeline(stream, extract);
  return out;
}

const longUnicode = `deep/${"d".repeat(60)}/ünïcødé-${"é".repeat(40)}/fichier-été.txt`;

describe(".dockerignore", () => {
  it("applies Docker's rules: last match wins, parents exclude children, exceptions", () => {
    const rules = parseDockerignore(
      "# comment\nnode_modules\n/dist\n**/*.log\n!keep.log\n*.md\n!README.md\nsecret/\n",
    );
    const cases: [string, boolean][] = [
      ["node_modules/x/index.js", true],
      ["src/node_modules/x", false], // a plain name is anchored at the top, unlike .gitignore
      ["dist/app.js", true], // a leading `/` changes nothing
      ["a/b/c.log", true], // `**` spans any number of directories
      ["c.log", true], // ... none included
      ["keep.log", false],
      ["NOTES.md", true],
      ["README.md", false],
      ["docs/guide.md", false], // `*` does not cross a `/`
      ["secret", true], // a trailing `/` names the directory
      ["secret/key", true],
      ["src/main.ts", false],
    ];
    for (const [path, excluded] of cases) expect([path, rules.excludes(path)]).toEqual([path, excluded]);
  });

  it("walks into an excluded directory only for an exception under it, as the docker CLI does", () => {
    const rules = parseDockerignore("cache\n!cache/keep\nvendor\n!**/LICENSE\n");
    expect(rules.excludes("cache/x")).toBe(true);
    expect(rules.excludes("cache/keep")).toBe(false);
    expect(rules.mayReinclude("cache")).toBe(true);
    // `!**/LICENSE` would match vendor/LICENSE, but its path does not start with vendor/: not walked.
    expect(rules.excludes("vendor/LICENSE")).toBe(false);
    expect(rules.mayReinclude("vendor")).toBe(false);
  });

  it("packs the context without ignored files but with the Dockerfile and .dockerignore", async () => {
    const dir = contextDir({
      Dockerfile: "FROM scratch\n",
      ".dockerignore": "Dockerfile\n.dockerignore\n*.tmp\ncache\n!cache/keep\nvendor\n!**/LICENSE\n/build/\n",
      "a.txt": "a",
      "b.tmp": "b",
      "cache/x": "x",
      "cache/keep": "k",
      "vendor/LICENSE": "MIT",
      "build/out.js": "1",
      "src/build/keep.js": "2",
    });
    const ctx = await createBuildContext(dir);
    expect(ctx.dockerfile).toBe("Dockerfile");
    expect(ctx.files).toEqual([
      ".dockerignore",
      "Dockerfile",
      "a.txt",
      "cache/keep", // without an entry for the excluded directory itself
      "src",
      "src/build",
      "src/build/keep.js",
    ]);
    const tarball = await untar(ctx.stream);
    expect([...tarball.keys()]).toEqual(ctx.files);
    expect(tarball.get("cache/keep")?.body).toBe("k");
  });

  it("keeps modes, symlinks and long or non-ASCII names, owned by root", async () => {
    const dir = contextDir({
      Dockerfile: "FROM scratch\n",
      "run.sh": "#!/bin/sh\n",
      "key.pem": "k",
      [longUnicode]: "long",
    });
    chmodSync(join(dir, "run.sh"), 0o755);
    chmodSync(join(dir, "key.pem"), 0o600);
    chmodSync(join(dir, "deep"), 0o750);
    symlinkSync("run.sh", join(dir, "link"));
    symlinkSync(`../${longUnicode}`, join(dir, "deep", "far-link"));
    const tarball = await untar((await createBuildContext(dir)).stream);
    const entry = (name: string) => {
      const e = tarball.get(name);
      if (!e) throw new Error(`${name} is not in the tar: ${[...tarball.keys()].join(", ")}`);
      return e;
    };
    expect(Buffer.byteLength(longUnicode)).toBeGreaterThan(155); // beyond ustar's name and prefix fields
    expect(entry(longUnicode).body).toBe("long");
    expect(entry(longUnicode).header).toMatchObject({ type: "file", uid: 0, gid: 0 });
    expect(entry("run.sh").header.mode).toBe(0o755);
    expect(entry("key.pem").header.mode).toBe(0o600);
    expect(entry("deep").header).toMatchObject({ type: "directory", mode: 0o750 });
    expect(entry("link").header).toMatchObject({ type: "symlink", linkname: "run.sh" });
    expect(entry("deep/far-link").header).toMatchObject({ type: "symlink", linkname: `../${longUnicode}` });
  });

  it("fails, rather than padding it, on a file that shrank after it was listed", async () => {
    const dir = contextDir({ Dockerfile: "FROM scratch\n", "data.bin": "x".repeat(10_000) });
    const ctx = await createBuildContext(dir);
    truncateSync(join(dir, "data.bin"), 10);
    await expect(untar(ctx.stream)).rejects.toThrow(
      /data\.bin changed while the build context was being sent/,
    );
  });

  it("tars in-memory files for a container with their modes, and no directory entries", async () => {
    const content = await tarFiles([
      { path: "/etc/app/config.json", content: Buffer.from("{}"), mode: 0o600 },
    ]);
    const tarball = await untar(Readable.from([content]));
    expect([...tarball.keys()]).toEqual(["etc/app/config.json"]);
    expect(tarball.get("etc/app/config.json")).toMatchObject({ body: "{}", header: { mode: 0o600 } });
  });
});

describe("build context in the Docker Engine", () => {
  it("arrives whole: modes, symlinks and a long non-ASCII name", async () => {
    const dir = contextDir({
      Dockerfile: [
        "FROM slipway/busybox:latest",
        "COPY . /ctx",
        `RUN test "$(stat -c %a /ctx/run.sh)" = 755 && test "$(stat -c %a /ctx/key.pem)" = 600 \\`,
        '  && test "$(readlink /ctx/link)" = run.sh \\',
        `  && test "$(cat '/ctx/${longUnicode}')" = long && test ! -e /ctx/ignored.txt`,
        "",
      ].join("\n"),
      ".dockerignore": "ignored.txt\n",
      "run.sh": "#!/bin/sh\n",
      "key.pem": "k",
      "ignored.txt": "no",
      [longUnicode]: "long",
    });
    chmodSync(join(dir, "run.sh"), 0o755);
    chmodSync(join(dir, "key.pem"), 0o600);
    symlinkSync("run.sh", join(dir, "link"));
    const engine = connectEngine();
    const ref = `slipway-test/context:${Date.now().toString(36)}`;
    const logs: string[] = [];
    try {
      const { id } = await engine.buildImage({ context: dir, tags: [ref], onLog: (l) => logs.push(l) });
      expect(id, logs.join("\n")).toMatch(/^sha256:/);
    } finally {
      await engine.removeImage(ref, { force: true }).catch(() => {});
    }
  });
});
