// Shared by the release end-to-end tests and bench/build.ts: the chat-monorepo fixture as a throwaway git
// repository (pointed at a test registry), merges shaped like GitHub's, and the docker CLI for checks.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const fixtureDir = join(import.meta.dirname, "testdata", "chat-monorepo");

/** The seven services of the fixture (sorted), all in one repository; `base` is an eighth image. */
export const services = ["chat", "gateway", "media", "notification", "presence", "registry", "user"] as const;
/** The services that build FROM the base image (all but the Eureka-like registry). */
export const baseDependents = services.filter((s) => s !== "registry");
export const releaseTemplate = "v{version}-{sha7}";

/** The environment without a CI system's or git's variables the tests may themselves run under. */
export function cleanEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(GITHUB_|RUNNER_|ACTIONS_|INPUT_|STATE_|SLIPWAY_|GIT_)/.test(k) || k === "CI") continue;
    if (k.startsWith("npm_") || k.startsWith("VITEST") || k === "NODE_OPTIONS") continue;
    out[k] = v;
  }
  return out;
}

export type Repo = {
  dir: string;
  git(...args: string[]): string;
  /** Writes files (path → content) and commits them on the current branch; the new sha. */
  commit(message: string, files: Record<string, string>): string;
  /**
   * Commits `files` on a new branch `team/<branch>` and merges it into main with `--no-ff`, the way GitHub's
   * merge button does: subject `Merge pull request #N from team/<branch>`, the PR title as the body's first
   * line. Returns the merge commit's sha.
   */
  mergePullRequest(pr: {
    number: number;
    branch: string;
    title: string;
    files: Record<string, string>;
  }): string;
  sha(rev?: string): string;
  read(path: string): string;
};

/**
 * Copies the fixture to `dir`, points slipway.yaml at `registryHost`, applies `mutate` (path → content,
 * relative to the repository), and commits it all as the first commit of branch main.
 */
export function createRepo(dir: string, registryHost: string, mutate: Record<string, string> = {}): Repo {
  cpSync(fixtureDir, dir, { recursive: true });
  const yamlPath = join(dir, "slipway.yaml");
  writeFileSync(yamlPath, readFileSync(yamlPath, "utf8").replace("127.0.0.1:5000", registryHost));
  let clock = Date.parse("2024-05-01T12:00:00Z");
  const env = () => {
    clock += 60_000;
    const date = new Date(clock).toISOString();
    return {
      ...cleanEnv(),
      GIT_AUTHOR_NAME: "Ada Lovelace",
      GIT_AUTHOR_EMAIL: "ada@example.com",
      GIT_COMMITTER_NAME: "GitHub",
      GIT_COMMITTER_EMAIL: "noreply@github.com",
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    };
  };
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      env: env(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  const write = (files: Record<string, string>) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
  };
  // A sha7 of digits only is not a usable prerelease identifier (`1.3.0-0123456` is no semver): the tests
  // are about releases, not that corner, so such a commit is re-made a minute later.
  const avoidDigitSha = () => {
    while (/^\d{7}$/.test(git("rev-parse", "--short=7", "HEAD"))) git("commit", "--amend", "--no-edit", "-q");
  };
  git("init", "-q", "-b", "main");
  git("config", "commit.gpgsign", "false");
  git("config", "tag.gpgsign", "false");
  write(mutate);
  git("add", "-A");
  git("commit", "-q", "-m", "Initial commit");
  avoidDigitSha();
  const repo: Repo = {
    dir,
    git,
    commit(message, files) {
      write(files);
      git("add", "-A");
      git("commit", "-q", "-m", message);
      avoidDigitSha();
      return git("rev-parse", "HEAD");
    },
    mergePullRequest({ number, branch, title, files }) {
      git("checkout", "-q", "-b", `team/${branch}`);
      repo.commit(title.replace(/^\[\w+\]\s*/, ""), files);
      git("checkout", "-q", "main");
      git(
        "merge",
        "-q",
        "--no-ff",
        `team/${branch}`,
        "-m",
        `Merge pull request #${number} from team/${branch}`,
        "-m",
        title,
      );
      avoidDigitSha();
      return git("rev-parse", "HEAD");
    },
    sha: (rev = "HEAD") => git("rev-parse", rev),
    read: (path) => readFileSync(join(dir, path), "utf8"),
  };
  return repo;
}

export function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Whether the engine has an image (by reference or id). */
export function imageExists(ref: string): boolean {
  try {
    docker("image", "inspect", "--format", "{{.Id}}", ref);
    return true;
  } catch {
    return false;
  }
}

/** Removes every image tagged under a registry host (the images a test built for its own registry). */
export function removeImagesOf(registryHost: string): void {
  const refs = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    .split("\n")
    .filter((r) => r.startsWith(`${registryHost}/`));
  if (refs.length) execFileSync("docker", ["rmi", "-f", ...refs], { stdio: "ignore" });
}
