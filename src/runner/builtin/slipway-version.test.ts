import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import { isolatedGitEnv, makeRepo, makeTempDir, repoAt, type TestRepo } from "../../../test/support/git.js";
import { findBuiltinAction } from "./index.js";
import { slipwayVersion } from "./slipway-version.js";
import { makeContext } from "./testing.js";

let tmp: { dir: string; cleanup: () => Promise<void> };
let user: TestRepo;
const savedEnv = { ...process.env };

beforeAll(() => Object.assign(process.env, isolatedGitEnv));
afterAll(() => {
  for (const k of Object.keys(isolatedGitEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});
beforeEach(async () => {
  tmp = await makeTempDir("slipway-version");
  user = await makeRepo(tmp.dir, "user");
  const first = await user.commit("feat: chat");
  await user.git("tag", "-a", `v1.2.0-${first.slice(0, 7)}`, "-m", "Release");
  await user.git("tag", "vnext-aaaaaaa");
});
afterEach(() => tmp.cleanup());

/** The workspace as the job executor's actions/checkout makes it: a shared clone at the run's sha. */
async function checkout(sha: string): Promise<string> {
  const ws = path.join(tmp.dir, "workspace");
  await execa("git", ["clone", "--quiet", "--shared", "--no-checkout", user.dir, ws], {
    env: isolatedGitEnv,
  });
  await repoAt(ws).git("checkout", "--quiet", "--force", "--detach", sha);
  return ws;
}

async function run(inputs: Record<string, string>, sha?: string) {
  const workspace = await checkout(sha ?? (await user.git("rev-parse", "HEAD")));
  const { ctx, rec } = makeContext({ inputs, workspace });
  await slipwayVersion.main(ctx);
  return rec;
}

describe("slipway/version", () => {
  it("is the built-in of `uses: slipway/version@v1`", () => {
    expect(findBuiltinAction("slipway/version@v1")).toBe(slipwayVersion);
  });

  it("sets the outputs and pushes the tag to the run's repository", async () => {
    await user.git("switch", "-q", "-c", "receipts");
    await user.commit("store read state");
    await user.git("switch", "-q", "main");
    await user.git(
      "merge",
      "-q",
      "--no-ff",
      "receipts",
      "-m",
      "Merge pull request #12 from octo/receipts",
      "-m",
      "[minor] add read receipts",
    );
    const sha = await user.git("rev-parse", "HEAD");
    const sha7 = sha.slice(0, 7);
    const rec = await run({
      template: "v{version}-{sha7}",
      push: "true",
      "repo-url": "https://github.com/octo/chat",
    });
    const previous = (await user.git("tag", "--list", "v1.2.0-*")).trim();
    expect(rec.outputs).toEqual({
      version: "1.3.0",
      tag: `v1.3.0-${sha7}`,
      previous,
      "previous-version": "1.2.0",
      bump: "minor",
      changelog: expect.stringContaining(
        `- add read receipts (${sha7}) ([#12](https://github.com/octo/chat/pull/12))`,
      ),
    });
    expect(rec.warnings).toEqual(["tag vnext-aaaaaaa ignored: 'next' is not a semver version"]);
    expect(rec.logs).toEqual([
      `v1.3.0-${sha7} (minor from ${previous}: [minor] marker in PR title)`,
      `Created tag v1.3.0-${sha7} on ${sha7}`,
      `Pushed tag v1.3.0-${sha7} to origin`,
    ]);
    expect(await user.git("rev-parse", `v1.3.0-${sha7}^{commit}`)).toBe(sha);
  });

  it("refuses to push a tag for a fork's pull request, before reading anything", async () => {
    const { ctx, rec } = makeContext({ inputs: { push: "true" }, untrusted: true });
    const err = await slipwayVersion.main(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/cannot push a tag for a pull request from a fork/);
    expect(rec.outputs).toEqual({});
  });

  it("only computes without tag or push; takes the PR title and markers from inputs", async () => {
    await user.commit("receipts");
    const rec = await run({
      template: "v{version}-{sha7}",
      "pr-title": "receipts #feature",
      markers: "minor:#feature",
    });
    expect(rec.outputs).toMatchObject({ version: "1.3.0", bump: "minor" });
    expect(await user.git("tag", "--list", "v1.3.0*")).toBe("");
  });

  it("outputs no version when there is nothing to release", async () => {
    await user.commit("chore: deps");
    const rec = await run({ template: "v{version}-{sha7}", tag: "true" });
    expect(rec.outputs).toMatchObject({ version: "", tag: "", bump: "none", changelog: "" });
    expect(rec.logs[0]).toMatch(/^no release \(nothing to release since v1\.2\.0-[0-9a-f]{7}: 1 commit/);
    expect(await user.git("tag", "--list")).not.toMatch(/v1\.2\.1/);
  });

  it("fails on a bad input", async () => {
    await user.commit("fix: x");
    await expect(run({ push: "yes" })).rejects.toThrow(UserError);
  });
});
