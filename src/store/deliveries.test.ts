// Webhook deliveries: pending until processed, deduped on the delivery id and on the body's hash per
// repository within a window — on SQLite and on PostgreSQL, also when replays race.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();
const hour = 3_600_000;

describe.each(backends)("deliveries on %s", (backend) => {
  const ctx = useStore(backend);

  let unique = 0;
  const newRepo = () =>
    ctx.store.repos.create({ name: `repo-${++unique}`, url: "https://example.com/x.git" });
  const input = (repoId: number, deliveryId: string, body: string, now = 1_000_000) => ({
    provider: "github",
    deliveryId,
    event: "push",
    repoId,
    bodySha256: body.padEnd(64, "0"),
    payload: { name: "push", payload: { after: "a".repeat(40) } },
    replayWindowMs: 24 * hour,
    now,
  });

  it("a new delivery is pending with its event until it is marked processed", async () => {
    const repo = await newRepo();
    expect(await ctx.store.deliveries.begin(input(repo.id, "d-1", "b1"))).toEqual({ outcome: "new" });
    const pending = (await ctx.store.deliveries.pending()).find((d) => d.deliveryId === "d-1");
    expect(pending).toMatchObject({ status: "pending", repoId: repo.id, payload: { name: "push" } });
    // A redelivery of a pending (never processed) delivery is to be processed, not deduped.
    expect(await ctx.store.deliveries.begin(input(repo.id, "d-1", "b1"))).toMatchObject({
      outcome: "pending",
    });
    expect(await ctx.store.deliveries.markProcessed("github", "d-1", [7, 8])).toBe(true);
    expect((await ctx.store.deliveries.pending()).map((d) => d.deliveryId)).not.toContain("d-1");
    expect(await ctx.store.deliveries.begin(input(repo.id, "d-1", "b1"))).toMatchObject({
      outcome: "duplicate",
      delivery: { runIds: [7, 8], status: "processed" },
    });
  });

  it("the same body under a new delivery id is a replay within the window, and new after it", async () => {
    const repo = await newRepo();
    const other = await newRepo();
    expect(await ctx.store.deliveries.begin(input(repo.id, "r-1", "b2"))).toEqual({ outcome: "new" });
    expect(await ctx.store.deliveries.begin(input(repo.id, "r-2", "b2", 1_000_000 + hour))).toEqual({
      outcome: "replay",
      of: { provider: "github", deliveryId: "r-1", receivedAt: 1_000_000 },
    });
    // The replay is not kept: it is neither pending nor a recorded delivery.
    expect(await ctx.store.deliveries.get("github", "r-2")).toBeNull();
    // Another repository may receive the same bytes.
    expect(await ctx.store.deliveries.begin(input(other.id, "r-3", "b2"))).toEqual({ outcome: "new" });
    // After the window the body is new again.
    expect(await ctx.store.deliveries.begin(input(repo.id, "r-4", "b2", 1_000_000 + 25 * hour))).toEqual({
      outcome: "new",
    });
  });

  it("a forgotten delivery frees its body: a resend is new", async () => {
    const repo = await newRepo();
    expect(await ctx.store.deliveries.begin(input(repo.id, "f-1", "b3"))).toEqual({ outcome: "new" });
    await ctx.store.deliveries.forget("github", "f-1");
    expect(await ctx.store.deliveries.begin(input(repo.id, "f-2", "b3"))).toEqual({ outcome: "new" });
  });

  it("racing replays of one body under many ids: exactly one is new", async () => {
    const repo = await newRepo();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => ctx.store.deliveries.begin(input(repo.id, `race-${i}`, "b4"))),
    );
    expect(results.filter((r) => r.outcome === "new")).toHaveLength(1);
    expect(results.filter((r) => r.outcome === "replay")).toHaveLength(9);
  });

  it("finds the runs already created for a delivery", async () => {
    const repo = await newRepo();
    const run = await ctx.store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: {},
      sha: "a".repeat(40),
      ref: "refs/heads/main",
      trigger: "webhook",
      deliveryId: "with-runs",
    });
    expect(await ctx.store.deliveries.runIdsOf(repo.id, "with-runs")).toEqual([run.id]);
    expect(await ctx.store.deliveries.runIdsOf(repo.id, "none")).toEqual([]);
  });
});
