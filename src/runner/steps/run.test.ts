// Run steps through the engine (executeRun, no git): what a step's process gets — its environment, its
// script's and directories' modes, fresh file-command files per step — and the per-job log cap.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listWorkflowFiles, loadWorkflows } from "../../workflow/index.js";
import type { LogKind, Reporter } from "../reporter.js";
import { type ExecuteOptions, executeRun, planRun } from "../run.js";
import type { RunResult } from "../types.js";

const root = mkdtempSync(join(tmpdir(), "slipway-run-steps-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
async function runWorkflow(
  steps: string,
  opts: Partial<ExecuteOptions> = {},
): Promise<{ result: RunResult; log: { text: string; kind: LogKind }[] }> {
  const repoDir = join(root, `repo-${++n}`);
  mkdirSync(join(repoDir, ".github", "workflows"), { recursive: true });
  writeFileSync(
    join(repoDir, ".github", "workflows", "ci.yml"),
    `on: push\njobs:\n  job:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`,
  );
  const log: { text: string; kind: LogKind }[] = [];
  const reporter: Reporter = {
    jobStarted() {},
    stepStarted() {},
    log: (_job, text, kind) => log.push({ text, kind }),
    annotation() {},
    stepFinished() {},
    jobFinished() {},
  };
  const workflows = await loadWorkflows(repoDir, listWorkflowFiles(repoDir));
  const event = { name: "push", payload: { ref: "refs/heads/main", after: "0".repeat(40) } };
  const result = await executeRun(planRun(workflows, event), {
    repoDir,
    dataDir: join(root, "data"),
    repository: "acme/app",
    defaultBranch: "main",
    actor: "test",
    secrets: {},
    vars: {},
    inputs: {},
    reporter,
    signal: new AbortController().signal,
    ...opts,
  });
  return { result, log };
}

const text = (log: { text: string }[]) => log.map((l) => l.text).join("\n");

describe("run steps", () => {
  it("start from the built environment, not this process's", async () => {
    const saved = { ...process.env };
    process.env.SLIPWAY_MASTER_KEY = "master-key-from-parent";
    process.env.CLOUD_TOKEN = "cloud-token-from-parent";
    process.env.PASSED_ONE = "passed-one";
    process.env.SLIPWAY_PASS_ENV = "PASSED_ONE";
    try {
      const { result, log } = await runWorkflow("      - run: env\n");
      expect(result.status).toBe("success");
      const out = text(log);
      expect(out).toContain("PASSED_ONE=passed-one");
      expect(out).toContain("GITHUB_ACTIONS=true");
      expect(out).not.toContain("master-key-from-parent");
      expect(out).not.toContain("cloud-token-from-parent");
      expect(out).not.toMatch(/^SLIPWAY_/m);
      // An explicit host env is used as given.
      const given = await runWorkflow("      - run: env\n", {
        hostEnv: { PATH: process.env.PATH ?? "", ONLY: "me" },
      });
      expect(text(given.log)).toContain("ONLY=me");
      expect(text(given.log)).not.toContain("PASSED_ONE");
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it("write scripts 0600 (0700 when the script is the command) in 0700 directories", async () => {
    const { result, log } = await runWorkflow(
      [
        "      - run: |",
        '          echo "script=$(stat -c %a "$0") temp=$(stat -c %a "$RUNNER_TEMP") job=$(stat -c %a "$RUNNER_WORKSPACE") ws=$(stat -c %a "$GITHUB_WORKSPACE") cmds=$(stat -c %a "$(dirname "$GITHUB_OUTPUT")") out=$(stat -c %a "$GITHUB_OUTPUT") event=$(stat -c %a "$GITHUB_EVENT_PATH")"',
        "      - shell: '{0}'",
        "        run: |",
        "          #!/bin/sh",
        '          echo "direct=$(stat -c %a "$0")"',
        "",
      ].join("\n"),
    );
    expect(result.status, text(log)).toBe("success");
    expect(text(log)).toContain("script=600 temp=700 job=700 ws=700 cmds=700 out=600 event=600");
    expect(text(log)).toContain("direct=700");
  });

  it("get fresh file-command files: summaries and paths are not carried over", async () => {
    const { result, log } = await runWorkflow(
      [
        "      - run: |",
        '          echo "one" >> "$GITHUB_STEP_SUMMARY"',
        '          echo "/opt/a" >> "$GITHUB_PATH"',
        '          echo "X=1" >> "$GITHUB_ENV"',
        "      - run: |",
        '          echo "summary=[$(cat "$GITHUB_STEP_SUMMARY")] path=[$(cat "$GITHUB_PATH")] env=[$(cat "$GITHUB_ENV")] X=$X"',
        '          echo "two" >> "$GITHUB_STEP_SUMMARY"',
        '      - run: echo "PATH=$PATH"',
        "",
      ].join("\n"),
    );
    expect(result.status).toBe("success");
    expect(result.jobs[0].summary).toBe("one\ntwo\n");
    expect(text(log)).toContain("summary=[] path=[] env=[] X=1");
    const path = /PATH=(\S+)/.exec(text(log))?.[1] ?? "";
    expect(path.split(":").filter((p) => p === "/opt/a")).toHaveLength(1);
  });

  it("refuse a step summary over 1 MiB", async () => {
    const { result, log } = await runWorkflow(
      [
        "      - run: head -c 1100000 /dev/zero | tr '\\0' x >> \"$GITHUB_STEP_SUMMARY\"",
        '      - run: echo ok >> "$GITHUB_STEP_SUMMARY"',
        "",
      ].join("\n"),
    );
    expect(result.jobs[0].summary).toBe("ok\n");
    expect(log.some((l) => l.kind === "error" && l.text.includes("up to a size of 1024k"))).toBe(true);
  });

  it("stop logging at the job's log cap with one notice, and the job goes on", async () => {
    const { result, log } = await runWorkflow(
      [
        '      - run: for i in $(seq 1 500); do echo "line $i of the noise"; done',
        "      - run: echo after-the-noise",
        "",
      ].join("\n"),
      { logLimit: 2000 },
    );
    expect(result.status).toBe("success");
    expect(result.jobs[0].steps.map((s) => s.conclusion)).toEqual(["success", "success"]);
    const notices = log.filter((l) => l.text.includes("reached its limit of 2000 bytes"));
    expect(notices).toHaveLength(1);
    expect(notices[0].kind).toBe("warning");
    expect(text(log)).toContain("line 1 of the noise");
    expect(text(log)).not.toContain("line 500 of the noise");
    expect(text(log)).not.toContain("after-the-noise");
    const kept = log.filter((l) => l.kind === "log").reduce((s, l) => s + l.text.length + 1, 0);
    expect(kept).toBeLessThanOrEqual(2000);
  });
});
