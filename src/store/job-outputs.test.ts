// What a server job leaves besides its log, on SQLite and PostgreSQL: annotations and step summaries,
// and artifact rows with the run's size cap, one live name per run, expiry and the sweep's choices.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";
import { insertTestJob } from "./testing.js";

const backends = await testBackends();

describe.each(backends)("job reports and artifacts on %s", (backend) => {
  const ctx = useStore(backend);

  const newJob = () => insertTestJob(ctx.store);

  it("keeps a job's annotations and summary, replaced by a later report", async () => {
    const job = await newJob();
    const other = await newJob();
    expect((await ctx.store.jobReports.forJobs([job.id])).size).toBe(0);
    await ctx.store.jobReports.put(job.id, {
      annotations: [{ level: "warning", message: "old", file: "a.js", line: 3, col: 1, title: "T" }],
      summary: "# old\n",
    });
    await ctx.store.jobReports.put(job.id, {
      annotations: [
        {
          level: "error",
          message: "bad\u0000thing",
          file: "src/a.ts",
          line: 3,
          endLine: 4,
          col: 2,
          endColumn: 9,
        },
      ],
      summary: "## Results\n| a | b |\n",
    });
    await ctx.store.jobReports.put(other.id, { annotations: [], summary: "" });
    const reports = await ctx.store.jobReports.forJobs([job.id, other.id]);
    expect(reports.get(job.id)).toEqual({
      annotations: [
        {
          level: "error",
          message: "bad\u0000thing",
          file: "src/a.ts",
          line: 3,
          endLine: 4,
          col: 2,
          endColumn: 9,
        },
      ],
      summary: "## Results\n| a | b |\n",
    });
    expect(reports.get(other.id)).toEqual({ annotations: [], summary: "" });
  });

  it("keeps each annotation's step and the environment URL the runner reported; without them a report reads as before", async () => {
    const job = await newJob();
    const empty = await newJob();
    const before = await newJob();
    await ctx.store.jobReports.put(job.id, {
      annotations: [
        { level: "notice", message: "in a step", stepNumber: 3, stepName: "Deploy / Upload" },
        { level: "error", message: "setting up" },
      ],
      summary: "",
      environmentUrl: "https://app.example/pr-7",
    });
    // "" (evaluated to nothing, or held a secret) is a report, unlike no URL at all.
    await ctx.store.jobReports.put(empty.id, { annotations: [], summary: "", environmentUrl: "" });
    // As a report stored before migration 0180 reads: environment_url null, no step on annotations.
    await ctx.store.jobReports.put(before.id, {
      annotations: [{ level: "warning", message: "w" }],
      summary: "s",
    });
    const reports = await ctx.store.jobReports.forJobs([job.id, empty.id, before.id]);
    expect(reports.get(job.id)).toEqual({
      annotations: [
        { level: "notice", message: "in a step", stepNumber: 3, stepName: "Deploy / Upload" },
        { level: "error", message: "setting up" },
      ],
      summary: "",
      environmentUrl: "https://app.example/pr-7",
    });
    expect(reports.get(empty.id)).toEqual({ annotations: [], summary: "", environmentUrl: "" });
    expect(reports.get(before.id)).toEqual({
      annotations: [{ level: "warning", message: "w" }],
      summary: "s",
    });
  });

  const upload = (runId: number, jobRowId: number, name: string, size: number, extra: object = {}) =>
    ctx.store.artifacts.begin({
      runId,
      jobRowId,
      name,
      size,
      files: 1,
      digest: "d",
      expiresAt: Date.now() + 86_400_000,
      maxRunBytes: 1000,
      overwrite: false,
      ...extra,
    });

  it("reserves room under the run's cap, one live name per run, and replaces on overwrite", async () => {
    const job = await newJob();
    const a = await upload(job.runId, job.id, "dist", 600);
    expect(a).toMatchObject({ ok: true, replaces: null });
    if (!a.ok) return;
    // Pending: not listed yet, but it holds its room and its name.
    expect(await ctx.store.artifacts.list(job.runId)).toEqual([]);
    expect(await ctx.store.artifacts.usedBytes(job.runId)).toBe(600);
    expect(await upload(job.runId, job.id, "dist", 10, { overwrite: true })).toEqual({
      ok: false,
      reason: "exists",
    });
    expect(await upload(job.runId, job.id, "more", 401)).toEqual({
      ok: false,
      reason: "too-large",
      usedBytes: 600,
    });
    await ctx.store.artifacts.finish(a.id, null);
    expect((await ctx.store.artifacts.list(job.runId)).map((x) => [x.name, x.size, x.status])).toEqual([
      ["dist", 600, "ready"],
    ]);
    expect(await upload(job.runId, job.id, "dist", 10)).toEqual({ ok: false, reason: "exists" });
    // The one replaced does not count against the cap.
    const b = await upload(job.runId, job.id, "dist", 900, { overwrite: true });
    expect(b).toMatchObject({ ok: true, replaces: a.id });
    if (!b.ok) return;
    await ctx.store.artifacts.finish(b.id, b.replaces);
    expect((await ctx.store.artifacts.get(job.runId, "dist"))?.id).toBe(b.id);
    expect(await ctx.store.artifacts.usedBytes(job.runId)).toBe(900);
    // Another run has a cap of its own.
    const other = await newJob();
    expect(await upload(other.runId, other.id, "dist", 1000)).toMatchObject({ ok: true });
  });

  it("lets concurrent uploads fill the cap and no further", async () => {
    const job = await newJob();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => upload(job.runId, job.id, `part-${i}`, 400)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(await ctx.store.artifacts.usedBytes(job.runId)).toBe(800);
  });

  it("hides expired artifacts and offers them and stale pending uploads to the sweep", async () => {
    const job = await newJob();
    const now = Date.now();
    const old = await upload(job.runId, job.id, "old", 10, { expiresAt: now - 1 });
    const fresh = await upload(job.runId, job.id, "fresh", 10);
    const stale = await ctx.store.artifacts.begin(
      {
        runId: job.runId,
        jobRowId: job.id,
        name: "stale",
        size: 10,
        files: 1,
        digest: "d",
        expiresAt: now + 86_400_000,
        maxRunBytes: 1000,
        overwrite: false,
      },
      now - 7_200_000,
    );
    if (!old.ok || !fresh.ok || !stale.ok) throw new Error("uploads refused");
    await ctx.store.artifacts.finish(old.id, null);
    await ctx.store.artifacts.finish(fresh.id, null);
    expect((await ctx.store.artifacts.list(job.runId)).map((a) => a.name)).toEqual(["fresh"]);
    expect(await ctx.store.artifacts.get(job.runId, "old")).toBeNull();
    // An expired name is free again.
    expect(await upload(job.runId, job.id, "old", 10)).toMatchObject({ ok: true });
    const sweep = (await ctx.store.artifacts.sweepable(now, 3_600_000)).filter((a) => a.runId === job.runId);
    expect(sweep.map((a) => a.name).sort()).toEqual(["old", "stale"]);
    await ctx.store.artifacts.remove(old.id);
    expect(await ctx.store.artifacts.knownIds([old.id, fresh.id])).toEqual(new Set([fresh.id]));
  });
});
