import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationError } from "./errors.js";
import {
  FileTooLargeError,
  fetchMirror,
  git,
  gitResult,
  parseRemoteUrl,
  readFileAt,
  resolveCommit,
} from "./git.js";

const env = {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
};

let dir: string;
let sha: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slipway-lib-git-"));
  await git(dir, ["init", "-q", "-b", "main"], { env });
  writeFileSync(join(dir, "a.txt"), "one\ntwo\n\n");
  writeFileSync(join(dir, "big.txt"), "x".repeat(2000));
  await git(dir, ["add", "-A"], { env });
  await git(dir, ["commit", "-q", "-m", "first"], { env });
  sha = await git(dir, ["rev-parse", "HEAD"], { env });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("git", () => {
  it("returns stdout without the final newline", async () => {
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await git(dir, ["log", "-1", "--format=%s"])).toBe("first");
  });

  it("writes input to stdin", async () => {
    expect(await git(dir, ["hash-object", "--stdin"], { input: "hello\n" })).toBe(
      "ce013625030ba8dba906f756967f9e9ca394464a",
    );
  });

  it("fails with the subcommand and git's message, not the arguments", async () => {
    const err = await git(dir, ["-c", "x.y=secret-value", "show", "no-such-rev"]).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toMatch(/^git show failed: fatal: ambiguous argument 'no-such-rev'/);
    expect(err.message).not.toContain("secret-value");
  });

  it("returns a failure as a result with gitResult", async () => {
    const r = await gitResult(dir, ["rev-parse", "--verify", "--quiet", "nope"]);
    expect(r.exitCode).toBe(1);
  });

  it("rejects with the signal's reason when it aborts", async () => {
    const ac = new AbortController();
    // `git cat-file --batch` waits on its open stdin until it is killed.
    const running = git(dir, ["cat-file", "--batch"], { signal: ac.signal });
    setTimeout(() => ac.abort(new Error("stop")), 50);
    await expect(running).rejects.toThrow("stop");
    await expect(git(dir, ["status"], { signal: AbortSignal.abort(new Error("before")) })).rejects.toThrow(
      "before",
    );
  });
});

describe("resolveCommit", () => {
  it("gives the commit a revision names, undefined otherwise, and never reads an option", async () => {
    expect(await resolveCommit(dir, "main")).toBe(sha);
    expect(await resolveCommit(dir, "refs/heads/nope")).toBeUndefined();
    expect(await resolveCommit(dir, "--all")).toBeUndefined();
  });
});

describe("fetchMirror", () => {
  it("brings new and dropped branches and tags over from origin", async () => {
    const mirror = join(dir, "..", `${dir.split("/").at(-1)}-mirror.git`);
    try {
      await git(".", ["clone", "--quiet", "--mirror", "--", dir, mirror]);
      await git(dir, ["branch", "feature"], { env });
      await git(dir, ["tag", "v1"], { env });
      await fetchMirror(mirror);
      expect(await resolveCommit(mirror, "refs/heads/feature")).toBe(sha);
      expect(await resolveCommit(mirror, "refs/tags/v1")).toBe(sha);
      await git(dir, ["branch", "-D", "feature"], { env });
      await fetchMirror(mirror);
      expect(await resolveCommit(mirror, "refs/heads/feature")).toBeUndefined();
    } finally {
      rmSync(mirror, { recursive: true, force: true });
    }
  });
});

describe("readFileAt", () => {
  it("reads a file's exact text at a revision", async () => {
    expect(await readFileAt(dir, sha, "a.txt")).toBe("one\ntwo\n\n");
  });

  it("is undefined for a missing file, a directory or an unknown revision", async () => {
    expect(await readFileAt(dir, sha, "missing.txt")).toBeUndefined();
    expect(await readFileAt(dir, sha, "")).toBeUndefined();
    expect(await readFileAt(dir, "0".repeat(40), "a.txt")).toBeUndefined();
  });

  it("refuses a file over the limit without reading it", async () => {
    const err = await readFileAt(dir, sha, "big.txt", { maxBytes: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(FileTooLargeError);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toBe(`big.txt at ${sha.slice(0, 7)} has 2000 bytes (limit 1000)`);
  });
});

describe("parseRemoteUrl", () => {
  it.each([
    ["https://github.com/octo/app.git", { scheme: "https", host: "github.com", owner: "octo", repo: "app" }],
    [
      "https://user:token@git.example.com:3000/Org/App/",
      { scheme: "https", host: "git.example.com", owner: "Org", repo: "App" },
    ],
    ["git@github.com:octo/app.git", { scheme: "scp", host: "github.com", owner: "octo", repo: "app" }],
    ["github.com:octo/app", { scheme: "scp", host: "github.com", owner: "octo", repo: "app" }],
    [
      "ssh://git@example.com:2222/group/sub/app.git",
      { scheme: "ssh", host: "example.com", owner: "group/sub", repo: "app" },
    ],
    ["git://example.com/app", { scheme: "git", host: "example.com", owner: "", repo: "app" }],
    ["https://example.com/a%20b/c", { scheme: "https", host: "example.com", owner: "a b", repo: "c" }],
    ["/srv/git/app.git", { scheme: "file", host: "", owner: "srv/git", repo: "app" }],
    ["file:///srv/git/app.git", { scheme: "file", host: "", owner: "srv/git", repo: "app" }],
    ["./app", { scheme: "file", host: "", owner: ".", repo: "app" }],
    ["C:/repos/app", { scheme: "file", host: "", owner: "C:/repos", repo: "app" }],
  ])("%s", (url, expected) => expect(parseRemoteUrl(url)).toEqual(expected));

  it.each(["", "https://example.com/", "https://example.com/.git", "http://[bad", "ssh:///no-host/app"])(
    "reads no repository in %j",
    (url) => expect(parseRemoteUrl(url)).toBeUndefined(),
  );
});
