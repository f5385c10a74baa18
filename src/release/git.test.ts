import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { readCommits, readReleaseInputs, webUrlOfRemote } from "./git.js";
import { isolatedGitEnv, makeRepo, makeTempDir, type TestRepo } from "./testing.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let repo: TestRepo;
const savedEnv = { ...process.env };

beforeAll(() => Object.assign(process.env, isolatedGitEnv));
afterAll(() => {
  for (const k of Object.keys(isolatedGitEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});
function useRepo() {
  beforeEach(async () => {
    tmp = await makeTempDir("release-git");
    repo = await makeRepo(tmp.dir, "repo");
  });
  afterEach(() => tmp.cleanup());
}

describe("readReleaseInputs", () => {
  useRepo();
  it("reports a directory that is not a repository, and one with no commits", async () => {
    const plain = path.join(tmp.dir, "plain");
    await mkdir(plain);
    await expect(readReleaseInputs(plain)).rejects.toThrow(UserError);
    await expect(readReleaseInputs(plain)).rejects.toThrow(`${plain} is not a git repository`);
    await expect(readReleaseInputs(repo.dir)).rejects.toThrow(`${repo.dir} has no commits`);
    await repo.commit("init");
    await expect(readReleaseInputs(repo.dir, { rev: "nope" })).rejects.toThrow("'nope' is not a commit");
  });

  it("rejects a bad template before reading anything", async () => {
    await expect(readReleaseInputs(repo.dir, { template: "latest" })).rejects.toThrow(/\{version\}/);
  });

  it("reads the commits since the highest release tag, newest first", async () => {
    await repo.commit("init");
    await repo.git("tag", "v1.10.0");
    await repo.commit("fix: after 1.10");
    await repo.git("tag", "-a", "v1.9.0", "-m", "older version, newer tag");
    await repo.git("tag", "vnext");
    const feat = await repo.commit(
      "feat(ui): dark mode\n\nWith a body\nof two lines.\n\nBREAKING CHANGE: colours",
    );
    const sha = await repo.commit('fix: odd characters % | \t ; "quoted" `code` (#3)');
    const input = await readReleaseInputs(repo.dir, { template: "v{version}" });
    expect(input.sha).toBe(sha);
    expect(input.tags.sort()).toEqual(["v1.10.0", "v1.9.0", "vnext"]);
    expect(input.commits.map((c) => c.subject)).toEqual([
      'fix: odd characters % | \t ; "quoted" `code` (#3)',
      "feat(ui): dark mode",
      "fix: after 1.10",
    ]);
    expect(input.commits[1]).toEqual({
      sha: feat,
      author: "Mona Lisa <mona@example.com>",
      subject: "feat(ui): dark mode",
      body: "With a body\nof two lines.\n\nBREAKING CHANGE: colours",
    });
    expect(input.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // The squash commit is the PR: its title and number.
    expect(input.prTitle).toBe('fix: odd characters % | \t ; "quoted" `code`');
    expect(input.prNumber).toBe(3);
  });

  it("reads the whole history when there is no release tag", async () => {
    await repo.commit("one");
    await repo.commit("two");
    await repo.git("tag", "latest");
    const input = await readReleaseInputs(repo.dir);
    expect(input.commits.map((c) => c.subject)).toEqual(["two", "one"]);
    expect(input.prTitle).toBeUndefined();
  });

  it("ignores release tags that are not merged into the commit", async () => {
    await repo.commit("init");
    await repo.git("tag", "v1.0.0");
    await repo.git("switch", "-q", "-c", "next");
    await repo.commit("feat: on next");
    await repo.git("tag", "v2.0.0");
    await repo.git("switch", "-q", "main");
    await repo.commit("fix: on main");
    const input = await readReleaseInputs(repo.dir);
    expect(input.tags).toEqual(["v1.0.0"]);
    expect(input.commits.map((c) => c.subject)).toEqual(["fix: on main"]);
  });

  it("reads the PR title and number from a GitHub merge commit", async () => {
    await repo.commit("init");
    await repo.git("tag", "v1.2.0");
    await repo.git("switch", "-q", "-c", "receipts");
    await repo.commit("wip receipts");
    await repo.git("switch", "-q", "main");
    await repo.git(
      "merge",
      "-q",
      "--no-ff",
      "receipts",
      "-m",
      "Merge pull request #12 from octo/receipts",
      "-m",
      "[minor] add read receipts",
    );
    const input = await readReleaseInputs(repo.dir);
    expect(input.prTitle).toBe("[minor] add read receipts");
    expect(input.prNumber).toBe(12);
    expect(input.commits.map((c) => c.subject)).toEqual([
      "Merge pull request #12 from octo/receipts",
      "wip receipts",
    ]);
  });

  it("prefers the given PR title, then the event's", async () => {
    await repo.commit("fix: x (#3)");
    const given = await readReleaseInputs(repo.dir, { prTitle: "[major] given" });
    expect(given.prTitle).toBe("[major] given");
    expect(given.prNumber).toBeUndefined();

    const event = path.join(tmp.dir, "event.json");
    await writeFile(
      event,
      JSON.stringify({
        pull_request: { title: "[minor] from the event", number: 41 },
        repository: { html_url: "https://git.example.com/octo/chat" },
      }),
    );
    const fromEvent = await readReleaseInputs(repo.dir, { eventPath: event });
    expect(fromEvent).toMatchObject({
      prTitle: "[minor] from the event",
      prNumber: 41,
      repoUrl: "https://git.example.com/octo/chat",
    });

    await writeFile(event, "{ not json");
    await expect(readReleaseInputs(repo.dir, { eventPath: event })).rejects.toThrow(UserError);
  });

  it("makes PR links from the origin remote", async () => {
    await repo.commit("init");
    await repo.git("remote", "add", "origin", "git@github.com:octo/chat.git");
    expect((await readReleaseInputs(repo.dir)).repoUrl).toBe("https://github.com/octo/chat");
    expect((await readReleaseInputs(repo.dir, { repoUrl: "https://x.test/a/b" })).repoUrl).toBe(
      "https://x.test/a/b",
    );
  });

  it("passes the plan options through", async () => {
    await repo.commit("init");
    const input = await readReleaseInputs(repo.dir, {
      template: "release-{version}",
      initialVersion: "1.0.0",
      prerelease: "rc",
      markers: { minor: ["#feature"] },
    });
    expect(input).toMatchObject({
      template: "release-{version}",
      initialVersion: "1.0.0",
      prerelease: "rc",
      markers: { minor: ["#feature"] },
    });
  });
});

describe("readCommits", () => {
  useRepo();
  it("reports a bad range", async () => {
    await repo.commit("init");
    await expect(readCommits(repo.dir, "nope..HEAD")).rejects.toThrow(UserError);
  });
});

describe("webUrlOfRemote", () => {
  it.each([
    ["https://github.com/octo/chat.git", "https://github.com/octo/chat"],
    ["https://user:secret@github.com/octo/chat", "https://github.com/octo/chat"],
    ["ssh://git@git.example.com:2222/group/sub/chat.git", "https://git.example.com/group/sub/chat"],
    ["git@github.com:octo/chat.git", "https://github.com/octo/chat"],
    ["/home/me/chat", undefined],
    ["file:///home/me/chat", undefined],
    ["C:/repos/chat", undefined],
    ["../chat", undefined],
  ])("%s → %s", (url, web) => {
    expect(webUrlOfRemote(url)).toBe(web);
  });
});
