// Test support for the release domain: real git repositories in a temporary directory, isolated from the
// machine's git configuration, with a fixed identity.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";

export type TestRepo = {
  dir: string;
  git(...args: string[]): Promise<string>;
  /** An empty commit with this message; returns its sha. */
  commit(message: string): Promise<string>;
};

export const isolatedGitEnv = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };

export function repoAt(dir: string): TestRepo {
  const git = async (...args: string[]) =>
    (await execa("git", ["-C", dir, ...args], { env: isolatedGitEnv })).stdout;
  const commit = async (message: string) => {
    await git("commit", "-q", "--allow-empty", "--cleanup=verbatim", "-m", message);
    return git("rev-parse", "HEAD");
  };
  return { dir, git, commit };
}

/** A repository with a `main` branch and no commits; `bare` for a remote to push to. */
export async function makeRepo(
  parent: string,
  name: string,
  opts: { bare?: boolean } = {},
): Promise<TestRepo> {
  const dir = path.join(parent, name);
  await execa("git", ["init", "-q", ...(opts.bare ? ["--bare"] : []), "-b", "main", dir], {
    env: isolatedGitEnv,
  });
  const repo = repoAt(dir);
  await repo.git("config", "user.name", "Mona Lisa");
  await repo.git("config", "user.email", "mona@example.com");
  await repo.git("config", "commit.gpgsign", "false");
  await repo.git("config", "tag.gpgsign", "false");
  return repo;
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `slipway-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
