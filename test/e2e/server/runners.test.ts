// Remote runners (`slipway runner`) against a server that runs nothing itself (--local-runners 0):
// racing runners run every job exactly once and ship their logs; a job no runner has the labels for
// stays queued; a runner killed with -9 loses its job to `failure` when its lease runs out.
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
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
} from "./helpers.js";

cleanupAfterAll();

const name = "acme/app";

function dispatch(server: { url: string; token: string }, workflow: string): Promise<number> {
  return dispatchRun(server, name, workflow);
}

describe.concurrent("remote runners", () => {
  test("three runners racing for six jobs run each exactly once and ship their logs", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const jobs = [1, 2, 3, 4, 5, 6]
      .map(
        (n) => `  job${n}:
    runs-on: [self-hosted, e2e-pool]
    steps:
      - run: |
          echo "job${n}" >> ${dir}/ran
          echo "job${n} says hello from the runner"
          sleep 0.5
`,
      )
      .join("");
    const repo = makeRepo({
      ".github/workflows/six.yml": `name: Six\non: workflow_dispatch\njobs:\n${jobs}`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, name);
    const runners = [1, 2, 3].map((i) =>
      h.startRunner(server, { labels: ["self-hosted", "e2e-pool", "linux"], name: `racer-${i}` }),
    );
    const id = await dispatch(server, "six.yml");
    const v = await waitForRun(server, id, { timeoutMs: 60_000 });
    expect(v.run.conclusion).toBe("success");
    const ran = linesOf(join(dir, "ran"));
    expect(ran.sort()).toEqual(["job1", "job2", "job3", "job4", "job5", "job6"]);
    const rows = v.attempts[0].jobs;
    expect(rows).toHaveLength(6);
    for (const j of rows) {
      expect(j.status).toBe("success");
      expect(j.runnerId).toMatch(/\S/);
      expect(j.runnerId).not.toMatch(/^local-/);
    }
    const logs = await h.cliOk(server, ["logs", String(id)]);
    for (let n = 1; n <= 6; n++)
      expect(logs.stdout).toContain(`[job${n}] job${n} says hello from the runner`);
    const registered = await api<{ runners: { name: string }[] }>(server, "GET", "/api/v1/runners");
    expect(registered.body.runners.map((r) => r.name).sort()).toEqual(["racer-1", "racer-2", "racer-3"]);
    for (const r of runners) expect(r.child.exitCode).toBeNull();
  });

  test("a job whose runs-on labels no runner has stays queued", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/gpu.yml": `name: GPU
on: workflow_dispatch
jobs:
  cpu:
    runs-on: [self-hosted, e2e-pool]
    steps:
      - run: echo "cpu job"
  gpu:
    runs-on: [self-hosted, e2e-pool, gpu]
    steps:
      - run: echo "gpu job"
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, name);
    h.startRunner(server, { labels: ["self-hosted", "e2e-pool"] });
    const id = await dispatch(server, "gpu.yml");
    await waitForRun(server, id, {
      until: (v) => v.attempts[0]?.jobs.some((j) => j.jobKey === "cpu" && j.status === "success"),
    });
    await sleep(2000);
    const v = await getRun(server, id);
    expect(v.run.status).not.toBe("completed");
    expect(jobOf(v, "gpu").status).toBe("queued");
    expect(jobOf(v, "gpu").runnerId).toBeNull();
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/slipway_queue_depth\{status="queued"\} 1\b/);
  });

  test("a runner killed with -9 mid-step: its job fails naming the runner, and is not re-queued", async ({
    h,
  }) => {
    const dir = tempDir("slipway-scratch-");
    const repo = makeRepo({
      ".github/workflows/long.yml": `name: Long
on: workflow_dispatch
jobs:
  long:
    runs-on: [self-hosted, e2e-pool]
    steps:
      - run: |
          echo "long" >> ${dir}/ran
          echo "long started"
          sleep 30
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"], env: { SLIPWAY_LEASE_MS: "3000" } });
    await addRepo(server, repo, name);
    const heartbeat = { SLIPWAY_HEARTBEAT_MS: "1000" };
    const doomed = h.startRunner(server, {
      labels: ["self-hosted", "e2e-pool"],
      name: "doomed-runner",
      env: heartbeat,
    });
    const id = await dispatch(server, "long.yml");
    await waitFor(
      "the step to start",
      async () => (await logText(server, id)).includes("long started"),
      30_000,
      100,
    );
    // Well past one lease: heartbeats keep the job.
    await sleep(4000);
    expect(jobOf(await getRun(server, id), "long").status).toBe("running");
    doomed.kill("SIGKILL");
    const killedAt = Date.now();
    // A healthy runner with the same labels must not pick the job up again.
    h.startRunner(server, { labels: ["self-hosted", "e2e-pool"], name: "spare-runner", env: heartbeat });
    const v = await waitForRun(server, id, { timeoutMs: 20_000 });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(v.run.conclusion).toBe("failure");
    const job = jobOf(v, "long");
    expect(job.status).toBe("failure");
    expect(job.reason).toMatch(/doomed-runner/);
    expect(job.reason).toMatch(/stopped heartbeating/);
    await sleep(1500);
    expect(linesOf(join(dir, "ran"))).toEqual(["long"]);
    expect((await getRun(server, id)).attempts[0].jobs).toHaveLength(1);
    const shown = await h.cliOk(server, ["runs", "show", String(id)]);
    expect(shown.stdout).toMatch(/long\s+failure.*doomed-runner/);
  });
});
