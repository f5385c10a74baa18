// The RunEvent of a finished server run: jobs with their statuses and durations (matrix legs under one
// name), branch, version, the pull request from a pull_request payload or a pushed merge/squash commit,
// and the previous conclusion that makes `run.fixed` — read from a real store.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTypesOf } from "../notify/index.js";
import { type Job, openStore, type Run, type Store } from "../store/index.js";
import { createTestDatabase, type TestDatabase } from "../store/testing.js";
import { branchOf, jobSummaries, previousConclusion, pullRequestOfRun, runEventOf } from "./run-event.js";

function run(over: Partial<Run> = {}): Run {
  return {
    id: 7,
    repoId: 1,
    number: 3,
    workflowFile: ".github/workflows/ci.yml",
    workflowName: "CI",
    eventName: "push",
    event: { payload: {}, changedFiles: null },
    sha: "a".repeat(40),
    ref: "refs/heads/main",
    trigger: "webhook",
    pullRequest: null,
    status: "completed",
    conclusion: "failure",
    attempt: 1,
    concurrencyGroup: null,
    reason: null,
    createdAt: 1_000,
    startedAt: 2_000,
    finishedAt: 9_000,
    deliveryId: null,
    fork: false,
    ...over,
  };
}

function job(over: Partial<Job>): Job {
  return {
    id: 1,
    runId: 7,
    attempt: 1,
    jobKey: "build",
    jobId: "build",
    name: "build",
    matrix: null,
    labels: [],
    status: "success",
    outputs: {},
    spec: null,
    runnerId: null,
    leaseExpiresAt: null,
    heartbeatAt: null,
    claimedAt: null,
    startedAt: 2_000,
    finishedAt: 5_000,
    reason: null,
    finishedBy: null,
    reusedFrom: null,
    createdAt: 1_000,
    ...over,
  };
}

describe("runEventOf", () => {
  it("lists every leg with status and duration; matrix legs share their job's name", () => {
    const jobs = [
      job({ jobKey: "lint", name: "Lint" }),
      job({ jobKey: "test", name: "Test (18, linux)", matrix: { node: 18, os: "linux" }, status: "failure" }),
      job({
        jobKey: "test-2",
        name: "Test (20, linux)",
        matrix: { node: 20, os: "linux" },
        finishedAt: 8_000,
      }),
      job({ jobKey: "deploy", name: "Deploy", status: "skipped", startedAt: null, finishedAt: null }),
      job({ jobKey: "late", name: "Late", status: "queued", startedAt: null, finishedAt: null }),
    ];
    expect(jobSummaries(jobs)).toEqual([
      { name: "Lint", matrix: null, status: "success", durationMs: 3000 },
      { name: "Test", matrix: { node: 18, os: "linux" }, status: "failure", durationMs: 3000 },
      { name: "Test", matrix: { node: 20, os: "linux" }, status: "success", durationMs: 6000 },
      { name: "Deploy", matrix: null, status: "skipped" },
      { name: "Late", matrix: null, status: "cancelled" },
    ]);
  });

  it("carries repository, branch, sha, workflow, version, link and times", () => {
    const event = runEventOf({
      run: run({ ref: "refs/tags/v1.4.0", eventName: "push" }),
      repository: "acme/app",
      jobs: [job({ outputs: { version: "1.4.0" } })],
      commit: { message: "Release 1.4.0", author: "Ann" },
      previousConclusion: null,
      runUrl: "https://ci.example.test/api/v1/runs/7",
    });
    expect(event).toMatchObject({
      kind: "run",
      id: "run-7-1",
      repository: "acme/app",
      workflow: "CI",
      runNumber: 3,
      runAttempt: 1,
      trigger: "push",
      sha: "a".repeat(40),
      version: "1.4.0",
      commitMessage: "Release 1.4.0",
      author: "Ann",
      conclusion: "failure",
      previousConclusion: null,
      runUrl: "https://ci.example.test/api/v1/runs/7",
      startedAt: 2_000,
      finishedAt: 9_000,
    });
    expect(event.branch).toBeUndefined();
    expect(
      runEventOf({ run: run({ ref: "refs/tags/v2" }), repository: "a/b", jobs: [], previousConclusion: null })
        .version,
    ).toBe("v2");
  });

  it("takes the pull request, its author and merger from a pull_request payload", () => {
    const pr = run({
      eventName: "pull_request",
      ref: "refs/pull/12/merge",
      event: {
        payload: {
          action: "closed",
          number: 12,
          pull_request: {
            number: 12,
            title: "Add <b>bold</b> & more",
            html_url: "https://example.test/acme/app/pull/12",
            user: { login: "ann" },
            merged: true,
            merged_by: { login: "bob" },
            head: { ref: "feature/x" },
          },
        },
      },
    });
    expect(branchOf(pr)).toBe("feature/x");
    expect(pullRequestOfRun(pr)).toEqual({
      number: 12,
      title: "Add <b>bold</b> & more",
      url: "https://example.test/acme/app/pull/12",
      author: "ann",
      merger: "bob",
    });
    expect(runEventOf({ run: pr, repository: "acme/app", jobs: [], previousConclusion: null }).author).toBe(
      "ann",
    );
  });

  it("reads the pull request of a pushed merge or squash commit, with the pusher as merger", () => {
    const push = (message: string) =>
      run({
        event: {
          payload: {
            head_commit: { message, author: { name: "Ann A", username: "ann" } },
            sender: { login: "bob" },
            repository: { html_url: "https://example.test/acme/app" },
          },
        },
      });
    expect(pullRequestOfRun(push("Merge pull request #31 from ann/feature\n\nFaster builds\n"))).toEqual({
      number: 31,
      title: "Faster builds",
      url: "https://example.test/acme/app/pull/31",
      merger: "bob",
    });
    expect(pullRequestOfRun(push("Faster builds (#32)\n\n* one\n* two"))).toEqual({
      number: 32,
      title: "Faster builds",
      url: "https://example.test/acme/app/pull/32",
      author: "ann",
      merger: "bob",
    });
    expect(pullRequestOfRun(push("Just a commit"))).toBeUndefined();
  });
});

describe("previousConclusion", () => {
  let tdb: TestDatabase;
  let store: Store;
  let repoId: number;
  beforeAll(async () => {
    tdb = await createTestDatabase("sqlite");
    store = await openStore({ url: tdb.url, dataDir: tdb.dataDir });
    repoId = (await store.repos.create({ name: "acme/app", url: "/nowhere" })).id;
  });
  afterAll(async () => {
    await store?.close();
    await tdb?.drop();
  });

  async function finished(
    conclusion: "success" | "failure" | "cancelled",
    over: { ref?: string; workflowFile?: string } = {},
  ): Promise<Run> {
    const r = await store.runs.create({
      repoId,
      workflowFile: over.workflowFile ?? "ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: { payload: {} },
      sha: "b".repeat(40),
      ref: over.ref ?? "refs/heads/main",
      trigger: "webhook",
    });
    await store.runs.update(r.id, { status: "completed", conclusion, finishedAt: Date.now() });
    return (await store.runs.get(r.id))!;
  }

  it("is the latest finished run of the same workflow on the same branch, else null", async () => {
    const first = await finished("success");
    expect(await previousConclusion(store, first)).toBeNull();
    await finished("failure");
    await finished("success", { ref: "refs/heads/other" });
    await finished("success", { workflowFile: "other.yml" });
    const green = await finished("success");
    expect(await previousConclusion(store, green)).toBe("failure");
    const event = runEventOf({ run: green, repository: "acme/app", jobs: [], previousConclusion: "failure" });
    expect(eventTypesOf(event)).toEqual(["run.completed", "run.fixed"]);
    const again = await finished("success");
    expect(await previousConclusion(store, again)).toBe("success");
    const cancelled = await finished("cancelled", { ref: "refs/heads/c" });
    const afterCancel = await finished("success", { ref: "refs/heads/c" });
    expect(await previousConclusion(store, afterCancel)).toBe("cancelled");
    expect(eventTypesOf({ ...event, previousConclusion: "cancelled" })).toContain("run.fixed");
    expect(cancelled.conclusion).toBe("cancelled");
  });

  it("for a re-run, is how the previous attempt ended", async () => {
    const r = await finished("failure", { ref: "refs/heads/rerun" });
    await store.jobs.insertMany(r.id, 1, [
      { jobKey: "a", jobId: "a", name: "a", status: "success" },
      { jobKey: "b", jobId: "b", name: "b", status: "failure" },
    ]);
    const attempt = await store.runs.startAttempt(r.id);
    await store.runs.update(r.id, { status: "completed", conclusion: "success" });
    const rerun = (await store.runs.get(r.id))!;
    expect(attempt).toBe(2);
    expect(await previousConclusion(store, rerun)).toBe("failure");
  });
});
