// The gate a job bound for a protected environment waits at, on both databases and with an injected
// clock: the job and the run show `waiting` with what they wait for, the timer lets them go when the
// clock reaches it, a rejection fails the job with the reviewer's reason, a cancel ends the wait.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";
import { waitFor } from "../../test/support/wait.js";
import { CiContext } from "./context.js";
import { EnvironmentGates } from "./environments.js";

const backends = await testBackends();

describe.each(backends)("environment gates on %s", (backend) => {
  const ctx = useStore(backend);

  async function waitingJob(repoName: string, reviewers: string[], waitUntil: number | null) {
    const store = ctx.store;
    const repo = await store.repos.create({ name: repoName, url: `/${repoName}` });
    const created = await store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/d.yml",
      workflowName: "d",
      eventName: "workflow_dispatch",
      event: { payload: { sender: { login: "ci" } } },
      sha: "a".repeat(40),
      ref: "refs/heads/main",
      trigger: "dispatch",
    });
    await store.runs.update(created.id, { status: "running" });
    const run = (await store.runs.get(created.id))!;
    const [job] = await store.jobs.insertMany(run.id, 1, [
      { jobKey: "deploy", jobId: "deploy", name: "deploy" },
    ]);
    const gate = await store.environments.openGate({
      runId: run.id,
      attempt: 1,
      environment: "production",
      reviewers,
      allowSelfReview: false,
      waitUntil,
    });
    return { repo, run, job, gate };
  }

  it("a wait timer holds the job until the clock reaches it, then lets it go by itself", async () => {
    let now = 1_000;
    const gates = new EnvironmentGates(
      new CiContext({ store: ctx.store, dataDir: "/nonexistent" }),
      () => now,
    );
    const { run, job, gate } = await waitingJob("timer", [], 61_000);
    const passed = gates.pass(run, gate, job, new AbortController().signal);
    await waitFor("the run to wait", async () => (await ctx.store.runs.get(run.id))?.status === "waiting");
    expect((await ctx.store.jobs.get(job.id))?.reason).toBe(
      "waiting for environment production: its wait timer (until 1970-01-01T00:01:01.000Z)",
    );
    now = 61_000;
    expect(await passed).toEqual({ status: "approved" });
    expect((await ctx.store.environments.gates(run.id))[0]).toMatchObject({
      status: "approved",
      decidedBy: "wait timer",
    });
    expect((await ctx.store.runs.get(run.id))?.status).toBe("running");
    // The timer's decision is nobody's approval: nothing is audited for it.
    const audit = await ctx.store.audit.list({ actionPrefix: "environment.", subject: `run ${run.id}` });
    expect(audit).toEqual([]);
  });

  it("a rejection fails the waiting job with the reviewer's reason; the run records it", async () => {
    const gates = new EnvironmentGates(new CiContext({ store: ctx.store, dataDir: "/nonexistent" }), () => 0);
    const { repo, run, job, gate } = await waitingJob("reject", ["deployer"], null);
    const passed = gates.pass(run, gate, job, new AbortController().signal);
    await waitFor("the run to wait", async () => (await ctx.store.runs.get(run.id))?.status === "waiting");
    await expect(
      gates.decide(run, repo, { name: "bob", role: "developer" }, "reject", { reason: "no" }),
    ).rejects.toThrow("production requires approval by role deployer; you are bob (developer)");
    await gates.decide(run, repo, { name: "alice", role: "deployer" }, "reject", { reason: "change freeze" });
    expect(await passed).toEqual({
      status: "failure",
      reason: "environment production: rejected by alice: change freeze",
    });
    expect((await ctx.store.runs.get(run.id))?.reason).toBe(
      "environment production rejected by alice: change freeze",
    );
  });

  it("cancelling ends the wait and closes the gate", async () => {
    const gates = new EnvironmentGates(new CiContext({ store: ctx.store, dataDir: "/nonexistent" }), () => 0);
    const { run, job, gate } = await waitingJob("cancel", ["deployer"], null);
    const controller = new AbortController();
    const passed = gates.pass(run, gate, job, controller.signal);
    await waitFor("the run to wait", async () => (await ctx.store.runs.get(run.id))?.status === "waiting");
    await gates.cancelGates(run.id);
    controller.abort();
    expect(await passed).toEqual({ status: "cancelled", reason: "the run was cancelled" });
    expect((await ctx.store.environments.pendingRunIds()).includes(run.id)).toBe(false);
  });

  it("an approval without --env decides the gates with reviewers and leaves a timer's gate to its timer", async () => {
    const gates = new EnvironmentGates(new CiContext({ store: ctx.store, dataDir: "/nonexistent" }), () => 0);
    const { repo, run } = await waitingJob("two-gates", ["deployer"], null);
    await ctx.store.environments.openGate({
      runId: run.id,
      attempt: 1,
      environment: "staging",
      reviewers: [],
      allowSelfReview: false,
      waitUntil: 60_000,
    });
    const decided = await gates.decide(run, repo, { name: "alice", role: "deployer" }, "approve", {});
    expect(decided.map((g) => g.environment)).toEqual(["production"]);
    const byEnv = Object.fromEntries(
      (await ctx.store.environments.gates(run.id)).map((g) => [g.environment, g.status]),
    );
    expect(byEnv).toEqual({ production: "approved", staging: "pending" });
    // Named, the timer's gate is still no one's to approve.
    await expect(
      gates.decide(run, repo, { name: "alice", role: "deployer" }, "approve", { env: "staging" }),
    ).rejects.toThrow("staging has no required reviewers: its jobs wait only for its timer");
  });
});
