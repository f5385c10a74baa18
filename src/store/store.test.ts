// The store's operations, the same suite on SQLite and on PostgreSQL.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { type JobInput, roleAllows } from "./index.js";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();

describe.each(backends)("store on %s", (backend) => {
  const ctx = useStore(backend);

  let unique = 0;
  const next = (prefix: string) => `${prefix}-${++unique}`;
  const newRepo = () => ctx.store.repos.create({ name: next("repo"), url: "https://example.com/x.git" });
  const runInput = (repoId: number) => ({
    repoId,
    workflowFile: ".github/workflows/ci.yml",
    workflowName: "CI",
    eventName: "push",
    event: { ref: "refs/heads/main", commits: [{ id: "abc" }] },
    sha: "abc123",
    ref: "refs/heads/main",
    trigger: "webhook" as const,
  });
  const leg = (key: string, labels: string[], status: JobInput["status"] = "queued"): JobInput => ({
    jobKey: key,
    jobId: key.replace(/-\d+$/, ""),
    name: key,
    labels,
    status,
    spec: { steps: [{ run: "echo hi" }] },
  });
  /** A run with queued legs, each carrying a label unique to the calling test. */
  async function queued(n: number, labels: string[]) {
    const repo = await newRepo();
    const run = await ctx.store.runs.create(runInput(repo.id));
    const jobs = await ctx.store.jobs.insertMany(
      run.id,
      1,
      Array.from({ length: n }, (_, i) => leg(`build-${i + 1}`, labels)),
    );
    return { repo, run, jobs };
  }

  describe("repos", () => {
    it("creates, reads, updates and deletes; a duplicate name is a UserError", async () => {
      const repo = await ctx.store.repos.create({
        name: "svc",
        url: "/srv/svc",
        branch: "trunk",
        webhookSecret: "s3cret",
        pollIntervalS: 60,
        now: 1000,
      });
      expect(repo).toMatchObject({ name: "svc", branch: "trunk", pollIntervalS: 60, createdAt: 1000 });
      expect(repo).not.toHaveProperty("webhookSecret");
      expect(await ctx.store.repos.webhookSecret(repo.id)).toBe("s3cret");
      await expect(ctx.store.repos.create({ name: "svc", url: "/elsewhere" })).rejects.toThrow(UserError);
      await expect(ctx.store.repos.create({ name: "svc", url: "/elsewhere" })).rejects.toThrow(
        /already exists/,
      );

      expect(
        await ctx.store.repos.update(repo.id, { lastPolledAt: 5000, lastSeenSha: "def", mirrorPath: "/m" }),
      ).toBe(true);
      expect(await ctx.store.repos.getByName("svc")).toMatchObject({
        lastPolledAt: 5000,
        lastSeenSha: "def",
        mirrorPath: "/m",
      });
      expect(await ctx.store.repos.update(999_999, { lastSeenSha: "x" })).toBe(false);
      expect((await ctx.store.repos.list()).map((r) => r.name)).toContain("svc");

      const run = await ctx.store.runs.create(runInput(repo.id));
      expect(await ctx.store.repos.delete(repo.id)).toBe(true);
      expect(await ctx.store.repos.get(repo.id)).toBeNull();
      expect(await ctx.store.runs.get(run.id)).toBeNull();
    });
  });

  describe("runs", () => {
    it("round-trips a run and its event payload", async () => {
      const repo = await newRepo();
      const run = await ctx.store.runs.create({
        ...runInput(repo.id),
        eventName: "pull_request",
        pullRequest: { number: 7, title: "Fix", author: "ada", url: "https://x/pull/7" },
        concurrencyGroup: "ci-main",
        deliveryId: "d-1",
        now: 42,
      });
      expect(run).toMatchObject({
        number: 1,
        status: "queued",
        conclusion: null,
        attempt: 1,
        createdAt: 42,
        pullRequest: { number: 7, title: "Fix", author: "ada" },
        concurrencyGroup: "ci-main",
        deliveryId: "d-1",
      });
      expect(await ctx.store.runs.get(run.id)).toEqual(run);
      expect((await ctx.store.runs.getByNumber(repo.id, 1))?.event).toEqual({
        ref: "refs/heads/main",
        commits: [{ id: "abc" }],
      });
      await expect(ctx.store.runs.create(runInput(999_999))).rejects.toThrow(/no repository/);
    });

    it("gives 20 concurrent creates the numbers 1..20", async () => {
      const repo = await newRepo();
      const runs = await Promise.all(
        Array.from({ length: 20 }, () => ctx.store.runs.create(runInput(repo.id))),
      );
      expect(runs.map((r) => r.number).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    it("gives distinct numbers when two store instances create at once", async () => {
      const other = await ctx.open();
      try {
        const repo = await newRepo();
        const runs = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? ctx.store : other).runs.create(runInput(repo.id))),
        );
        expect(new Set(runs.map((r) => r.number)).size).toBe(20);
        expect(Math.max(...runs.map((r) => r.number))).toBe(20);
      } finally {
        await other.close();
      }
    });

    it("lists newest first, filtered, a page at a time", async () => {
      const repo = await newRepo();
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await ctx.store.runs.create(runInput(repo.id)));
      await ctx.store.runs.update(made[1].id, { status: "completed", conclusion: "success", finishedAt: 9 });
      const page1 = await ctx.store.runs.list({ repoId: repo.id, limit: 2 });
      expect(page1.map((r) => r.number)).toEqual([5, 4]);
      const page2 = await ctx.store.runs.list({ repoId: repo.id, limit: 2, before: page1[1].id });
      expect(page2.map((r) => r.number)).toEqual([3, 2]);
      expect(
        (await ctx.store.runs.list({ repoId: repo.id, status: "completed" })).map((r) => r.number),
      ).toEqual([2]);
      expect((await ctx.store.runs.list({ repoId: repo.id, status: ["queued", "running"] })).length).toBe(4);
      expect(await ctx.store.runs.list({ repoId: repo.id, status: [] })).toEqual([]);
    });

    it("updates with a compare-and-set on status", async () => {
      const repo = await newRepo();
      const run = await ctx.store.runs.create(runInput(repo.id));
      expect(
        await ctx.store.runs.update(run.id, { status: "running", startedAt: 5 }, { ifStatus: ["queued"] }),
      ).toBe(true);
      expect(await ctx.store.runs.update(run.id, { status: "running" }, { ifStatus: ["queued"] })).toBe(
        false,
      );
      const finish = () =>
        ctx.store.runs.update(
          run.id,
          { status: "completed", conclusion: "failure" },
          { ifStatus: ["queued", "running"] },
        );
      expect((await Promise.all([finish(), finish(), finish()])).filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.runs.get(run.id)).toMatchObject({
        status: "completed",
        conclusion: "failure",
        startedAt: 5,
      });
    });

    it("starts a new attempt only of a completed run, once under racing re-runs", async () => {
      const repo = await newRepo();
      const run = await ctx.store.runs.create(runInput(repo.id));
      expect(await ctx.store.runs.startAttempt(run.id)).toBeNull();
      await ctx.store.runs.update(run.id, {
        status: "completed",
        conclusion: "failure",
        reason: "x",
        finishedAt: 3,
      });
      const results = await Promise.all([1, 2, 3, 4].map(() => ctx.store.runs.startAttempt(run.id)));
      expect(results.filter((r) => r !== null)).toEqual([2]);
      expect(await ctx.store.runs.get(run.id)).toMatchObject({
        attempt: 2,
        status: "queued",
        conclusion: null,
        reason: null,
        finishedAt: null,
      });
    });
  });

  describe("transactions", () => {
    it("records a delivery, creates the run and its jobs together, or none of them", async () => {
      const repo = await newRepo();
      const deliver = (fail: boolean) =>
        ctx.store.transaction(async (tx) => {
          if (
            !(await tx.deliveries.record({
              provider: "github",
              deliveryId: "tx-1",
              event: "push",
              repoId: repo.id,
            }))
          ) {
            return null;
          }
          const run = await tx.runs.create(runInput(repo.id));
          await tx.jobs.insertMany(run.id, 1, [leg("a-1", ["tx"]), leg("b-1", ["tx"], "waiting")]);
          await tx.deliveries.setRuns("github", "tx-1", [run.id]);
          if (fail) throw new Error("boom");
          return run;
        });
      await expect(deliver(true)).rejects.toThrow("boom");
      expect(await ctx.store.deliveries.get("github", "tx-1")).toBeNull();
      expect(await ctx.store.runs.list({ repoId: repo.id })).toEqual([]);

      const run = await deliver(false);
      expect(run?.number).toBe(1); // the rolled-back number was given back
      expect((await ctx.store.jobs.list(run!.id)).map((j) => j.jobKey)).toEqual(["a-1", "b-1"]);
      expect(await ctx.store.deliveries.get("github", "tx-1")).toMatchObject({
        runIds: [run!.id],
        repoId: repo.id,
      });
      expect(await deliver(false)).toBeNull(); // the redelivery starts nothing
      expect(await ctx.store.runs.list({ repoId: repo.id })).toHaveLength(1);
    });

    it("records each delivery id once, also when redeliveries race", async () => {
      const record = () =>
        ctx.store.deliveries.record({ provider: "github", deliveryId: "race-1", event: "push" });
      expect((await Promise.all(Array.from({ length: 10 }, record))).filter(Boolean)).toHaveLength(1);
      expect(await record()).toBe(false);
      expect(
        await ctx.store.deliveries.record({ provider: "gitea", deliveryId: "race-1", event: "push" }),
      ).toBe(true);
    });
  });

  describe("jobs", () => {
    it("inserts legs and lists them by run and attempt", async () => {
      const repo = await newRepo();
      const run = await ctx.store.runs.create(runInput(repo.id));
      const [a] = await ctx.store.jobs.insertMany(run.id, 1, [
        { ...leg("test-1", ["linux"]), matrix: { node: 20 } },
        leg("deploy", [], "waiting"),
      ]);
      expect(a).toMatchObject({ jobKey: "test-1", jobId: "test", matrix: { node: 20 }, labels: ["linux"] });
      expect(a.spec).toEqual({ steps: [{ run: "echo hi" }] });
      await ctx.store.runs.update(run.id, { status: "completed", conclusion: "failure" });
      await ctx.store.runs.startAttempt(run.id);
      await ctx.store.jobs.insertMany(run.id, 2, [
        { ...leg("test-1", ["linux"]), reusedFrom: a.id, status: "success" },
      ]);
      expect((await ctx.store.jobs.list(run.id)).length).toBe(3);
      expect((await ctx.store.jobs.list(run.id, 2)).map((j) => [j.jobKey, j.reusedFrom])).toEqual([
        ["test-1", a.id],
      ]);
      await expect(ctx.store.jobs.insertMany(run.id, 2, [leg("test-1", [])])).rejects.toThrow();

      expect(
        await ctx.store.jobs.update(
          a.id,
          { status: "skipped", reason: "if: false" },
          { ifStatus: ["waiting"] },
        ),
      ).toBe(false);
      expect(await ctx.store.jobs.update(a.id, { outputs: { v: "1" } })).toBe(true);
      expect((await ctx.store.jobs.get(a.id))?.outputs).toEqual({ v: "1" });
    });

    it("lets exactly one of 10 racing claimers (two store instances) take each of 5 jobs", async () => {
      const label = next("race");
      const { jobs } = await queued(5, [label]);
      const other = await ctx.open();
      try {
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? ctx.store : other).jobs.claim({ runnerId: `r${i}`, labels: [label], leaseMs: 60_000 }),
          ),
        );
        const won = claims.filter((c) => c !== null);
        expect(won).toHaveLength(5);
        expect(new Set(won.map((c) => c!.id))).toEqual(new Set(jobs.map((j) => j.id)));
        for (const c of won) {
          const row = await ctx.store.jobs.get(c!.id);
          expect(row).toMatchObject({ status: "running", runnerId: c!.runnerId });
        }
      } finally {
        await other.close();
      }
    });

    it("claims the oldest queued job whose labels the runner all has (case-insensitively)", async () => {
      const t = next("lbl");
      const repo = await newRepo();
      const run = await ctx.store.runs.create(runInput(repo.id));
      const [gpu, plain, waiting] = await ctx.store.jobs.insertMany(run.id, 1, [
        leg("gpu", [t, "gpu"]),
        leg("plain", [t]),
        leg("later", [t], "waiting"),
      ]);
      expect(await ctx.store.jobs.claim({ runnerId: "x", labels: ["other"], leaseMs: 1000 })).toBeNull();
      expect((await ctx.store.jobs.claim({ runnerId: "a", labels: [t], leaseMs: 1000 }))?.id).toBe(plain.id);
      expect(await ctx.store.jobs.claim({ runnerId: "a", labels: [t], leaseMs: 1000 })).toBeNull();
      const got = await ctx.store.jobs.claim({
        runnerId: "b",
        labels: ["GPU", t.toUpperCase(), "extra"],
        leaseMs: 1000,
      });
      expect(got?.id).toBe(gpu.id);
      expect(await ctx.store.jobs.update(waiting.id, { status: "queued" }, { ifStatus: ["waiting"] })).toBe(
        true,
      );
      expect((await ctx.store.jobs.claim({ runnerId: "c", labels: [t], leaseMs: 1000 }))?.id).toBe(
        waiting.id,
      );
    });

    it("extends a lease only for its owner and fails the job when the lease runs out", async () => {
      const { runner } = await ctx.store.runners.register({ name: "builder-7", labels: ["lease"] });
      const label = next("lease");
      const { jobs } = await queued(1, [label]);
      const t = 1_700_000_000_000;
      const job = await ctx.store.jobs.claim({ runnerId: runner.id, labels: [label], leaseMs: 1000, now: t });
      expect(job).toMatchObject({ id: jobs[0].id, leaseExpiresAt: t + 1000, claimedAt: t });
      expect(await ctx.store.jobs.heartbeat(job!.id, "someone-else", 1000, t + 500)).toBe(false);
      expect(await ctx.store.jobs.heartbeat(job!.id, runner.id, 1000, t + 500)).toBe(true);
      expect(await ctx.store.jobs.expireLeases(t + 1400)).toEqual([]);
      const expired = await ctx.store.jobs.expireLeases(t + 1600);
      expect(expired.map((j) => j.id)).toEqual([job!.id]);
      expect(expired[0]).toMatchObject({
        status: "failure",
        finishedBy: "lease-expired",
        finishedAt: t + 1600,
      });
      expect(expired[0].reason).toBe(
        `runner builder-7 (${runner.id}) stopped heartbeating at ${new Date(t + 500).toISOString()}`,
      );
      expect(await ctx.store.jobs.expireLeases(t + 5000)).toEqual([]);
      expect(await ctx.store.jobs.heartbeat(job!.id, runner.id, 1000, t + 1700)).toBe(false);
      expect(await ctx.store.jobs.complete(job!.id, runner.id, { status: "failure" })).toBe(false);
      expect(await ctx.store.jobs.complete(job!.id, runner.id, { status: "success" })).toBe(false);
    });

    it("completes once; a retried identical completion is fine; one after a cancel is refused", async () => {
      const label = next("done");
      await queued(2, [label]);
      const a = (await ctx.store.jobs.claim({ runnerId: "r", labels: [label], leaseMs: 60_000 }))!;
      const b = (await ctx.store.jobs.claim({ runnerId: "r", labels: [label], leaseMs: 60_000 }))!;
      const result = { status: "success" as const, outputs: { version: "1.2.3" } };
      expect(await ctx.store.jobs.complete(a.id, "intruder", result)).toBe(false);
      expect(await ctx.store.jobs.complete(a.id, "r", result)).toBe(true);
      expect(await ctx.store.jobs.complete(a.id, "r", result)).toBe(true);
      expect(await ctx.store.jobs.complete(a.id, "r", { status: "failure" })).toBe(false);
      expect(await ctx.store.jobs.get(a.id)).toMatchObject({
        status: "success",
        outputs: { version: "1.2.3" },
      });

      expect(await ctx.store.jobs.cancel(b.id, "cancelled by ada")).toBe(true);
      expect(await ctx.store.jobs.heartbeat(b.id, "r", 60_000)).toBe(false);
      expect(await ctx.store.jobs.complete(b.id, "r", { status: "success" })).toBe(false);
      expect(await ctx.store.jobs.complete(b.id, "r", { status: "cancelled" })).toBe(false);
      expect(await ctx.store.jobs.get(b.id)).toMatchObject({
        status: "cancelled",
        reason: "cancelled by ada",
      });
      expect(await ctx.store.jobs.cancel(a.id, "too late")).toBe(false);
    });

    it("cancels a run's unfinished jobs and reports which were running", async () => {
      const label = next("cancel");
      const { run, jobs } = await queued(3, [label]);
      await ctx.store.jobs.claim({ runnerId: "r", labels: [label], leaseMs: 60_000 });
      await ctx.store.jobs.update(jobs[2].id, { status: "success" });
      const cancelled = await ctx.store.jobs.cancelRun(run.id, { reason: "superseded", attempt: 1 });
      expect(cancelled.map((j) => [j.id, j.runnerId])).toEqual([
        [jobs[0].id, "r"],
        [jobs[1].id, null],
      ]);
      expect((await ctx.store.jobs.list(run.id)).map((j) => j.status)).toEqual([
        "cancelled",
        "cancelled",
        "success",
      ]);
    });

    it("after a crash, fails the local runner's in-flight jobs and leaves remote ones leased", async () => {
      const label = next("crash");
      await queued(3, [label]);
      const local = (await ctx.store.jobs.claim({ runnerId: "local", labels: [label], leaseMs: 60_000 }))!;
      const remote = (await ctx.store.jobs.claim({
        runnerId: "remote-1",
        labels: [label],
        leaseMs: 60_000,
      }))!;
      const recovered = await ctx.store.jobs.recoverAfterCrash({ localRunnerIds: ["local"], now: 77 });
      expect(recovered.map((j) => j.id)).toEqual([local.id]);
      expect(recovered[0]).toMatchObject({
        status: "failure",
        reason: "server restarted while the job was running",
        finishedAt: 77,
        finishedBy: "server-restart",
      });
      expect(await ctx.store.jobs.get(remote.id)).toMatchObject({ status: "running", runnerId: "remote-1" });
      expect(await ctx.store.jobs.complete(local.id, "local", { status: "success" })).toBe(false);
      // The job still queued is claimable again; the failed one is not.
      const again = await ctx.store.jobs.claim({ runnerId: "local", labels: [label], leaseMs: 60_000 });
      expect(again?.id).not.toBe(local.id);
      expect(await ctx.store.jobs.claim({ runnerId: "local", labels: [label], leaseMs: 60_000 })).toBeNull();
      expect(await ctx.store.jobs.recoverAfterCrash({ localRunnerIds: [] })).toEqual([]);
    });
  });

  describe("steps and logs", () => {
    it("upserts steps by (job, idx)", async () => {
      const { jobs } = await queued(1, [next("steps")]);
      const id = jobs[0].id;
      await ctx.store.steps.upsert(id, { idx: 1, stepId: "test", name: "Test", startedAt: 10 });
      await ctx.store.steps.upsert(id, {
        idx: 0,
        stepId: "checkout",
        name: "Checkout",
        outcome: "success",
        conclusion: "success",
      });
      await ctx.store.steps.upsert(id, {
        idx: 1,
        stepId: "test",
        name: "Test",
        outcome: "failure",
        conclusion: "success",
        finishedAt: 20,
      });
      expect(await ctx.store.steps.list(id)).toEqual([
        expect.objectContaining({ idx: 0, stepId: "checkout", outcome: "success" }),
        {
          jobRowId: id,
          idx: 1,
          stepId: "test",
          name: "Test",
          outcome: "failure",
          conclusion: "success",
          startedAt: 10,
          finishedAt: 20,
        },
      ]);
    });

    it("appends chunks idempotently and reads them in seq order", async () => {
      const { run, jobs } = await queued(2, [next("logs")]);
      const [a, b] = jobs;
      expect(await ctx.store.logs.lastSeq(a.id)).toBeNull();
      expect(await ctx.store.logs.append(a.id, 2, "third\n")).toBe(true);
      expect(await ctx.store.logs.append(a.id, 0, "first\n")).toBe(true);
      expect(await ctx.store.logs.append(a.id, 1, "second\n")).toBe(true);
      expect(await ctx.store.logs.append(a.id, 1, "a retry with other text\n")).toBe(false);
      expect(
        await ctx.store.logs.appendMany(a.id, [
          { seq: 2, content: "dup" },
          { seq: 3, content: "nul\u0000byte" },
        ]),
      ).toBe(1);
      expect(await ctx.store.logs.append(b.id, 0, "other job\n")).toBe(true);

      const all = await ctx.store.logs.read(a.id);
      expect(all.map((c) => c.content)).toEqual(["first\n", "second\n", "third\n", "nul\uFFFDbyte"]);
      expect((await ctx.store.logs.read(a.id, { afterSeq: 0, limit: 2 })).map((c) => c.seq)).toEqual([1, 2]);
      expect(await ctx.store.logs.read(a.id, { afterSeq: 3 })).toEqual([]);
      expect(await ctx.store.logs.lastSeq(a.id)).toBe(3);
      expect((await ctx.store.logs.readRun(run.id, 1)).map((c) => `${c.jobKey}:${c.seq}`)).toEqual([
        "build-1:0",
        "build-1:1",
        "build-1:2",
        "build-1:3",
        "build-2:0",
      ]);
    });

    it("keeps every chunk when many are appended concurrently", async () => {
      const { jobs } = await queued(1, [next("many")]);
      const id = jobs[0].id;
      await Promise.all(Array.from({ length: 200 }, (_, i) => ctx.store.logs.append(id, i, `line ${i}\n`)));
      const chunks = await ctx.store.logs.read(id, { limit: 10_000 });
      expect(chunks.map((c) => c.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });
  });

  describe("tokens and runners", () => {
    it("stores only the hash of a token and verifies it", async () => {
      const issued = await ctx.store.tokens.create("ci-bot", "deployer", 1000);
      expect(issued.token).toMatch(/^slw_[A-Za-z0-9_-]{43}$/);
      expect(await ctx.store.tokens.verify(issued.token, 2000)).toEqual({
        id: issued.id,
        name: "ci-bot",
        role: "deployer",
      });
      expect(await ctx.store.tokens.verify(`${issued.token}x`)).toBeNull();
      expect(await ctx.store.tokens.verify("nonsense")).toBeNull();

      const listed = (await ctx.store.tokens.list()).find((t) => t.id === issued.id);
      expect(listed).toEqual({
        id: issued.id,
        name: "ci-bot",
        role: "deployer",
        createdAt: 1000,
        lastUsedAt: 2000,
        revokedAt: null,
      });
      expect(JSON.stringify(await ctx.store.tokens.list())).not.toMatch(/[0-9a-f]{64}/);

      const { runner, token: runnerToken } = await ctx.store.runners.register({
        name: "r",
        labels: ["linux"],
      });
      const rows = JSON.stringify([
        await ctx.store.db.selectFrom("tokens").selectAll().execute(),
        await ctx.store.db.selectFrom("runners").selectAll().execute(),
      ]);
      expect(rows).not.toContain(issued.token);
      expect(rows).not.toContain(issued.token.slice(4));
      expect(rows).not.toContain(runnerToken.slice(5));
      expect(rows).toContain(
        (
          await ctx.store.db
            .selectFrom("tokens")
            .select("hash")
            .where("id", "=", issued.id)
            .executeTakeFirstOrThrow()
        ).hash,
      );
      if (backend === "sqlite") {
        // Nowhere in the database file or its WAL either.
        for (const f of readdirSync(ctx.database.dataDir).filter((n) => n.startsWith("slipway.db"))) {
          const bytes = readFileSync(join(ctx.database.dataDir, f)).toString("latin1");
          expect(bytes.includes(issued.token.slice(4))).toBe(false);
          expect(bytes.includes(runnerToken.slice(5))).toBe(false);
        }
      }
      expect(runner.id).toBeTruthy();

      expect(await ctx.store.tokens.revoke(issued.id, 3000)).toBe(true);
      expect(await ctx.store.tokens.revoke(issued.id)).toBe(false);
      expect(await ctx.store.tokens.verify(issued.token)).toBeNull();
      await expect(ctx.store.tokens.create("x", "root" as never)).rejects.toThrow(/unknown role/);
    });

    it("orders roles", () => {
      expect(roleAllows("admin", "deployer")).toBe(true);
      expect(roleAllows("deployer", "developer")).toBe(true);
      expect(roleAllows("developer", "deployer")).toBe(false);
      expect(roleAllows("viewer", "viewer")).toBe(true);
    });

    it("registers runners and finds them by token", async () => {
      const { runner, token } = await ctx.store.runners.register({
        name: "arm-box",
        labels: ["linux", "arm64"],
        now: 5,
      });
      expect(token).toMatch(/^slwr_/);
      expect(await ctx.store.runners.getByToken(token)).toEqual(runner);
      expect(await ctx.store.runners.getByToken(`${token}x`)).toBeNull();
      expect(await ctx.store.runners.heartbeat(runner.id, 99)).toBe(true);
      expect(await ctx.store.runners.get(runner.id)).toMatchObject({
        labels: ["linux", "arm64"],
        lastHeartbeatAt: 99,
      });
      expect((await ctx.store.runners.list()).map((r) => r.id)).toContain(runner.id);
      expect(await ctx.store.runners.remove(runner.id)).toBe(true);
      expect(await ctx.store.runners.getByToken(token)).toBeNull();
      expect(await ctx.store.runners.heartbeat(runner.id)).toBe(false);
    });
  });
});
