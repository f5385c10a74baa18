// The fork policy of a repository and the fork flag and `waiting` status of a run, on both databases
// (migration 0101_fork_policy).
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { parseForkPolicy } from "./index.js";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();

describe.each(backends)("fork policy on %s", (backend) => {
  const ctx = useStore(backend);

  it("a repository withholds secrets from forks by default; the policy can be set and changed", async () => {
    const plain = await ctx.store.repos.create({ name: "plain", url: "/x" });
    expect(plain.forkPullRequests).toBe("run-without-secrets");
    const strict = await ctx.store.repos.create({ name: "strict", url: "/y", forkPullRequests: "off" });
    expect((await ctx.store.repos.get(strict.id))?.forkPullRequests).toBe("off");
    await ctx.store.repos.update(plain.id, { forkPullRequests: "require-approval" });
    expect((await ctx.store.repos.getByName("plain"))?.forkPullRequests).toBe("require-approval");
  });

  it("a bad policy is a UserError that shows it, and nothing changes", async () => {
    const repo = await ctx.store.repos.create({ name: "kept", url: "/z" });
    const err = await ctx.store.repos
      .update(repo.id, { forkPullRequests: "sometimes" as never })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      'invalid fork pull request policy "sometimes": use one of run-without-secrets, require-approval, off',
    );
    expect((await ctx.store.repos.get(repo.id))?.forkPullRequests).toBe("run-without-secrets");
    await expect(
      ctx.store.repos.create({ name: "never", url: "/w", forkPullRequests: "never" as never }),
    ).rejects.toThrow(UserError);
    expect(await ctx.store.repos.getByName("never")).toBeNull();
    expect(() => parseForkPolicy(42)).toThrow(/invalid fork pull request policy 42/);
  });

  it("a run records whether it is a fork's, and can wait for approval", async () => {
    const repo = await ctx.store.repos.create({ name: "runs", url: "/r" });
    const base = {
      repoId: repo.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "CI",
      eventName: "pull_request",
      event: {},
      sha: "a".repeat(40),
      ref: "refs/pull/1/merge",
      trigger: "webhook" as const,
    };
    const own = await ctx.store.runs.create(base);
    expect(own.fork).toBe(false);
    const fork = await ctx.store.runs.create({ ...base, fork: true, status: "waiting", reason: "waiting" });
    expect(await ctx.store.runs.get(fork.id)).toMatchObject({ fork: true, status: "waiting" });
    expect((await ctx.store.runs.list({ status: "waiting" })).map((r) => r.id)).toEqual([fork.id]);
    // Approving is a compare-and-set: only a waiting run moves on, once.
    expect(await ctx.store.runs.update(fork.id, { status: "queued" }, { ifStatus: ["waiting"] })).toBe(true);
    expect(await ctx.store.runs.update(fork.id, { status: "queued" }, { ifStatus: ["waiting"] })).toBe(false);
  });
});
