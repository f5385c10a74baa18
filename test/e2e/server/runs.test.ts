// What happens to runs once started (SQLite): re-runs that reuse recorded results, cancel, workflow
// concurrency groups, the per-repository job limit, live logs over SSE, and polling instead of webhooks.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  alive,
  api,
  cleanupAfterAll,
  dispatchRun,
  getRun,
  type Harness,
  jobOf,
  linesOf,
  listRuns,
  makeRepo,
  type RunView,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "./helpers.js";

cleanupAfterAll();

const name = "acme/app";

async function serverWith(h: Harness, workflows: Record<string, string>, args: string[] = []) {
  const repo = makeRepo(workflows);
  const server = await h.startServer({ args });
  await addRepo(server, repo, name);
  return { repo, server };
}

function dispatch(server: { url: string; token: string }, workflow: string): Promise<number> {
  return dispatchRun(server, name, workflow);
}

describe.concurrent("re-runs", () => {
  const scratch = () => tempDir("slipway-scratch-");

  const rerunWorkflow = (dir: string) => `name: Rerun
on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      x: \${{ steps.out.outputs.x }}
    steps:
      - id: out
        run: |
          echo "a ran" >> ${dir}/a-count
          echo "x=value-$(date +%s%N)" >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "b ran" >> ${dir}/b-count
          echo "b got \${{ needs.a.outputs.x }}"
          test -f ${dir}/marker || { echo "marker missing"; exit 1; }
`;

  test("--job b reuses a (not run again, its output kept); attempt 1 and its logs stay viewable", async ({
    h,
  }) => {
    const dir = scratch();
    const { server } = await serverWith(h, { ".github/workflows/rerun.yml": rerunWorkflow(dir) });
    const id = await dispatch(server, "rerun.yml");
    const first = await waitForRun(server, id);
    expect(first.run.conclusion).toBe("failure");
    const a1 = jobOf(first, "a");
    expect(a1.status).toBe("success");
    expect(jobOf(first, "b").status).toBe("failure");
    const x = a1.outputs.x;
    expect(x).toMatch(/^value-\d+$/);

    writeFileSync(join(dir, "marker"), "");
    const r = await h.cliOk(server, ["rerun", String(id), "--job", "b", "--json"]);
    expect(r.json.attempt).toBe(2);
    const second = await waitForRun(server, id, {
      until: (v) => v.run.attempt === 2 && v.run.status === "completed",
    });
    expect(second.run.conclusion).toBe("success");
    const a2 = jobOf(second, "a", 2);
    expect(a2.reusedFrom).toBe(a1.id);
    expect(a2.status).toBe("success");
    expect(a2.outputs.x).toBe(x);
    expect(jobOf(second, "b", 2).status).toBe("success");
    expect(linesOf(join(dir, "a-count"))).toEqual(["a ran"]);
    expect(linesOf(join(dir, "b-count"))).toEqual(["b ran", "b ran"]);

    const logs2 = await h.cliOk(server, ["logs", String(id), "--job", "b"]);
    expect(logs2.stdout).toContain(`b got ${x}`);
    expect(logs2.stdout).not.toContain("marker missing");
    const logs1 = await h.cliOk(server, ["logs", String(id), "--attempt", "1"]);
    expect(logs1.stdout).toContain("[b] marker missing");
    expect(logs1.stdout).toContain(`[b] b got ${x}`);
    const shown = await h.cliOk(server, ["runs", "show", String(id)]);
    expect(shown.stdout).toContain("attempt 1");
    expect(shown.stdout).toContain("attempt 2");
    expect(shown.stdout).toMatch(/reused from job \d+/);
    // Attempt 1 is unchanged.
    const again = await getRun(server, id);
    expect(jobOf(again, "b", 1).status).toBe("failure");
  });

  test("--failed re-runs the failed jobs only", async ({ h }) => {
    const dir = scratch();
    const { server } = await serverWith(h, { ".github/workflows/rerun.yml": rerunWorkflow(dir) });
    const id = await dispatch(server, "rerun.yml");
    expect((await waitForRun(server, id)).run.conclusion).toBe("failure");
    writeFileSync(join(dir, "marker"), "");
    await h.cliOk(server, ["rerun", String(id), "--failed"]);
    const v = await waitForRun(server, id, {
      until: (x) => x.run.attempt === 2 && x.run.status === "completed",
    });
    expect(v.run.conclusion).toBe("success");
    expect(jobOf(v, "a", 2).reusedFrom).not.toBeNull();
    expect(jobOf(v, "b", 2).reusedFrom).toBeNull();
    expect(linesOf(join(dir, "a-count"))).toHaveLength(1);
    expect(linesOf(join(dir, "b-count"))).toHaveLength(2);
    // Nothing failed any more: --failed has nothing to do.
    const none = await h.cliOk(server, ["rerun", String(id), "--failed"]).catch((e: Error) => e);
    expect(String(none)).toMatch(/no failed jobs/);
  });

  test("--matrix re-runs one leg only", async ({ h }) => {
    const dir = scratch();
    const { server } = await serverWith(h, {
      ".github/workflows/matrix.yml": `name: Matrix
on: workflow_dispatch
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        n: [1, 2, 3]
    steps:
      - run: |
          echo "m\${{ matrix.n }}" >> ${dir}/m-count
          test "\${{ matrix.n }}" != 2 || test -f ${dir}/marker
`,
    });
    const id = await dispatch(server, "matrix.yml");
    const first = await waitForRun(server, id);
    expect(first.run.conclusion).toBe("failure");
    const legs1 = first.attempts[0].jobs;
    expect(legs1.map((j) => [j.matrix?.n, j.status])).toEqual([
      [1, "success"],
      [2, "failure"],
      [3, "success"],
    ]);
    writeFileSync(join(dir, "marker"), "");
    await h.cliOk(server, ["rerun", String(id), "--job", "m", "--matrix", "n=2"]);
    const v = await waitForRun(server, id, {
      until: (x) => x.run.attempt === 2 && x.run.status === "completed",
    });
    expect(v.run.conclusion).toBe("success");
    const legs2 = v.attempts[1].jobs;
    expect(legs2.map((j) => [j.matrix?.n, j.status, j.reusedFrom !== null])).toEqual(
      expect.arrayContaining([
        [1, "success", true],
        [2, "success", false],
        [3, "success", true],
      ]),
    );
    expect(legs2).toHaveLength(3);
    expect(linesOf(join(dir, "m-count")).sort()).toEqual(["m1", "m2", "m2", "m3"]);
  });
});

describe.concurrent("cancel", () => {
  // "Quickly" without a stopwatch: the step sleeps far longer than the waits below allow, so a cancel that
  // waited for the step, or left its process running, fails them however loaded the machine is.
  test("cancels a running run quickly and the step's process is gone", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const { server } = await serverWith(h, {
      ".github/workflows/long.yml": `name: Long
on: workflow_dispatch
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 600 &
          echo $! > ${dir}/sleep.pid
          echo "sleeping"
          wait
      - run: echo "never" > ${dir}/after
  later:
    needs: long
    runs-on: ubuntu-latest
    steps:
      - run: echo "never" > ${dir}/later
`,
    });
    const id = await dispatch(server, "long.yml");
    const pidFile = join(dir, "sleep.pid");
    const pid = await waitFor("the step's sleep", () => existsSync(pidFile) && Number(linesOf(pidFile)[0]));
    expect(alive(pid)).toBe(true);
    const r = await h.cliOk(server, ["cancel", String(id), "--json"]);
    const v = await waitForRun(server, id, { timeoutMs: 40_000 });
    expect(r.json.id).toBe(id);
    expect(v.run.conclusion).toBe("cancelled");
    expect(jobOf(v, "long").status).toBe("cancelled");
    await waitFor("the sleep to be killed", () => !alive(pid), 15_000);
    expect(existsSync(join(dir, "after"))).toBe(false);
    expect(existsSync(join(dir, "later"))).toBe(false);
  });
});

describe.concurrent("workflow concurrency groups", () => {
  const workflow = (dir: string, cancel: boolean) => `name: Deploy
on: workflow_dispatch
concurrency:
  group: deploy
  cancel-in-progress: ${cancel}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "start \${{ github.run_id }} $(date +%s%3N)" >> ${dir}/times
          sleep 3
          echo "end \${{ github.run_id }} $(date +%s%3N)" >> ${dir}/times
`;

  test("cancel-in-progress: true cancels the first run", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const { server } = await serverWith(h, { ".github/workflows/deploy.yml": workflow(dir, true) });
    const first = await dispatch(server, "deploy.yml");
    // The first run's step is in progress when the second run arrives.
    await waitFor("the first deploy to start", () =>
      linesOf(join(dir, "times")).some((l) => l.startsWith(`start ${first} `)),
    );
    const second = await dispatch(server, "deploy.yml");
    const [v1, v2] = [await waitForRun(server, first), await waitForRun(server, second)];
    expect(v1.run.conclusion).toBe("cancelled");
    expect(v2.run.conclusion).toBe("success");
    // The cancelled deploy was stopped: it never finished, so the two never overlapped.
    expect(linesOf(join(dir, "times")).filter((l) => l.startsWith(`end ${first} `))).toEqual([]);
  });

  test("cancel-in-progress: false makes the second run wait for the first", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const { server } = await serverWith(h, { ".github/workflows/deploy.yml": workflow(dir, false) });
    const first = await dispatch(server, "deploy.yml");
    const second = await dispatch(server, "deploy.yml");
    const [v1, v2] = [await waitForRun(server, first), await waitForRun(server, second)];
    expect(v1.run.conclusion).toBe("success");
    expect(v2.run.conclusion).toBe("success");
    const t = (what: string, run: number) =>
      Number(
        linesOf(join(dir, "times"))
          .find((l) => l.startsWith(`${what} ${run} `))
          ?.split(" ")[2],
      );
    expect(t("start", second)).toBeGreaterThanOrEqual(t("end", first));
  });
});

describe.concurrent("--max-jobs-per-repo", () => {
  test("1 serialises the legs of one repository", async ({ h }) => {
    const dir = tempDir("slipway-scratch-");
    const job = (id: string) => `  ${id}:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "${id} start $(date +%s%3N)" >> ${dir}/times
          sleep 1
          echo "${id} end $(date +%s%3N)" >> ${dir}/times
`;
    const { server } = await serverWith(
      h,
      {
        ".github/workflows/three.yml": `name: Three
on: workflow_dispatch
jobs:
${job("one")}${job("two")}${job("three")}`,
      },
      ["--max-jobs-per-repo", "1", "--local-runners", "4"],
    );
    const id = await dispatch(server, "three.yml");
    expect((await waitForRun(server, id)).run.conclusion).toBe("success");
    const lines = linesOf(join(dir, "times")).map((l) => l.split(" "));
    expect(lines).toHaveLength(6);
    const spans = ["one", "two", "three"]
      .map((j) => ({
        start: Number(lines.find((l) => l[0] === j && l[1] === "start")![2]),
        end: Number(lines.find((l) => l[0] === j && l[1] === "end")![2]),
      }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) expect(spans[i].start).toBeGreaterThanOrEqual(spans[i - 1].end);
  });
});

describe.concurrent("live logs", () => {
  test("logs --follow prints lines as they come and exits when the run completes", async ({ h }) => {
    const { server } = await serverWith(h, {
      ".github/workflows/ticks.yml": `name: Ticks
on: workflow_dispatch
jobs:
  tick:
    runs-on: ubuntu-latest
    steps:
      - run: for i in 1 2 3 4; do echo "tick $i"; sleep 1; done
`,
    });
    const id = await dispatch(server, "ticks.yml");
    const follow = h.cliSpawn(server, ["logs", String(id), "--follow"]);
    await waitFor(
      "the first tick in the follower's output",
      () => follow.stdout().includes("tick 1"),
      15_000,
      50,
    );
    // The first line arrived while the run was still going.
    const during = await getRun(server, id);
    expect(during.run.status).not.toBe("completed");
    expect(follow.stdout()).not.toContain("tick 4");
    const { code } = await follow.exited;
    expect(code).toBe(0);
    const after = await getRun(server, id);
    expect(after.run.status).toBe("completed");
    const ticks = follow
      .stdout()
      .split("\n")
      .filter((l) => l.includes("] tick "));
    expect(ticks).toEqual(["[tick] tick 1", "[tick] tick 2", "[tick] tick 3", "[tick] tick 4"]);
  });
});

describe.concurrent("polling", () => {
  test("repo add --poll 1: a new commit starts a run without any webhook", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/ci.yml": `name: CI
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "built \${{ github.sha }}"
`,
    });
    const server = await h.startServer();
    await addRepo(server, repo, name, { poll: 1, viaCli: h });
    // The first poll records where the branches are.
    await waitFor(
      "the first poll",
      async () => {
        const r = await api<{ repos: { lastPolledAt: number | null }[] }>(server, "GET", "/api/v1/repos");
        return r.body.repos[0]?.lastPolledAt !== null;
      },
      20_000,
      200,
    );
    expect(await listRuns(server)).toEqual([]);
    const sha = repo.commit({ "src/new.txt": "new\n" }, "A new commit");
    const run = await waitFor(
      "a polled run",
      async () => (await listRuns(server)).find((r) => r.sha === sha),
      30_000,
      250,
    );
    const v: RunView = await waitForRun(server, run.id);
    expect(v.run).toMatchObject({
      trigger: "poll",
      eventName: "push",
      ref: "refs/heads/main",
      conclusion: "success",
    });
    const logs = await h.cliOk(server, ["logs", String(run.id)]);
    expect(logs.stdout).toContain(`built ${sha}`);
  });
});
