// The mirror's reads through one `git cat-file --batch` must say what the git commands they replace say.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isolatedGitEnv, makeRepo, makeTempDir, type TestRepo } from "../../test/support/git.js";
import {
  changedFiles,
  checkoutWorkflows,
  commitInfo,
  createMirror,
  fetchMirror,
  resolveRef,
} from "./mirror.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let src: TestRepo;
let mirror: string;
let first: string;
let second: string;

beforeAll(async () => {
  tmp = await makeTempDir("mirror");
  src = await makeRepo(tmp.dir, "src");
  const w = (p: string, content: string) => {
    mkdirSync(join(src.dir, p, ".."), { recursive: true });
    writeFileSync(join(src.dir, p), content);
  };
  w(".github/workflows/ci.yml", "on: push\n");
  w(".github/actions/hello/action.yml", "runs: { using: node20, main: index.js }\n");
  w(".github/actions/hello/run.sh", "#!/bin/sh\necho hi\n");
  chmodSync(join(src.dir, ".github/actions/hello/run.sh"), 0o755);
  symlinkSync("workflows/ci.yml", join(src.dir, ".github/link.yml"));
  w("README.md", "outside .github\n");
  await src.git("add", "-A");
  await src.git("commit", "-q", "-m", "first\n\nwith a body");
  first = await src.git("rev-parse", "HEAD");
  mirror = join(tmp.dir, "mirror.git");
  await createMirror(src.dir, mirror);
});
afterAll(() => tmp.cleanup());

function gitIn(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { env: { ...process.env, ...isolatedGitEnv } }).toString();
}

describe("mirror reads", () => {
  it("extracts .github as git archive does: contents, exec bits, symlinks, nothing else", async () => {
    const root = await checkoutWorkflows(mirror, first, join(tmp.dir, "wf"));
    const expected = join(tmp.dir, "archive");
    mkdirSync(expected);
    execFileSync("sh", [
      "-c",
      `git -C "$1" archive --format=tar "$2" .github | tar -x -C "$3"`,
      "sh",
      mirror,
      first,
      expected,
    ]);
    const list = (dir: string) =>
      execFileSync("find", [".", "-mindepth", "1"], { cwd: dir })
        .toString()
        .split("\n")
        .filter(Boolean)
        .sort();
    expect(list(root).filter((p) => p !== "./.done")).toEqual(list(expected));
    for (const p of list(expected)) {
      const a = lstatSync(join(root, p));
      const b = lstatSync(join(expected, p));
      expect([p, a.isSymbolicLink(), a.isDirectory(), a.mode & 0o111]).toEqual([
        p,
        b.isSymbolicLink(),
        b.isDirectory(),
        b.mode & 0o111,
      ]);
      if (a.isSymbolicLink()) expect(readlinkSync(join(root, p))).toBe(readlinkSync(join(expected, p)));
      else if (a.isFile())
        expect(readFileSync(join(root, p), "utf8")).toBe(readFileSync(join(expected, p), "utf8"));
    }
  });

  it("tells commit ids the mirror has from those it has not, and sees commits a later fetch brings", async () => {
    expect(await resolveRef(mirror, first)).toBe(first);
    expect(await resolveRef(mirror, "f".repeat(40))).toBeUndefined();
    expect(await resolveRef(mirror, "refs/heads/main")).toBe(first);
    expect(await resolveRef(mirror, "--output=/tmp/x")).toBeUndefined();
    second = await src.commit("second");
    expect(await resolveRef(mirror, second)).toBeUndefined();
    await fetchMirror(mirror);
    expect(await resolveRef(mirror, second)).toBe(second);
  });

  it("gives a commit's message, author and date as git show does", async () => {
    const [message, author, email, timestamp] = gitIn(
      mirror,
      "show",
      "-s",
      "--format=%B%x00%an%x00%ae%x00%cI",
      first,
      "--",
    ).split("\0");
    expect(await commitInfo(mirror, first)).toEqual({
      message: message.trim(),
      author,
      email,
      timestamp: timestamp.trim(),
    });
  });

  it("lists changed files between commits, and nothing for a commit it has not", async () => {
    expect(await changedFiles(mirror, first, second)).toEqual([]);
    expect(await changedFiles(mirror, "e".repeat(40), first)).toBeUndefined();
  });
});
