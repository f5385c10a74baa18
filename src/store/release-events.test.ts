// A release's event log (release-events.ts), the same suite on SQLite and on PostgreSQL.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { testBackends, useStore } from "../../test/support/store.js";
import { releaseFixtures } from "./testing.js";

const backends = await testBackends();

describe.each(backends)("release events on %s", (backend) => {
  const ctx = useStore(backend);

  const { newApp, input } = releaseFixtures();

  describe("release events", () => {
    it("numbers events 1..n in order and reads them back a page at a time", async () => {
      const a = await ctx.store.releases.create(input(newApp()));
      const b = await ctx.store.releases.create(input(newApp()));
      const first = await ctx.store.releases.addEvent(a.id, {
        type: "release.started",
        message: "deploying web",
        now: 100,
      });
      expect(first).toEqual({
        releaseId: a.id,
        seq: 1,
        at: 100,
        level: "info",
        type: "release.started",
        service: null,
        message: "deploying web",
        data: null,
      });
      await ctx.store.releases.addEvent(b.id, { type: "other", message: "b's own" });
      const data = { instance: "web-r1-1", address: { host: "127.0.0.1", port: 4100 }, tags: ["a", "ü"] };
      await ctx.store.releases.addEvent(a.id, {
        level: "warn",
        type: "instance.unhealthy",
        service: "web",
        message: "probe failed\u0000",
        data,
        now: 101,
      });
      await ctx.store.releases.addEvent(a.id, { level: "error", type: "release.failed", message: "gave up" });

      const all = await ctx.store.releases.events(a.id);
      expect(all.map((e) => [e.seq, e.type])).toEqual([
        [1, "release.started"],
        [2, "instance.unhealthy"],
        [3, "release.failed"],
      ]);
      expect(all[1]).toMatchObject({
        level: "warn",
        service: "web",
        message: "probe failed\uFFFD",
        data,
        at: 101,
      });
      expect((await ctx.store.releases.events(a.id, { afterSeq: 1, limit: 1 })).map((e) => e.seq)).toEqual([
        2,
      ]);
      expect(await ctx.store.releases.events(a.id, { afterSeq: 3 })).toEqual([]);
      expect((await ctx.store.releases.events(b.id)).map((e) => [e.seq, e.message])).toEqual([
        [1, "b's own"],
      ]);

      // Events still arrive after the release has finished (instances stopping late).
      await ctx.store.releases.finish(a.id, "failed");
      expect((await ctx.store.releases.addEvent(a.id, { type: "instance.stopped", message: "x" })).seq).toBe(
        4,
      );
    });

    it("gives concurrent adds from two store instances distinct seqs 1..n", async () => {
      const r = await ctx.store.releases.create(input(newApp()));
      const other = await ctx.open();
      try {
        const added = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 ? ctx.store : other).releases.addEvent(r.id, { type: "tick", message: `m${i}` }),
          ),
        );
        const expected = Array.from({ length: 30 }, (_, i) => i + 1);
        expect(added.map((e) => e.seq).sort((x, y) => x - y)).toEqual(expected);
        expect((await ctx.store.releases.events(r.id)).map((e) => e.seq)).toEqual(expected);
      } finally {
        await other.close();
      }
    });

    it("refuses an event for a release that does not exist, or with a bad level", async () => {
      await expect(ctx.store.releases.addEvent(999_999, { type: "x", message: "y" })).rejects.toThrow(
        /no release with id 999999/,
      );
      const r = await ctx.store.releases.create(input(newApp()));
      await expect(
        ctx.store.releases.addEvent(r.id, { level: "debug" as "info", type: "x", message: "y" }),
      ).rejects.toThrow(UserError);
      await expect(ctx.store.releases.addEvent(r.id, { type: "", message: "y" })).rejects.toThrow(UserError);
      expect(await ctx.store.releases.events(r.id)).toEqual([]);
    });
  });
});
