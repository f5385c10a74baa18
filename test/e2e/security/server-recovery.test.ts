// kill -9 of `slipway serve` while a step runs, then a restart on the same data directory: the step's
// process group (which kill -9 spares) is stopped before the job is declared failed and before the
// always() job after it runs; the cut-off step ends with a conclusion and a finish time; the leg's
// temporary directory is removed.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  cleanupAfterAll,
  dispatchRun,
  getRun,
  jobOf,
  linesOf,
  logText,
  makeRepo,
  sleep,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";

cleanupAfterAll();

const name = "acme/app";
type StepView = {
  name: string;
  conclusion: string | null;
  startedAt: number | null;
  finishedAt: number | null;
};

describe.concurrent("server or runner killed with -9 during a step", () => {
  test("restart stops the step's process group first, ends the step, removes the leg directory", async ({
    h,
  }) => {
    const dir = tempDir("slipway-scratch-");
    // The server's (and so its steps') temporary directory, to see exactly its slipway-leg-* dirs.
    const tmp = tempDir("slipway-tmp-");
    const marker = join(dir, "marker");
    const repo = makeRepo({
      ".github/workflows/forever.yml": `name: Forever
on: workflow_dispatch
jobs:
  forever:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "marking"
          while true; do date +%s%N >> ${marker}; sleep 0.1; done
  after:
    needs: forever
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: date +%s%N >> ${dir}/after
`,
    });
    const env = { TMPDIR: tmp, SLIPWAY_KILL_GRACE_MS: "2000" };
    const args = ["--local-runners", "1"];
    const server = await h.startServer({ args, env });
    await addRepo(server, repo, name);
    const id = await dispatchRun(server, name, "forever.yml");
    await waitFor("the step to mark", async () => (await logText(server, id)).includes("marking"), 30_000);
    await waitFor("a few marks", () => linesOf(marker).length >= 5, 30_000);
    expect(readdirSync(tmp).filter((d) => d.startsWith("slipway-leg-"))).toHaveLength(1);

    server.kill("SIGKILL");
    await server.exited;
    // kill -9 spares the step: it goes on marking with no server.
    const before = linesOf(marker).length;
    await sleep(600);
    expect(linesOf(marker).length).toBeGreaterThan(before);

    const restarted = await h.startServer({ dataDir: server.dataDir, args, env });
    const v = await waitForRun(restarted, id, { timeoutMs: 60_000 });
    const forever = jobOf(v, "forever");
    expect(forever).toMatchObject({
      status: "failure",
      reason: "server restarted while the job was running",
    });
    const steps = forever.steps as unknown as StepView[];
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) {
      expect(s.conclusion, s.name).toBe("failure");
      expect(s.finishedAt, s.name).not.toBeNull();
    }
    expect(jobOf(v, "after").status).toBe("success");
    expect(restarted.stderr()).toMatch(/stopped 1 step process group\(s\) left by an earlier server process/);

    // The marking stopped — and before the always() job ran.
    const size = statSync(marker).size;
    await sleep(1000);
    expect(statSync(marker).size).toBe(size);
    const lastMark = BigInt(linesOf(marker).at(-1)!);
    const afterRan = BigInt(linesOf(join(dir, "after"))[0]);
    expect(lastMark < afterRan).toBe(true);
    // No leg directory is left behind (the one cut off, nor those of the legs run since).
    expect(readdirSync(tmp).filter((d) => d.startsWith("slipway-leg-"))).toEqual([]);
    // The API and `runs show` agree: no step is running.
    const shown = await h.cliOk(restarted, ["runs", "show", String(id), "--json"]);
    expect(JSON.stringify(shown.json)).not.toMatch(/"conclusion":null/);
    expect((await getRun(restarted, id)).run.conclusion).toBe("failure");
  });

  test("a restarted runner stops the step process group its killed predecessor left", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const tmp = tempDir("slipway-tmp-");
    const marker = join(dir, "marker");
    const repo = makeRepo({
      ".github/workflows/forever.yml": `name: Forever
on: workflow_dispatch
jobs:
  forever:
    runs-on: [remote-forever]
    steps:
      - run: |
          echo "marking"
          while true; do date +%s%N >> ${marker}; sleep 0.1; done
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"], env: { SLIPWAY_LEASE_MS: "3000" } });
    await addRepo(server, repo, name);
    const runnerDir = tempDir("slipway-runner-");
    const startRunner = () =>
      h.spawn(
        [
          "runner",
          "--server",
          server.url,
          "--token",
          server.token,
          "--labels",
          "remote-forever",
          "--name",
          "phoenix",
          "--data-dir",
          runnerDir,
        ],
        h.env({ TMPDIR: tmp, SLIPWAY_HEARTBEAT_MS: "1000", SLIPWAY_KILL_GRACE_MS: "2000" }),
      );
    const first = startRunner();
    const id = await dispatchRun(server, name, "forever.yml");
    await waitFor("a few marks", () => linesOf(marker).length >= 5, 30_000);
    first.kill("SIGKILL");
    await first.exited;
    const before = linesOf(marker).length;
    await sleep(600);
    expect(linesOf(marker).length).toBeGreaterThan(before);

    const second = startRunner();
    await waitFor("the runner to reap", () => /stopped 1 step process group/.test(second.stderr()), 30_000);
    const size = statSync(marker).size;
    await sleep(1000);
    expect(statSync(marker).size).toBe(size);
    expect(readdirSync(tmp).filter((d) => d.startsWith("slipway-leg-"))).toEqual([]);
    // The server gives up on the job when its lease runs out, and ends its step.
    const v = await waitForRun(server, id, { timeoutMs: 30_000 });
    const job = jobOf(v, "forever");
    expect(job.reason).toMatch(/stopped heartbeating/);
    for (const s of job.steps as unknown as StepView[]) expect(s.finishedAt).not.toBeNull();
  });
});
