// The server's deploy checkouts against a real git mirror and a real SQLite store: resolving refs (with
// a fetch for new commits), reading slipway.yaml at a commit, extracting a tree once, and pruning what
// no recent release refers to while keeping the serving one, the recent ones and those in use.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { openStore, type Store } from "../store/index.js";
import { DeployCheckouts } from "./deploy-checkouts.js";

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "T",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "T",
  GIT_COMMITTER_EMAIL: "t@example.com",
};

describe("DeployCheckouts", () => {
  let tmp: string;
  let work: string;
  let mirror: string;
  let dataDir: string;
  let store: Store;
  let checkouts: DeployCheckouts;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, {
      cwd,
      env: gitEnv,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  const commit = (files: Record<string, string>, message: string) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(work, path, ".."), { recursive: true });
      writeFileSync(join(work, path), content);
    }
    git(work, "add", "-A");
    git(work, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message);
    return git(work, "rev-parse", "HEAD");
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "slipway-checkouts-"));
    work = join(tmp, "work");
    mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    commit({ "slipway.yaml": "deploy: {}\n", "app/run.sh": "#!/bin/sh\necho hi\n" }, "one");
    execFileSync("chmod", ["+x", join(work, "app/run.sh")]);
    git(work, "add", "-A");
    git(work, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "executable");
    git(work, "tag", "v1");
    mirror = join(tmp, "mirror.git");
    git(tmp, "clone", "-q", "--mirror", work, mirror);
    dataDir = join(tmp, "data");
    store = await openStore({ dataDir });
    checkouts = new DeployCheckouts(dataDir);
  });
  afterAll(async () => {
    await store?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("resolves branches, tags, full refs and commits; fetches commits the mirror does not have yet", async () => {
    const head = git(work, "rev-parse", "HEAD");
    expect(await checkouts.resolveCommit(mirror, "r", "main")).toEqual({ sha: head, ref: "refs/heads/main" });
    expect(await checkouts.resolveCommit(mirror, "r", "v1")).toEqual({ sha: head, ref: "refs/tags/v1" });
    expect((await checkouts.resolveCommit(mirror, "r", "refs/heads/main")).sha).toBe(head);
    expect((await checkouts.resolveCommit(mirror, "r", head.slice(0, 8))).sha).toBe(head);
    const next = commit({ README: "new\n" }, "two");
    expect((await checkouts.resolveCommit(mirror, "r", "main")).sha).toBe(next);
    const third = commit({ README: "newer\n" }, "three");
    expect(await checkouts.resolveCommit(mirror, "r", third)).toEqual({ sha: third, ref: third });
  });

  it("refuses refs the repository lacks, and anything git could take for an option", async () => {
    await expect(checkouts.resolveCommit(mirror, "acme/r", "nope")).rejects.toThrow(
      new UserError("no branch, tag or commit 'nope' in acme/r"),
    );
    await expect(checkouts.resolveCommit(mirror, "r", "--upload-pack=x")).rejects.toThrow(/not a branch/);
    await expect(checkouts.resolveCommit(mirror, "r", "a b")).rejects.toThrow(/not a branch/);
  });

  it("reads a file at a commit; undefined when it is not there", async () => {
    const { sha } = await checkouts.resolveCommit(mirror, "r", "main");
    expect(await checkouts.readFile(mirror, sha, "slipway.yaml")).toBe("deploy: {}\n");
    expect(await checkouts.readFile(mirror, sha, "missing.yaml")).toBeUndefined();
    expect(await checkouts.readFile(mirror, sha, "app")).toBeUndefined();
  });

  it("extracts a commit's tree once, with its modes; concurrent callers share the work", async () => {
    const { sha } = await checkouts.resolveCommit(mirror, "r", "main");
    const [a, b] = await Promise.all([
      checkouts.materialise(mirror, "acme/r", sha),
      checkouts.materialise(mirror, "acme/r", sha),
    ]);
    expect(a).toBe(join(dataDir, "deploy-checkouts", "acme", "r", sha));
    expect(b).toBe(a);
    expect(readFileSync(join(a, "app/run.sh"), "utf8")).toContain("echo hi");
    expect(statSync(join(a, "app/run.sh")).mode & 0o111).not.toBe(0);
    writeFileSync(join(a, "marker"), "kept");
    await checkouts.materialise(mirror, "acme/r", sha);
    expect(existsSync(join(a, "marker"))).toBe(true);
  });

  it("finds the checkouts a release's spec refers to", () => {
    const sha = "a".repeat(40);
    const dir = checkouts.dirOf("acme/r", sha);
    const spec = { spec: { services: [{ cwd: join(dir, "app") }, { cwd: "/elsewhere" }] } };
    expect(checkouts.referencedBy(spec)).toEqual([{ repo: "acme/r", sha, dir }]);
    expect(checkouts.referencedBy({ spec: { services: [] } })).toEqual([]);
  });

  it("prunes only what no recent release, the current one or a deploy in progress uses", async () => {
    const repo = "acme/prune";
    const shas: string[] = [];
    for (let i = 0; i < 9; i++) {
      const sha = commit({ "n.txt": `${i}\n` }, `c${i}`);
      shas.push(sha);
      await checkouts.materialise(work, repo, sha);
    }
    checkouts.addTarget(repo, "shop", "prod");
    checkouts.addTarget(repo, "shop", "prod");
    const release = async (sha: string, status: "succeeded" | "failed") => {
      const r = await store.releases.create({
        app: "shop",
        env: "prod",
        specHash: sha,
        spec: { spec: { services: [{ cwd: join(checkouts.dirOf(repo, sha), ".") }] }, notify: {} },
        images: {},
        trigger: "server",
        actor: "t",
      });
      await store.releases.finish(r.id, status);
    };
    // #1 succeeded (shas[0]) and serves: the five after it all failed.
    await release(shas[0], "succeeded");
    for (const sha of shas.slice(1, 6)) await release(sha, "failed");
    const held = checkouts.hold(checkouts.dirOf(repo, shas[8]));
    mkdirSync(join(dataDir, "deploy-checkouts", repo, "not-a-commit"));

    const removed = await checkouts.prune(repo, store);
    expect(removed.sort()).toEqual([shas[6], shas[7]].map((s) => checkouts.dirOf(repo, s)).sort());
    for (const s of [shas[0], ...shas.slice(1, 6), shas[8]])
      expect(existsSync(checkouts.dirOf(repo, s))).toBe(true);
    expect(existsSync(join(dataDir, "deploy-checkouts", repo, "not-a-commit"))).toBe(true);

    held();
    held();
    expect(await checkouts.prune(repo, store)).toEqual([checkouts.dirOf(repo, shas[8])]);
    // Another repository's checkouts are not touched.
    expect(existsSync(join(dataDir, "deploy-checkouts", "acme", "r"))).toBe(true);
  });
});
