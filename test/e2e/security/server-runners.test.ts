// Runners an attacker controls, against a real `slipway serve` that runs nothing itself: a runner that
// lies about its labels gets no job and no secret; a removed or disabled runner's token is refused at
// once and the job it held fails with the reason; a runner reporting a status that does not exist
// is answered 400 naming the field, and the run still completes; cancel and SIGTERM finish even with
// a runner that went silent.
import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  getRun,
  jobOf,
  logText,
  makeRepo,
  type RunView,
  sleep,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";

cleanupAfterAll();

const name = "acme/app";
type StepView = { idx: number; name: string; conclusion: string | null; finishedAt: number | null };

async function register(server: { url: string; token: string }, runnerName: string, labels: string[]) {
  const r = await api<{ token: string; runner: { id: string } }>(server, "POST", "/api/v1/runners", {
    name: runnerName,
    labels,
  });
  expect(r.status).toBe(201);
  return r.body;
}

async function waitForJobStatus(
  server: { url: string; token: string },
  id: number,
  key: string,
  status: string,
) {
  return waitFor(`job ${key} ${status}`, async () => {
    const v = await getRun(server, id);
    const job = v.attempts[0]?.jobs.find((j) => j.jobKey === key);
    return job?.status === status ? v : undefined;
  });
}

describe.concurrent("runners that misbehave", () => {
  test("a runner registered with [a] that claims with [b] is refused and receives no job and no secret", async ({
    h,
  }) => {
    const repo = makeRepo({
      ".github/workflows/deploy.yml": `name: Deploy
on: workflow_dispatch
jobs:
  deploy:
    runs-on: [b]
    steps:
      - run: echo "key=\${{ secrets.DEPLOY_KEY }}"
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, name);
    const secret = `deploy-key-${randomUUID()}`;
    expect((await api(server, "POST", "/api/v1/secrets", { name: "DEPLOY_KEY", value: secret })).status).toBe(
      201,
    );
    const liar = await register(server, "liar", ["a"]);
    const id = await dispatchRun(server, name, "deploy.yml");
    await waitForJobStatus(server, id, "deploy", "queued");

    const lie = await api(server, "POST", "/api/v1/runner/claim", { labels: ["b"] }, liar.token);
    expect(lie.status).toBe(400);
    expect(lie.body.error).toMatch(/labels: "b" is not among this runner's registered labels \(a\)/);
    expect(JSON.stringify(lie.body)).not.toContain(secret);
    // Its registered labels do not reach the job either.
    const honest = await api(server, "POST", "/api/v1/runner/claim", { waitMs: 500 }, liar.token);
    expect(honest.status).toBe(204);
    expect(jobOf(await getRun(server, id), "deploy")).toMatchObject({ status: "queued", runnerId: null });
  });

  test("a removed runner's token is refused at once; its job fails with the reason, its step ends, the runner stops", async ({
    h,
  }) => {
    const repo = makeRepo({
      ".github/workflows/long.yml": `name: Long
on: workflow_dispatch
jobs:
  long:
    runs-on: [doom]
    steps:
      - run: |
          echo "long started"
          sleep 60
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, name);
    const reg = await register(server, "doomed", ["doom"]);
    const runner = h.startRunner(
      { url: server.url, token: reg.token },
      { labels: ["doom"], name: "doomed", env: { SLIPWAY_HEARTBEAT_MS: "500" } },
    );
    const id = await dispatchRun(server, name, "long.yml");
    await waitFor(
      "the step to start",
      async () => (await logText(server, id)).includes("long started"),
      30_000,
    );

    // Not on a terminal: no removal without --yes, and the runner keeps working.
    const unasked = await h.cli(server, ["runner", "rm", "doomed"]);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(/remove runner doomed.*pass --yes to confirm.*nothing was changed/);
    const still = await h.cliOk(server, ["runner", "ls", "--json"]);
    expect(still.json.map((r: { name: string }) => r.name)).toContain("doomed");
    const rm = await h.cliOk(server, ["runner", "rm", "doomed", "--json", "--yes"]);
    expect(rm.json.failedJobs).toHaveLength(1);
    // At once: the very next request with its token.
    const beat = await api(
      server,
      "POST",
      `/api/v1/runner/jobs/${rm.json.failedJobs[0]}/heartbeat`,
      {},
      reg.token,
    );
    expect(beat.status).toBe(401);
    expect((await api(server, "POST", "/api/v1/runner/claim", {}, reg.token)).status).toBe(401);

    const v = await waitForRun(server, id, { timeoutMs: 20_000 });
    expect(v.run.conclusion).toBe("failure");
    const job = jobOf(v, "long");
    expect(job.status).toBe("failure");
    expect(job.reason).toMatch(/^runner doomed \(.+\) was removed by admin$/);
    for (const s of job.steps as unknown as StepView[]) {
      expect(s.conclusion).not.toBeNull();
      expect(s.finishedAt).not.toBeNull();
    }
    // The runner hears the 401 and stops (its leg with it) instead of retrying forever.
    const exited = await Promise.race([runner.exited, sleep(20_000).then(() => null)]);
    expect(exited).not.toBeNull();
    expect(exited?.code).not.toBe(0);
    expect(runner.stderr()).toMatch(/refuses this runner's token/);
    const ls = await h.cliOk(server, ["runner", "ls", "--json"]);
    expect(ls.json).toEqual([]);
  });

  test("a disabled runner is refused until it is enabled again; runner ls shows which", async ({ h }) => {
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    const reg = await register(server, "pausable", ["p"]);
    await h.cliOk(server, ["runner", "disable", "pausable"]);
    expect((await api(server, "POST", "/api/v1/runner/claim", {}, reg.token)).status).toBe(401);
    const ls = await h.cliOk(server, ["runner", "ls"]);
    expect(ls.stdout).toMatch(/pausable\s+p\s+disabled/);
    await h.cliOk(server, ["runner", "enable", reg.runner.id]);
    expect((await api(server, "POST", "/api/v1/runner/claim", {}, reg.token)).status).toBe(204);
    const unknown = await h.cli(server, ["runner", "rm", "no-such-runner", "--yes"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no runner "no-such-runner"');
  });

  test("a bogus status is a 400 naming the field; the job fails with the reason and the run completes", async ({
    h,
  }) => {
    const repo = makeRepo({
      ".github/workflows/lie.yml": `name: Lie
on: workflow_dispatch
jobs:
  work:
    runs-on: [liar]
    steps:
      - run: echo work
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, name);
    const reg = await register(server, "liar", ["liar"]);
    const id = await dispatchRun(server, name, "lie.yml");
    await waitForJobStatus(server, id, "work", "queued");
    const claim = await api(server, "POST", "/api/v1/runner/claim", {}, reg.token);
    expect(claim.status).toBe(200);
    const job = claim.body.jobRowId;
    const base = `/api/v1/runner/jobs/${job}`;

    const step = await api(
      server,
      "POST",
      `${base}/steps`,
      { idx: 0, id: "s", name: "work", status: "completed", conclusion: "bogus-status" },
      reg.token,
    );
    expect(step.status).toBe(400);
    expect(step.body.error).toMatch(/conclusion/);
    const log = await api(server, "POST", `${base}/logs`, { seq: "abc", content: "x" }, reg.token);
    expect(log.status).toBe(400);
    expect(log.body.error).toMatch(/seq/);
    expect((await api(server, "POST", "/api/v1/runner/jobs/abc/heartbeat", {}, reg.token)).status).toBe(400);

    const done = await api(
      server,
      "POST",
      `${base}/complete`,
      { status: "bogus-status", outputs: {} },
      reg.token,
    );
    expect(done.status).toBe(400);
    expect(done.body.error).toMatch(/status/);

    const v = await waitForRun(server, id, { timeoutMs: 20_000 });
    expect(v.run).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(jobOf(v, "work").status).toBe("failure");
    expect(jobOf(v, "work").reason).toMatch(/the runner reported an invalid end of the job: status/);
    // Nothing of the refused reports was stored.
    expect(jobOf(v, "work").steps).toEqual([]);
    expect(await logText(server, id)).toBe("");
  });

  test("cancel and SIGTERM complete while a runner holds a job and says nothing", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/mute.yml": `name: Mute
on: workflow_dispatch
jobs:
  held:
    runs-on: [mute]
    steps:
      - run: echo never
  cleanup:
    needs: held
    if: always()
    runs-on: [no-runner-has-this]
    steps:
      - run: echo cleanup
`,
    });
    const server = await h.startServer({ args: ["--local-runners", "0", "--shutdown-grace", "2"] });
    await addRepo(server, repo, name);
    const reg = await register(server, "mute", ["mute"]);
    const id = await dispatchRun(server, name, "mute.yml");
    await waitForJobStatus(server, id, "held", "queued");
    expect((await api(server, "POST", "/api/v1/runner/claim", {}, reg.token)).status).toBe(200);

    const started = Date.now();
    const cancel = await h.cli(server, ["cancel", String(id), "--json"], { timeoutMs: 30_000 });
    expect(cancel.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000);
    const v: RunView = await getRun(server, id);
    expect(jobOf(v, "held").status).toBe("cancelled");

    server.kill("SIGTERM");
    const exited = await Promise.race([server.exited, sleep(40_000).then(() => null)]);
    expect(exited).toEqual({ code: 0, signal: null });
  });
});
