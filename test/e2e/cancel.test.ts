// Ctrl-C on `slipway run`: running steps get SIGINT (then SIGKILL after the grace period), always()
// steps still run, dependent jobs are cancelled, the exit code is 1 and --json still prints the result.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const bin = resolve(import.meta.dirname, "..", "..", "bin", "slipway.js");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function repoWith(workflow: string): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-cancel-"));
  dirs.push(dir);
  mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
  writeFileSync(join(dir, ".github", "workflows", "ci.yml"), workflow);
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir });
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init");
  return dir;
}

function runUntil(dir: string, marker: string, extraEnv: Record<string, string> = {}) {
  const data = mkdtempSync(join(tmpdir(), "slipway-data-"));
  dirs.push(data);
  const child = spawn(process.execPath, [bin, "run", "--json"], {
    cwd: dir,
    env: { ...process.env, SLIPWAY_DATA_DIR: data, NO_COLOR: "1", ...extraEnv },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  const interrupted = new Promise<void>((ok) => {
    child.stderr.on("data", (c) => {
      stderr += c;
      if (stderr.includes(marker) && !child.killed) {
        child.kill("SIGINT");
        ok();
      }
    });
  });
  const done = new Promise<number | null>((ok) => child.on("close", (code) => ok(code)));
  return { interrupted, done, out: () => stdout, err: () => stderr };
}

describe("cancelling a run", () => {
  it("interrupts the running step, runs always() steps and cancels what follows", async () => {
    const dir = repoWith(`on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          trap 'echo got SIGINT; exit 130' INT
          echo started
          sleep 30 & wait
      - if: always()
        run: echo "always ran with job status \${{ job.status }}"
      - run: echo should-not-run
  after:
    needs: long
    runs-on: ubuntu-latest
    steps:
      - run: echo never
`);
    const started = Date.now();
    const r = runUntil(dir, "| started");
    await r.interrupted;
    const code = await r.done;
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.err()).toContain("got SIGINT");
    expect(r.err()).toContain("always ran with job status cancelled");
    expect(r.err()).not.toContain("should-not-run");
    const json = JSON.parse(r.out());
    expect(json.status).toBe("cancelled");
    const long = json.jobs.find((j: { id: string }) => j.id === "long");
    expect(long.status).toBe("cancelled");
    expect(long.steps.map((s: { outcome: string }) => s.outcome)).toEqual([
      "cancelled",
      "success",
      "skipped",
    ]);
    expect(json.jobs.find((j: { id: string }) => j.id === "after").status).toBe("cancelled");
  });

  it("kills a step that ignores SIGINT after the grace period, with its whole process group", async () => {
    const dir = repoWith(`on: push
jobs:
  stubborn:
    runs-on: ubuntu-latest
    steps:
      - run: |
          trap '' INT
          (trap '' INT; sleep 67; echo child-survived) &
          echo started
          sleep 67
`);
    const started = Date.now();
    const r = runUntil(dir, "| started", { SLIPWAY_KILL_GRACE_MS: "300" });
    await r.interrupted;
    expect(await r.done).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(JSON.parse(r.out()).jobs[0].steps[0].outcome).toBe("cancelled");
    // The backgrounded child was in the step's process group and died with it.
    await new Promise((ok) => setTimeout(ok, 300));
    const ps = execFileSync("ps", ["-eo", "args"]).toString();
    expect(ps).not.toContain("sleep 67");
  });
});
