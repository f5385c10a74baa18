import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exitCodeFor, OperationError } from "../lib/errors.js";
import { applyRelease, releaseCommands } from "./apply.js";
import { readReleaseInputs } from "./git.js";
import { planRelease, type ReleasePlan } from "./plan.js";
import { isolatedGitEnv, makeRepo, makeTempDir, type TestRepo } from "./testing.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let repo: TestRepo;
let origin: TestRepo;
const savedEnv = { ...process.env };

beforeAll(() => Object.assign(process.env, isolatedGitEnv));
afterAll(() => {
  for (const k of Object.keys(isolatedGitEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});
beforeEach(async () => {
  tmp = await makeTempDir("release-apply");
  origin = await makeRepo(tmp.dir, "origin.git", { bare: true });
  repo = await makeRepo(tmp.dir, "repo");
  await repo.git("remote", "add", "origin", origin.dir);
});
afterEach(() => tmp.cleanup());

function planFor(sha: string, tag: string | null, changelog = ""): ReleasePlan {
  return {
    previous: null,
    bump: tag === null ? "none" : "minor",
    version: tag === null ? null : tag.replace(/^v/, ""),
    tag,
    sha,
    changelog,
    warnings: [],
    reasons: [],
  };
}

const tagsOf = async (r: TestRepo) => (await r.git("tag", "--list")).split("\n").filter((t) => t !== "");

describe("releaseCommands", () => {
  it("builds the git commands as data", () => {
    const sha = "a".repeat(40);
    expect(releaseCommands(planFor(sha, "v1.3.0", "### Features\n\n- x (aaaaaaa)\n"))).toEqual({
      tag: [
        "tag",
        "--annotate",
        "--cleanup=whitespace",
        "-m",
        "Release v1.3.0",
        "-m",
        "### Features\n\n- x (aaaaaaa)",
        "v1.3.0",
        sha,
      ],
      push: ["push", "--porcelain", "origin", "refs/tags/v1.3.0:refs/tags/v1.3.0"],
    });
    expect(releaseCommands(planFor(sha, null))).toBeNull();
  });
});

describe("applyRelease", () => {
  it("creates an annotated tag on the planned commit, with the changelog in its message", async () => {
    const first = await repo.commit("feat: x");
    await repo.commit("later");
    const result = await applyRelease(repo.dir, planFor(first, "v1.3.0", "### Features\n\n- x (abc1234)\n"));
    expect(result).toEqual({ tag: "v1.3.0", created: true, pushed: false });
    expect(await repo.git("cat-file", "-t", "refs/tags/v1.3.0")).toBe("tag");
    expect(await repo.git("rev-parse", "v1.3.0^{commit}")).toBe(first);
    expect(await repo.git("tag", "-l", "--format=%(contents)", "v1.3.0")).toBe(
      "Release v1.3.0\n\n### Features\n\n- x (abc1234)\n",
    );
    expect(await tagsOf(origin)).toEqual([]);
  });

  it("does nothing when there is nothing to release", async () => {
    const sha = await repo.commit("chore: x");
    expect(await applyRelease(repo.dir, planFor(sha, null), { push: true })).toEqual({
      tag: null,
      created: false,
      pushed: false,
    });
    expect(await tagsOf(repo)).toEqual([]);
  });

  it("refuses a tag that exists and leaves it as it was", async () => {
    const first = await repo.commit("one");
    await repo.git("tag", "-a", "v1.3.0", "-m", "the original");
    const before = await repo.git("rev-parse", "refs/tags/v1.3.0");
    const second = await repo.commit("two");
    const attempt = applyRelease(repo.dir, planFor(second, "v1.3.0"));
    await expect(attempt).rejects.toThrow(OperationError);
    await expect(applyRelease(repo.dir, planFor(second, "v1.3.0"))).rejects.toThrow(
      `tag v1.3.0 already exists (on ${first.slice(0, 7)}); slipway never moves or overwrites a tag`,
    );
    expect(await repo.git("rev-parse", "refs/tags/v1.3.0")).toBe(before);
    expect(await repo.git("rev-parse", "v1.3.0^{commit}")).toBe(first);
  });

  it("pushes only the new tag", async () => {
    const sha = await repo.commit("feat: x");
    await repo.git("tag", "local-only");
    const result = await applyRelease(repo.dir, planFor(sha, "v1.3.0"), { push: true });
    expect(result).toEqual({ tag: "v1.3.0", created: true, pushed: true });
    expect(await tagsOf(origin)).toEqual(["v1.3.0"]);
    expect(await origin.git("rev-parse", "v1.3.0^{commit}")).toBe(sha);
    expect(await origin.git("cat-file", "-t", "refs/tags/v1.3.0")).toBe("tag");
  });

  it("refuses a tag that exists on the remote, before creating anything", async () => {
    const sha = await repo.commit("feat: x");
    await repo.git("push", "-q", "origin", "HEAD:refs/heads/main");
    await origin.git("tag", "v1.3.0", sha);
    await expect(applyRelease(repo.dir, planFor(sha, "v1.3.0"), { push: true })).rejects.toThrow(
      "tag v1.3.0 already exists on origin; slipway never moves or overwrites a tag",
    );
    expect(await tagsOf(repo)).toEqual([]);
  });

  it("creates nothing when the remote cannot be reached", async () => {
    const sha = await repo.commit("feat: x");
    await repo.git("remote", "set-url", "origin", path.join(tmp.dir, "missing.git"));
    const attempt = applyRelease(repo.dir, planFor(sha, "v1.3.0"), { push: true });
    await expect(attempt).rejects.toThrow(/cannot check for tag v1.3.0 on origin; nothing was created/);
    expect(await tagsOf(repo)).toEqual([]);
  });

  it("keeps the local tag and says so when the push is refused", async () => {
    const sha = await repo.commit("feat: x");
    const hook = path.join(origin.dir, "hooks", "pre-receive");
    await writeFile(hook, "#!/bin/sh\necho 'tags are frozen' >&2\nexit 1\n");
    await chmod(hook, 0o755);
    let error: unknown;
    await applyRelease(repo.dir, planFor(sha, "v1.3.0"), { push: true }).catch((e) => {
      error = e;
    });
    expect(error).toBeInstanceOf(OperationError);
    expect(exitCodeFor(error)).toBe(1);
    const message = (error as Error).message;
    expect(message).toMatch(/^tag v1.3.0 was created locally, but pushing it to origin failed:/);
    expect(message).toContain("tags are frozen");
    expect(message).toContain("The local tag is kept: push it with 'git push origin refs/tags/v1.3.0'");
    expect(await tagsOf(repo)).toEqual(["v1.3.0"]);
    expect(await tagsOf(origin)).toEqual([]);
  });

  it("tags as slipway when git has no identity", async () => {
    const sha = await repo.commit("feat: x");
    await repo.git("config", "--unset", "user.name");
    await repo.git("config", "--unset", "user.email");
    await repo.git("config", "user.useConfigOnly", "true");
    await applyRelease(repo.dir, planFor(sha, "v1.3.0"));
    expect(await repo.git("tag", "-l", "--format=%(taggername) %(taggeremail)", "v1.3.0")).toBe(
      "slipway <slipway@localhost>",
    );
  });
});

describe("a merged PR to a pushed tag", () => {
  it("[minor] add read receipts after v1.2.x → v1.3.0-<sha7>, pushed to origin", async () => {
    const template = "v{version}-{sha7}";
    await repo.commit("feat: chat");
    const v120 = await repo.git("rev-parse", "HEAD");
    await repo.git("tag", "-a", `v1.2.0-${v120.slice(0, 7)}`, "-m", "Release");
    const v121 = await repo.commit("fix: reconnect (#9)");
    await repo.git("tag", "-a", `v1.2.1-${v121.slice(0, 7)}`, "-m", "Release");
    await repo.git("tag", "nightly");
    await repo.git("push", "-q", "origin", "main", "--tags");

    await repo.git("switch", "-q", "-c", "receipts");
    await repo.commit("store read state");
    await repo.commit("show read state");
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
    const merged = await repo.git("rev-parse", "HEAD");

    const input = await readReleaseInputs(repo.dir, { template, repoUrl: "https://github.com/octo/chat" });
    const plan = planRelease(input);
    const tag = `v1.3.0-${merged.slice(0, 7)}`;
    expect(plan).toMatchObject({
      previous: { tag: `v1.2.1-${v121.slice(0, 7)}`, version: "1.2.1" },
      bump: "minor",
      version: "1.3.0",
      tag,
      sha: merged,
      warnings: [],
      reasons: ["[minor] marker in PR title"],
    });
    expect(plan.changelog).toBe(
      [
        "### Other",
        "",
        `- add read receipts (${merged.slice(0, 7)}) ([#12](https://github.com/octo/chat/pull/12))`,
        `- show read state (${(await repo.git("rev-parse", "HEAD^2")).slice(0, 7)})`,
        `- store read state (${(await repo.git("rev-parse", "HEAD^2^")).slice(0, 7)})`,
        "",
      ].join("\n"),
    );

    expect(await applyRelease(repo.dir, plan, { push: true })).toEqual({ tag, created: true, pushed: true });
    expect(await origin.git("rev-parse", `${tag}^{commit}`)).toBe(merged);

    // Once released, the same commit has nothing more to release; a second apply is refused.
    expect(planRelease(await readReleaseInputs(repo.dir, { template })).bump).toBe("none");
    await expect(applyRelease(repo.dir, plan, { push: true })).rejects.toThrow(`tag ${tag} already exists`);
  });
});
