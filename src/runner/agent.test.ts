import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { cachedRepo } from "./agent.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("cachedRepo", () => {
  test("a repository URL that starts with '-' is a URL to git, never an option", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "slipway-agent-"));
    dirs.push(dataDir);
    // As an option, this would make git run a command of the URL's choosing.
    const marker = join(dataDir, "pwned");
    const url = `--upload-pack=touch ${marker};git-upload-pack`;
    // git names the URL as the repository it could not find: it took it as one.
    await expect(cachedRepo(dataDir, url, "0".repeat(40))).rejects.toThrow(/repository '--upload-pack=/);
    expect(existsSync(marker)).toBe(false);
  });

  test("clones a real repository and finds its commit", async () => {
    const src = mkdtempSync(join(tmpdir(), "slipway-agent-src-"));
    const dataDir = mkdtempSync(join(tmpdir(), "slipway-agent-"));
    dirs.push(src, dataDir);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: src })
        .toString()
        .trim();
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "one");
    const sha = git("rev-parse", "HEAD");
    const dir = await cachedRepo(dataDir, src, sha);
    expect(existsSync(join(dir, "HEAD"))).toBe(true);
  });
});
