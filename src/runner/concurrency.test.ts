import { describe, expect, it } from "vitest";
import { ConcurrencyGroups } from "./concurrency.js";

describe("ConcurrencyGroups", () => {
  it("runs one member at a time and promotes the pending one", async () => {
    const g = new ConcurrencyGroups();
    const first = await g.enter("deploy", false, () => {});
    let secondIn = false;
    const second = g
      .enter("deploy", false, () => {})
      .then((t) => {
        secondIn = true;
        return t;
      });
    await new Promise((r) => setTimeout(r, 10));
    expect(secondIn).toBe(false);
    first.release();
    const t = await second;
    expect(t.cancelled).toBe(false);
    t.release();
  });

  it("cancels an older pending member when a newer one arrives", async () => {
    const g = new ConcurrencyGroups();
    const first = await g.enter("g", false, () => {});
    const second = g.enter("g", false, () => {});
    const third = g.enter("g", false, () => {});
    expect((await second).cancelled).toBe(true);
    first.release();
    expect((await third).cancelled).toBe(false);
  });

  it("cancels the running member with cancel-in-progress", async () => {
    const g = new ConcurrencyGroups();
    let cancelled = false;
    const first = await g.enter("g", true, () => {
      cancelled = true;
    });
    const second = g.enter("g", true, () => {});
    expect(cancelled).toBe(true);
    first.release();
    expect((await second).cancelled).toBe(false);
  });

  it("keeps groups apart", async () => {
    const g = new ConcurrencyGroups();
    await g.enter("a", false, () => {});
    const b = await g.enter("b", false, () => {});
    expect(b.cancelled).toBe(false);
  });
});
