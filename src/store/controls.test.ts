// The store's side of the server's trust boundaries, on SQLite and PostgreSQL: runner controls, the
// last admin token, printable names, job states outside the state machine, cut-off steps, log caps.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { LastAdminTokenError } from "./index.js";
import { truncationMarker } from "./logs.js";
import { checkName } from "./names.js";
import { testBackends, useStore } from "../../test/support/store.js";
import { insertTestJob } from "./testing.js";

const backends = await testBackends();

describe("checkName", () => {
  it("takes printable names and refuses control characters, blanks and long ones, without echoing them raw", () => {
    expect(checkName("token name", "ci bot · déploiement")).toBe("ci bot · déploiement");
    for (const bad of [
      "evil\nname",
      "a\u001b[31mred",
      "tab\there",
      "nul\u0000",
      "bidi\u202eevil",
      "line\u2028sep",
    ]) {
      let err: unknown;
      try {
        checkName("token name", bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/control or unprintable/);
      // The refused value is shown escaped: no raw control character reaches a log or terminal.
      expect((err as Error).message).not.toMatch(/[\u0000-\u001f\u202e\u2028]/);
    }
    expect(() => checkName("token name", "")).toThrow(/empty/);
    expect(() => checkName("token name", " padded ")).toThrow(/white space/);
    expect(() => checkName("token name", "x".repeat(101))).toThrow(/longer than 100/);
    expect(() => checkName("token name", 42)).toThrow(/must be a string/);
  });
});

describe.each(backends)("store controls on %s", (backend) => {
  const ctx = useStore(backend);

  let unique = 0;
  const newJob = (status: "queued" | "running" = "queued", labels = [`l${++unique}`]) =>
    insertTestJob(ctx.store, { status, labels });

  it("disables, enables and removes runners; names and labels must be printable", async () => {
    const { runner, token } = await ctx.store.runners.register({ name: "builder", labels: ["linux", "x64"] });
    expect(runner.disabledAt).toBeNull();
    expect(await ctx.store.runners.setDisabled(runner.id, true, 5000)).toBe(true);
    expect((await ctx.store.runners.getByToken(token))?.disabledAt).toBe(5000);
    expect(await ctx.store.runners.setDisabled(runner.id, false)).toBe(true);
    expect((await ctx.store.runners.getByToken(token))?.disabledAt).toBeNull();
    expect((await ctx.store.runners.find("builder")).id).toBe(runner.id);
    expect((await ctx.store.runners.find(runner.id)).name).toBe("builder");
    await ctx.store.runners.register({ name: "builder", labels: [] });
    await expect(ctx.store.runners.find("builder")).rejects.toThrow(/2 runners are named "builder"/);
    await expect(ctx.store.runners.find("nobody")).rejects.toThrow(/^no runner/);
    expect(await ctx.store.runners.remove(runner.id)).toBe(true);
    expect(await ctx.store.runners.getByToken(token)).toBeNull();
    await expect(ctx.store.runners.register({ name: "r\n2", labels: [] })).rejects.toThrow(UserError);
    await expect(ctx.store.runners.register({ name: "r3", labels: ["ok", "b\u0007ell"] })).rejects.toThrow(
      /runner label/,
    );
    await expect(ctx.store.runners.register({ name: "r4", labels: ["a,b"] })).rejects.toThrow(/comma/);
  });

  it("fails the running jobs of a retired runner, and only those", async () => {
    const { runner } = await ctx.store.runners.register({ name: "retiree", labels: ["retiring"] });
    const job = await newJob("queued", ["retiring"]);
    const claimed = await ctx.store.jobs.claim({
      runnerId: runner.id,
      labels: ["retiring"],
      leaseMs: 60_000,
    });
    expect(claimed?.id).toBe(job.id);
    const other = await newJob("queued", ["retiring"]);
    const failed = await ctx.store.jobs.failRunnerJobs(runner.id, "runner retiree was removed");
    expect(failed.map((j) => j.id)).toEqual([job.id]);
    expect(await ctx.store.jobs.get(job.id)).toMatchObject({
      status: "failure",
      reason: "runner retiree was removed",
    });
    expect((await ctx.store.jobs.get(other.id))?.status).toBe("queued");
  });

  it("refuses a completion with a status outside the state machine and fails a stored one", async () => {
    const { runner } = await ctx.store.runners.register({ name: "liar", labels: ["lying"] });
    const job = await newJob("queued", ["lying"]);
    expect(
      (await ctx.store.jobs.claim({ runnerId: runner.id, labels: ["lying"], leaseMs: 60_000 }))?.id,
    ).toBe(job.id);
    await expect(
      ctx.store.jobs.complete(job.id, runner.id, { status: "bogus-status" as never }),
    ).rejects.toThrow(UserError);
    expect((await ctx.store.jobs.get(job.id))?.status).toBe("running");
    // A row written before statuses were checked.
    await ctx.store.db.updateTable("jobs").set({ status: "bogus-status" }).where("id", "=", job.id).execute();
    expect(await ctx.store.jobs.failUnknownStatus(job.id)).toBe(true);
    expect(await ctx.store.jobs.get(job.id)).toMatchObject({
      status: "failure",
      reason: "the job ended in an unknown state",
    });
    expect(await ctx.store.jobs.failUnknownStatus(job.id)).toBe(false);
  });

  it("ends the steps that never reported an end, and leaves ended ones alone", async () => {
    const job = await newJob("running");
    await ctx.store.steps.upsert(job.id, {
      idx: 0,
      stepId: "a",
      name: "a",
      conclusion: "success",
      startedAt: 1,
      finishedAt: 2,
    });
    await ctx.store.steps.upsert(job.id, { idx: 1, stepId: "b", name: "b", startedAt: 3 });
    expect(await ctx.store.steps.finishUnfinished([job.id], "failure", 10)).toBe(1);
    const steps = await ctx.store.steps.list(job.id);
    expect(steps[0]).toMatchObject({ conclusion: "success", finishedAt: 2 });
    expect(steps[1]).toMatchObject({ outcome: "failure", conclusion: "failure", finishedAt: 10 });
  });

  it("refuses to revoke the last active admin token, and revokes one of two", async () => {
    const existing = (await ctx.store.tokens.list()).filter(
      (t) => t.role === "admin" && t.revokedAt === null,
    );
    for (const t of existing.slice(1)) await ctx.store.tokens.revoke(t.id);
    const first = existing[0] ?? (await ctx.store.tokens.create("first-admin", "admin"));
    const second = await ctx.store.tokens.create("second-admin", "admin");
    expect(await ctx.store.tokens.revoke(second.id)).toBe(true);
    await expect(ctx.store.tokens.revoke(first.id)).rejects.toBeInstanceOf(LastAdminTokenError);
    expect((await ctx.store.tokens.list()).find((t) => t.id === first.id)?.revokedAt).toBeNull();
    const reset = await ctx.store.tokens.resetAdmin();
    expect(await ctx.store.tokens.verify(reset.token)).toMatchObject({ role: "admin" });
    expect(await ctx.store.tokens.revoke(first.id)).toBe(true);
    await expect(ctx.store.tokens.create("bad\rname", "viewer")).rejects.toThrow(/control/);
  });

  it("of two revokes racing for the last two admin tokens, exactly one wins", async () => {
    const other = await ctx.open();
    try {
      const a = await ctx.store.tokens.create("racer-a", "admin");
      const b = await ctx.store.tokens.create("racer-b", "admin");
      const active = () =>
        ctx.store.tokens.list().then((l) => l.filter((t) => t.role === "admin" && t.revokedAt === null));
      // Only these two are left active.
      for (const t of await active()) if (t.id !== a.id && t.id !== b.id) await ctx.store.tokens.revoke(t.id);
      expect((await active()).map((t) => t.id).sort()).toEqual([a.id, b.id].sort());
      const results = await Promise.allSettled([ctx.store.tokens.revoke(a.id), other.tokens.revoke(b.id)]);
      expect(results.filter((r) => r.status === "fulfilled" && r.value === true)).toHaveLength(1);
      expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
      expect(await active()).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it("caps a job's log: the chunk that passes the cap is cut and marked once, later ones dropped", async () => {
    const job = await newJob("running");
    const max = 1000;
    expect((await ctx.store.logs.appendCapped(job.id, 1, "a".repeat(600), max)).stored).toBe(true);
    const cut = await ctx.store.logs.appendCapped(job.id, 2, "é".repeat(400), max);
    expect(cut.stored).toBe(true);
    expect(cut.content.endsWith(truncationMarker(max))).toBe(true);
    expect(Buffer.byteLength(cut.content.slice(0, -truncationMarker(max).length))).toBe(400);
    expect((await ctx.store.logs.appendCapped(job.id, 3, "more", max)).stored).toBe(false);
    const text = (await ctx.store.logs.read(job.id)).map((c) => c.content).join("");
    expect(text.split("reached its size limit")).toHaveLength(2);
    expect(text).not.toContain("more");
    expect(await ctx.store.logs.size(job.id)).toBe(1000 + Buffer.byteLength(truncationMarker(max)));
  });
});
