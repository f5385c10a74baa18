// The per-environment deploy lock (deploy-locks.ts), the same suite on SQLite and on PostgreSQL.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { testBackends, useStore } from "../../test/support/store.js";
import { releaseFixtures } from "./testing.js";

const backends = await testBackends();

describe.each(backends)("deploy locks on %s", (backend) => {
  const ctx = useStore(backend);

  const { newApp, input } = releaseFixtures();

  describe("deploy locks", () => {
    it("refuses a second holder and says who holds it; the holder re-acquires and renews", async () => {
      const app = newApp();
      const env = "production";
      const r = await ctx.store.releases.create(input(app));
      expect(await ctx.store.deployLocks.get(app, env, 1000)).toBeUndefined();
      expect(
        await ctx.store.deployLocks.acquire({
          app,
          env,
          holder: "cli:ada",
          ttlMs: 500,
          releaseId: r.id,
          now: 1000,
        }),
      ).toEqual({ acquired: true });
      expect(
        await ctx.store.deployLocks.acquire({ app, env, holder: "server:b", ttlMs: 500, now: 1200 }),
      ).toEqual({
        acquired: false,
        holder: "cli:ada",
        acquiredAt: 1000,
        expiresAt: 1500,
        releaseId: r.id,
      });
      // Another environment, or another app, is another lock.
      expect(
        await ctx.store.deployLocks.acquire({
          app,
          env: "staging",
          holder: "server:b",
          ttlMs: 500,
          now: 1200,
        }),
      ).toEqual({ acquired: true });

      // The same holder again: extended, acquiredAt and the release kept.
      expect(
        await ctx.store.deployLocks.acquire({ app, env, holder: "cli:ada", ttlMs: 500, now: 1300 }),
      ).toEqual({
        acquired: true,
      });
      expect(await ctx.store.deployLocks.get(app, env, 1300)).toEqual({
        app,
        env,
        holder: "cli:ada",
        acquiredAt: 1000,
        expiresAt: 1800,
        releaseId: r.id,
      });

      expect(await ctx.store.deployLocks.renew({ app, env, holder: "cli:ada", ttlMs: 1000, now: 1700 })).toBe(
        true,
      );
      expect((await ctx.store.deployLocks.get(app, env, 1700))?.expiresAt).toBe(2700);
      expect(
        await ctx.store.deployLocks.renew({ app, env, holder: "server:b", ttlMs: 1000, now: 1700 }),
      ).toBe(false);
      expect(
        await ctx.store.deployLocks.acquire({ app, env, holder: "server:b", ttlMs: 500, now: 2600 }),
      ).toMatchObject({ acquired: false, holder: "cli:ada", expiresAt: 2700 });
    });

    it("lets another holder take over an expired lock; the old holder can then not renew", async () => {
      const app = newApp();
      const env = "production";
      await ctx.store.deployLocks.acquire({ app, env, holder: "old", ttlMs: 100, releaseId: 7, now: 1000 });
      expect(await ctx.store.deployLocks.get(app, env, 1099)).toMatchObject({ holder: "old" });
      expect(await ctx.store.deployLocks.get(app, env, 1100)).toBeUndefined();

      expect(await ctx.store.deployLocks.acquire({ app, env, holder: "new", ttlMs: 100, now: 1100 })).toEqual(
        {
          acquired: true,
        },
      );
      expect(await ctx.store.deployLocks.get(app, env, 1100)).toEqual({
        app,
        env,
        holder: "new",
        acquiredAt: 1100,
        expiresAt: 1200,
        releaseId: null,
      });
      expect(await ctx.store.deployLocks.renew({ app, env, holder: "old", ttlMs: 100, now: 1150 })).toBe(
        false,
      );
      expect(await ctx.store.deployLocks.release({ app, env, holder: "old" })).toBe(false);

      // An expired lock re-acquired by its own holder starts afresh.
      expect(await ctx.store.deployLocks.acquire({ app, env, holder: "new", ttlMs: 100, now: 5000 })).toEqual(
        {
          acquired: true,
        },
      );
      expect(await ctx.store.deployLocks.get(app, env, 5000)).toMatchObject({
        acquiredAt: 5000,
        expiresAt: 5100,
      });
    });

    it("is released only by its holder, and is then free", async () => {
      const app = newApp();
      const env = "production";
      await ctx.store.deployLocks.acquire({ app, env, holder: "a", ttlMs: 60_000 });
      expect(await ctx.store.deployLocks.release({ app, env, holder: "b" })).toBe(false);
      expect((await ctx.store.deployLocks.get(app, env))?.holder).toBe("a");
      expect(await ctx.store.deployLocks.release({ app, env, holder: "a" })).toBe(true);
      expect(await ctx.store.deployLocks.release({ app, env, holder: "a" })).toBe(false);
      expect(await ctx.store.deployLocks.get(app, env)).toBeUndefined();
      expect(await ctx.store.deployLocks.renew({ app, env, holder: "a", ttlMs: 1000 })).toBe(false);
      expect(await ctx.store.deployLocks.acquire({ app, env, holder: "b", ttlMs: 60_000 })).toEqual({
        acquired: true,
      });
    });

    it("has one winner among racing acquirers in two store instances", async () => {
      const other = await ctx.open();
      try {
        const app = newApp();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? ctx.store : other).deployLocks.acquire({
              app,
              env: "production",
              holder: `h${i}`,
              ttlMs: 60_000,
            }),
          ),
        );
        const winners = results.filter((r) => r.acquired);
        expect(winners).toHaveLength(1);
        const holder = (await ctx.store.deployLocks.get(app, "production"))?.holder;
        for (const r of results) if (!r.acquired) expect(r.holder).toBe(holder);
      } finally {
        await other.close();
      }
    });

    it("refuses bad input with a UserError", async () => {
      const app = newApp();
      await expect(ctx.store.deployLocks.acquire({ app, env: "p", holder: "a", ttlMs: 0 })).rejects.toThrow(
        /ttlMs must be a positive integer/,
      );
      await expect(ctx.store.deployLocks.acquire({ app, env: "p", holder: "", ttlMs: 10 })).rejects.toThrow(
        UserError,
      );
      await expect(ctx.store.deployLocks.renew({ app, env: "p", holder: "a", ttlMs: -1 })).rejects.toThrow(
        UserError,
      );
    });
  });
});
