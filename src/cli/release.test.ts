import { Command } from "@commander-js/extra-typings";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { exitCodeFor, OperationError, UserError } from "../lib/errors.js";
import { isolatedGitEnv, makeRepo, makeTempDir, type TestRepo } from "../../test/support/git.js";
import { registerRelease, runVersionCommand, type VersionFlags } from "./release.js";

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
  tmp = await makeTempDir("cli-version");
  origin = await makeRepo(tmp.dir, "origin.git", { bare: true });
  repo = await makeRepo(tmp.dir, "repo");
  await repo.git("remote", "add", "origin", origin.dir);
  await repo.commit("feat: chat");
  await repo.git("tag", "v1.2.0");
  await repo.git("tag", "vnext");
});
afterEach(() => tmp.cleanup());

async function run(flags: VersionFlags) {
  const out = { stdout: "", stderr: "" };
  const result = await runVersionCommand(
    { directory: repo.dir, ...flags },
    {
      stdout: (s) => {
        out.stdout += s;
      },
      stderr: (s) => {
        out.stderr += s;
      },
    },
  );
  return { ...out, ...result };
}

async function failure(flags: VersionFlags): Promise<Error> {
  try {
    await run(flags);
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the command to fail");
}

describe("slipway release next", () => {
  it("prints the tag and why on stdout, warnings on stderr; creates nothing", async () => {
    const v120 = `v1.2.0-${(await repo.git("rev-parse", "HEAD")).slice(0, 7)}`;
    await repo.git("tag", v120);
    const sha = await repo.commit("add read receipts");
    const r = await run({ template: "v{version}-{sha7}", prTitle: "[minor] add read receipts" });
    expect(r.stdout).toBe(`v1.3.0-${sha.slice(0, 7)} (minor from ${v120}: [minor] marker in PR title)\n`);
    expect(r.stderr).toBe("");
    expect(await repo.git("tag", "--list")).toBe(`v1.2.0\n${v120}\nvnext`);

    const plain = await run({});
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toBe(
      "warning: tag vnext ignored: 'next' is not a semver version\n" +
        "no release (nothing to release since v1.2.0: 1 commit, no marker, feat, fix, perf or breaking change)\n",
    );
  });

  it("--json prints one document", async () => {
    const sha = await repo.commit("fix(api): timeouts (#4)");
    const r = await run({ json: true, repoUrl: "https://github.com/octo/chat" });
    expect(JSON.parse(r.stdout)).toEqual({
      version: "1.2.1",
      tag: "v1.2.1",
      previous: { tag: "v1.2.0", version: "1.2.0" },
      bump: "patch",
      changelog: `### Bug fixes\n\n- api: timeouts (${sha.slice(0, 7)}) ([#4](https://github.com/octo/chat/pull/4))\n`,
      warnings: ["tag vnext ignored: 'next' is not a semver version"],
      reasons: [`fix in ${sha.slice(0, 7)}`],
      sha,
      created: false,
      pushed: false,
    });
    expect(r.stderr).toBe("warning: tag vnext ignored: 'next' is not a semver version\n");
  });

  it("--tag creates the tag, --push also pushes it", async () => {
    const sha = await repo.commit("feat: receipts");
    const tagged = await run({ tag: true });
    expect(tagged.stdout).toBe(`v1.3.0 (minor from v1.2.0: feat in ${sha.slice(0, 7)})\n`);
    expect(tagged.stderr).toContain(`created tag v1.3.0 on ${sha.slice(0, 7)}\n`);
    expect(await repo.git("rev-parse", "v1.3.0^{commit}")).toBe(sha);
    expect(await origin.git("tag", "--list")).toBe("");

    await repo.commit("fix: receipts");
    const pushed = await run({ push: true, json: true });
    expect(JSON.parse(pushed.stdout)).toMatchObject({ tag: "v1.3.1", created: true, pushed: true });
    expect(pushed.stderr).toContain("pushed tag v1.3.1 to origin\n");
    expect(await origin.git("tag", "--list")).toBe("v1.3.1");
  });

  it("the first release, from --initial", async () => {
    await repo.git("tag", "-d", "v1.2.0");
    const r = await run({ initial: "1.0.0", tag: true });
    expect(r.stdout).toBe("v1.0.0 (first release)\n");
    expect(r.plan.bump).toBe("initial");
  });

  it("bad input is a UserError (exit 2)", async () => {
    for (const flags of [
      { template: "release" },
      { template: "v{version}-{build}" },
      { initial: "one" },
      { prerelease: "rc!" },
      { markers: "huge:[x]" },
      { eventpath: `${tmp.dir}/missing.json` },
      { directory: tmp.dir },
    ]) {
      const err = await failure(flags);
      expect(err, JSON.stringify(flags)).toBeInstanceOf(UserError);
      expect(exitCodeFor(err)).toBe(2);
    }
  });

  it("an existing tag is an OperationError (exit 1) and stays", async () => {
    // A v1.3.0 on another branch is not a previous release of main, but its name is taken.
    await repo.git("switch", "-q", "-c", "side");
    const side = await repo.commit("feat: elsewhere");
    await repo.git("tag", "v1.3.0");
    await repo.git("switch", "-q", "main");
    const sha = await repo.commit("feat: receipts");
    const err = await failure({ tag: true });
    expect(err).toBeInstanceOf(OperationError);
    expect(exitCodeFor(err)).toBe(1);
    expect(err.message).toBe(
      `tag v1.3.0 already exists (on ${side.slice(0, 7)}); slipway never moves or overwrites a tag`,
    );
    expect(await repo.git("rev-parse", "v1.3.0^{commit}")).toBe(side);

    // Only on the remote: refused before anything is created locally.
    await repo.git("tag", "-d", "v1.3.0");
    await repo.git("push", "-q", "origin", "main");
    await origin.git("tag", "v1.3.0", sha);
    const remote = await failure({ push: true });
    expect(remote).toBeInstanceOf(OperationError);
    expect(remote.message).toBe(
      "tag v1.3.0 already exists on origin; slipway never moves or overwrites a tag",
    );
    expect(await repo.git("tag", "--list", "v1.3.0")).toBe("");
  });

  it("is wired as `release next` with commander", async () => {
    await repo.commit("fix: x");
    const program = new Command().exitOverride();
    registerRelease(program);
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const writeErr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await program.parseAsync([
        "node",
        "slipway",
        "release",
        "next",
        "-C",
        repo.dir,
        "--template",
        "v{version}",
      ]);
      expect(write).toHaveBeenCalledWith(
        expect.stringMatching(/^v1\.2\.1 \(patch from v1\.2\.0: fix in [0-9a-f]{7}\)\n$/),
      );
    } finally {
      write.mockRestore();
      writeErr.mockRestore();
    }
  });
});
