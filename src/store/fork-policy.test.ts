// The fork policy of a repository and the fork flag and `waiting` status of a run, on both databases
// (migration 0101_fork_policy).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { openStore, parseForkPolicy, type Store } from "./index.js";
import { createTestDatabase, type TestDatabase, testBackends } from "./testing.js";

const backends = await testBackends();

describe.each(backends)("fork policy on %s", (backend) => {
  let tdb: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    tdb = await createTestDatabase(backend);
    store = await openStore({ url: tdb.url, dataDir: tdb.dataDir });
  });
  afterAll(async () => {
    await store?.close();
    await tdb?.drop();
  });

  it("a repository withholds secrets from forks by default; the policy can be set and changed", async () => {
    const plain = await store.repos.create({ name: "plain", url: "/x" });
    expect(plain.forkPullRequests).toBe("run-without-secrets");
    const strict = await store.repos.create({ name: "strict", url: "/y", forkPullRequests: "off" });
    expect((await store.repos.get(strict.id))?.forkPullRequests).toBe("off");
    await store.repos.update(plain.id, { forkPullRequests: "require-approval" });
    expect((await store.repos.getByName("plain"))?.forkPullRequests).toBe("require-approval");
  });

  it("a bad policy is a UserError that shows it, and nothing changes", async () => {
    const repo = await store.repos.create({ name: "kept", url: "/z" });
    const err = await store.repos
      .update(repo.id, { forkPullRequests: "sometimes" as never })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      'invalid fork pull request policy "sometimes": use one of run-without-secrets, require-approval, off',
    );
    expect((await store.repos.get(repo.id))?.forkPullRequests).toBe("run-without-secrets");
    await expect(
      store.repos.create({ name: "never", url: "/w", forkPullRequests: "never" as never }),
    ).rejects.toThrow(UserError);
    expect(await store.repos.getByName("never")).toBeNull();
    expect(() => parseForkPolicy(42)).toThrow(/invalid fork pull request policy 42/);
  });

  it("a run records whether it is a fork's, and can wait for approval", async () => {
    const repo = await store.repos.create({ name: "runs", url: "/r" });
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
    const own = await store.runs.create(base);
    expect(own.fork).toBe(false);
    const fork = await store.runs.create({ ...base, fork: true, status: "waiting", reason: "waiting" });
    expect(await store.runs.get(fork.id)).toMatchObject({ fork: true, status: "waiting" });
    expect((await store.runs.list({ status: "waiting" })).map((r) => r.id)).toEqual([fork.id]);
    // Approving is a compare-and-set: only a waiting run moves on, once.
    expect(await store.runs.update(fork.id, { status: "queued" }, { ifStatus: ["waiting"] })).toBe(true);
    expect(await store.runs.update(fork.id, { status: "queued" }, { ifStatus: ["waiting"] })).toBe(false);
  });
});
