// Environments and their gates on both databases (migration 0110_environments): rules round-trip and
// are audited, a gate opens once per (run, attempt, environment), and a decision is taken once.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";
import type { EnvironmentRules } from "./index.js";

const backends = await testBackends();

const rules: EnvironmentRules = {
  reviewers: ["deployer", "alice"],
  waitTimerS: 300,
  branches: ["main", "release/*"],
  tags: ["v*"],
  allowSelfReview: false,
  vars: { TARGET: "prod" },
};

describe.each(backends)("environments on %s", (backend) => {
  const ctx = useStore(backend);

  async function repoAndRun(name: string) {
    const repo = await ctx.store.repos.create({ name, url: `/${name}` });
    const run = await ctx.store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/d.yml",
      workflowName: "d",
      eventName: "workflow_dispatch",
      event: {},
      sha: "a".repeat(40),
      ref: "refs/heads/main",
      trigger: "dispatch",
    });
    return { repo, run };
  }

  it("rules round-trip, replace on set, are listed by name and removed; each change is audited", async () => {
    const { repo } = await repoAndRun("rules");
    const first = await ctx.store.environments.put({
      repoId: repo.id,
      repo: repo.name,
      name: "production",
      rules,
      actor: "root",
    });
    expect(first.created).toBe(true);
    expect(first.environment).toMatchObject({ name: "production", ...rules, updatedBy: "root" });
    const second = await ctx.store.environments.put({
      repoId: repo.id,
      repo: repo.name,
      name: "production",
      rules: { ...rules, branches: null, tags: null, allowSelfReview: true },
      actor: "root2",
    });
    expect(second.created).toBe(false);
    expect(await ctx.store.environments.get(repo.id, "production")).toMatchObject({
      branches: null,
      tags: null,
      allowSelfReview: true,
      reviewers: ["deployer", "alice"],
      updatedBy: "root2",
    });
    await ctx.store.environments.put({ repoId: repo.id, repo: repo.name, name: "dev", rules, actor: "root" });
    expect((await ctx.store.environments.list(repo.id)).map((e) => e.name)).toEqual(["dev", "production"]);
    expect(
      await ctx.store.environments.remove({ repoId: repo.id, repo: repo.name, name: "dev", actor: "x" }),
    ).toBe(true);
    expect(
      await ctx.store.environments.remove({ repoId: repo.id, repo: repo.name, name: "dev", actor: "x" }),
    ).toBe(false);
    const audit = await ctx.store.audit.list({ actionPrefix: "environment." });
    expect(audit.filter((a) => a.repo === "rules").map((a) => [a.action, a.subject, a.actor])).toEqual([
      ["environment.remove", "dev", "x"],
      ["environment.set", "dev", "root"],
      ["environment.set", "production", "root2"],
      ["environment.set", "production", "root"],
    ]);
  });

  it("a bad environment name is refused before anything is stored", async () => {
    const { repo } = await repoAndRun("names");
    await expect(
      ctx.store.environments.put({
        repoId: repo.id,
        repo: repo.name,
        name: "prod\nuction",
        rules,
        actor: "r",
      }),
    ).rejects.toThrow(/environment name "prod\\nuction" has control or unprintable characters/);
    expect(await ctx.store.environments.list(repo.id)).toEqual([]);
  });

  it("a gate opens once per (run, attempt, environment); it is decided once, and the decision audited", async () => {
    const { repo, run } = await repoAndRun("gates");
    const open = (reviewers: string[]) =>
      ctx.store.environments.openGate({
        runId: run.id,
        attempt: 1,
        environment: "production",
        reviewers,
        allowSelfReview: false,
        waitUntil: 1_000,
        now: 10,
      });
    const gate = await open(["deployer"]);
    expect(gate).toMatchObject({
      status: "pending",
      reviewers: ["deployer"],
      waitUntil: 1_000,
      requestedAt: 10,
    });
    // A second leg (or a restarted server) finds the gate as it was opened.
    expect(await open(["admin"])).toEqual(gate);
    expect(await ctx.store.environments.pendingRunIds()).toContain(run.id);
    const decide = (actor: string) =>
      ctx.store.environments.decide({
        gateId: gate.id,
        status: "rejected",
        actor,
        reason: "not today",
        repo: repo.name,
      });
    const [a, b] = await Promise.all([decide("alice"), decide("carol")]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const decided = (await ctx.store.environments.gates(run.id, 1))[0];
    expect(decided.status).toBe("rejected");
    expect(decided.reason).toBe("not today");
    expect(await ctx.store.environments.pendingRunIds()).not.toContain(run.id);
    const audit = (await ctx.store.audit.list({ action: "environment.reject" })).filter(
      (x) => x.repo === "gates",
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ subject: `run ${run.id}`, env: "production", actor: decided.decidedBy });
  });

  it("an unprotected environment's gate is open from the start; its URL is kept", async () => {
    const { run } = await repoAndRun("open");
    const gate = await ctx.store.environments.openGate({
      runId: run.id,
      attempt: 1,
      environment: "dev",
      reviewers: [],
      allowSelfReview: false,
      waitUntil: null,
      status: "approved",
    });
    expect(gate.status).toBe("approved");
    await ctx.store.environments.setUrl(gate.id, "https://dev.example");
    expect((await ctx.store.environments.gates(run.id))[0].url).toBe("https://dev.example");
    expect(await ctx.store.environments.pendingRunIds()).not.toContain(run.id);
  });
});
