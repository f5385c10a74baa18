// What a workflow step run by `slipway run` can see of the machine, tried as an attacker would: its
// environment (slipway's own variables and the user's credentials must not be there unless passed),
// secrets in output lines cut at 64 KiB, the step's script and file-command files read by another local
// user (`nobody`), and step summaries carried from one step to the next.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../helpers.js";

const roots: string[] = [];
afterAll(() => {
  if (!process.env.SLIPWAY_E2E_KEEP) for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A git repository holding one workflow, and a data dir: what `slipway run` is run on. */
function repoWith(workflow: string): { repo: string; data: string; logs: string } {
  const root = mkdtempSync(join(tmpdir(), "slipway-childenv-"));
  roots.push(root);
  const repo = join(root, "repo");
  const file = join(repo, ".github", "workflows", "ci.yml");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, workflow);
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: repo,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: root,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.com",
      },
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "init");
  const logs = join(root, "logs");
  mkdirSync(logs);
  return { repo, data: join(root, "data"), logs };
}

function run(
  where: { repo: string; data: string; logs: string },
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return runCli(["run", ...args], { cwd: where.repo, dataDir: where.data, logDir: where.logs, env });
}

/** What slipway's process has and no job may see. */
const parentSecrets = {
  SLIPWAY_MASTER_KEY: "ab".repeat(32),
  SLIPWAY_DATABASE: "postgres://slipway:db-password-7f3a@127.0.0.1:5432/slipway",
  SLIPWAY_RUNNER_TOKEN: "slwr_runner-token-91c2",
  AWS_SECRET_ACCESS_KEY: "aws-secret-4d1e9b",
  SOME_OTHER_VAR: "not-passed-6b0c",
};

const dumpWorkflow = `on: push
jobs:
  dump:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "--- env"
          env
          echo "--- /proc/self/environ"
          cat /proc/self/environ | tr '\\0' '\\n'
          echo "--- /proc/$$/environ"
          tr '\\0' '\\n' < /proc/$$/environ
          echo "DUMP-DONE"
`;

describe("slipway run: the environment of a job", () => {
  it("holds none of slipway's variables nor the user's, only what is passed", async () => {
    const where = repoWith(dumpWorkflow);
    const r = await run(where, ["--pass-env", "PASSED_VAR"], {
      ...parentSecrets,
      PASSED_VAR: "passed-value-3e8d",
    });
    expect(r.code, r.stderr).toBe(0);
    const log = r.stderr;
    // The step ran and dumped its environment three ways.
    expect(log).toContain("DUMP-DONE");
    expect(log).toContain("--- /proc/self/environ");
    expect(log).toMatch(/\bPATH=/);
    expect(log).toMatch(/\bHOME=/);
    expect(log).toContain("GITHUB_ACTIONS=true");
    expect(log.split("PASSED_VAR=passed-value-3e8d").length - 1).toBeGreaterThanOrEqual(3);
    for (const [name, value] of Object.entries(parentSecrets)) {
      expect(log).not.toContain(value);
      expect(log).not.toContain(`${name}=`);
    }
    expect(log).not.toMatch(/\bSLIPWAY_[A-Z_]*=/);
  });

  it("takes the names to pass from SLIPWAY_PASS_ENV too", async () => {
    const where = repoWith(dumpWorkflow);
    const r = await run(where, [], {
      ...parentSecrets,
      SLIPWAY_PASS_ENV: "PASSED_VAR",
      PASSED_VAR: "passed-by-setting-5a1f",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("PASSED_VAR=passed-by-setting-5a1f");
    expect(r.stderr).not.toContain(parentSecrets.SOME_OTHER_VAR);
    expect(r.stderr).not.toContain("SLIPWAY_PASS_ENV=");
  });

  it("refuses to pass slipway's own variables, before anything runs", async () => {
    const where = repoWith(dumpWorkflow);
    const r = await run(where, ["--pass-env", "SLIPWAY_MASTER_KEY"], parentSecrets);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--pass-env: SLIPWAY_MASTER_KEY is one of slipway's own variables");
    expect(r.stderr).not.toContain("DUMP-DONE");
    expect(r.stderr).not.toContain(parentSecrets.SLIPWAY_MASTER_KEY);
    const bad = await run(where, [], { ...parentSecrets, SLIPWAY_PASS_ENV: "A=B" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SLIPWAY_PASS_ENV: "A=B" is not a variable name');
  });
});

describe("slipway run: masking long lines", () => {
  it("masks a secret that straddles the 64 KiB cut of a line", async () => {
    const secret = "straddle-secret-0f4b8c2e9d7a6153";
    // 65536 - 16 characters, then the secret across the 65536 mark, then more on the same line.
    const where = repoWith(`on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - env:
          T: \${{ secrets.TOKEN }}
        run: |
          printf '%065520d' 0 | tr 0 a
          printf '%s' "$T"
          printf '%0200d\\n' 0 | tr 0 b
          echo "LONG-DONE"
`);
    const r = await run(where, ["-s", `TOKEN=${secret}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("LONG-DONE");
    // act's -s NAME=VALUE still works, and says the value was visible to other users on the way in.
    expect(r.stderr).toContain("warning: -s NAME=VALUE puts the secret on the command line");
    // The line is cut where the secret starts: the secret is masked whole at the head of the next piece.
    expect(r.stderr).toMatch(/\| a{1000,}\n\[long\] +\| \*\*\*b{200}\n/);
    // Neither half of the secret printed in clear.
    expect(r.stderr).not.toContain(secret.slice(0, 12));
    expect(r.stderr).not.toContain(secret.slice(-12));
    expect(r.stderr).not.toContain("straddle");
  });
});

describe("slipway run: files of a running step", () => {
  it.runIf(process.getuid?.() === 0)("are not readable by another local user (nobody)", async () => {
    const secret = "script-secret-8e21c4";
    const where = repoWith(`on: push
jobs:
  peek:
    runs-on: ubuntu-latest
    steps:
      - run: |
          # The script holds the interpolated secret: ${"${{ secrets.TOKEN }}"}
          echo "KEY=\${{ secrets.TOKEN }}" >> "$GITHUB_ENV"
      - run: |
          echo "modes script=$(stat -c %a "$0") temp=$(stat -c %a "$RUNNER_TEMP") job=$(stat -c %a "$RUNNER_WORKSPACE") env=$(stat -c %a "$GITHUB_ENV") cmds=$(stat -c %a "$(dirname "$GITHUB_ENV")")"
          as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@" 2>&1; }
          echo "script: $(as_nobody cat "$0" || echo REFUSED)"
          echo "temp: $(as_nobody ls "$RUNNER_TEMP" || echo REFUSED)"
          echo "workspace: $(as_nobody ls "$GITHUB_WORKSPACE" || echo REFUSED)"
          echo "PEEK-DONE"
`);
    const r = await run(where, ["-s", `TOKEN=${secret}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("PEEK-DONE");
    expect(r.stderr).toMatch(/modes script=600 temp=700 job=700 env=600 cmds=700/);
    expect(r.stderr).toMatch(/script: cat: \S+\.sh: Permission denied\n.*REFUSED/);
    expect(r.stderr).toMatch(/temp: ls: cannot access '\S+_temp': Permission denied\n.*REFUSED/);
    expect(r.stderr).toMatch(/workspace: ls: cannot access '\S+': Permission denied\n.*REFUSED/);
    expect(r.stderr).not.toContain(secret);
  });
});

describe("slipway run: file commands", () => {
  it("gives each step a fresh GITHUB_STEP_SUMMARY and GITHUB_PATH", async () => {
    const where = repoWith(`on: push
jobs:
  sum:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "one" >> "$GITHUB_STEP_SUMMARY"
          echo "/opt/first" >> "$GITHUB_PATH"
      - run: |
          echo "seen-summary=[$(cat "$GITHUB_STEP_SUMMARY")] seen-path=[$(cat "$GITHUB_PATH")]"
          echo "two" >> "$GITHUB_STEP_SUMMARY"
          echo "/opt/second" >> "$GITHUB_PATH"
      - run: |
          echo "three" >> "$GITHUB_STEP_SUMMARY"
          echo "PATH=$PATH"
`);
    const r = await run(where, ["--json"]);
    expect(r.code, r.stderr).toBe(0);
    const job = (r.json as { jobs: { summary: string }[] }).jobs[0];
    expect(job.summary).toBe("one\ntwo\nthree\n");
    expect(r.stderr).toContain("seen-summary=[] seen-path=[]");
    const path = /PATH=(\S+)/.exec(r.stderr.slice(r.stderr.indexOf("three")))?.[1] ?? "";
    expect(path.startsWith("/opt/second:/opt/first:")).toBe(true);
    expect(path.split(":").filter((p) => p === "/opt/first")).toHaveLength(1);
  });
});

describe("slipway run: the job log cap", () => {
  it("cuts a job's log at SLIPWAY_JOB_LOG_LIMIT with one notice, and the job goes on", async () => {
    const where = repoWith(`on: push
jobs:
  noisy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          i=0
          while [ $i -lt 2000 ]; do echo "noise line $i ................................................"; i=$((i+1)); done
      - run: echo "ran after the noise" > "$MARKER"
`);
    const marker = join(dirname(where.repo), "after");
    const r = await run(where, ["--json"], {
      SLIPWAY_JOB_LOG_LIMIT: "16K",
      MARKER: marker,
      SLIPWAY_PASS_ENV: "MARKER",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("The job's log reached its limit of 16 KiB (SLIPWAY_JOB_LOG_LIMIT)");
    expect(r.stderr.split("reached its limit").length - 1).toBe(1);
    expect(r.stderr).toContain("noise line 1");
    expect(r.stderr).not.toContain("noise line 1999");
    expect(execFileSync("cat", [marker], { encoding: "utf8" })).toBe("ran after the noise\n");
    const bad = await run(where, [], { SLIPWAY_JOB_LOG_LIMIT: "lots" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("SLIPWAY_JOB_LOG_LIMIT must be a size in bytes above 0");
  });
});
