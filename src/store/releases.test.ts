// Deploy releases (releases.ts) and migration 0003 that made their tables, the same suite on SQLite and on
// PostgreSQL; their events and the deploy locks have their own suites (release-events, deploy-locks).
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { openStore } from "./index.js";
import { type DialectName, migrationProvider, migrations } from "./migrations.js";
import { SlipwaySqliteDialect } from "./sqlite-dialect.js";
import { createTestDatabase, type TestDatabase, testBackends, useStore } from "../../test/support/store.js";
import { releaseFixtures } from "./testing.js";

const backends = await testBackends();

describe.each(backends)("releases on %s", (backend) => {
  const ctx = useStore(backend);

  const { newApp, input } = releaseFixtures();

  describe("releases", () => {
    it("round-trips every field, JSON included", async () => {
      const app = newApp();
      const spec = {
        app,
        services: [
          { name: "web", env: { GREETING: "héllo \u2603", EMPTY: "" }, nested: [1, [2, { x: null }]] },
        ],
      };
      const made = await ctx.store.releases.create({
        ...input(app, "staging"),
        kind: "rollback",
        rollbackOf: 3,
        version: "v1.3.0",
        strategy: { web: "blue-green", worker: "recreate" },
        spec,
        images: { web: { image: "r/web:1", digest: "sha256:d1" }, worker: { image: "r/worker:1" } },
        trigger: "workflow",
        actor: "ci-bot",
        phase: "planning",
        now: 1000,
      });
      expect(made).toEqual({
        id: expect.any(Number),
        app,
        env: "staging",
        number: 1,
        kind: "rollback",
        rollbackOf: 3,
        version: "v1.3.0",
        strategy: { web: "blue-green", worker: "recreate" },
        specHash: "sha256:abc",
        spec,
        images: { web: { image: "r/web:1", digest: "sha256:d1" }, worker: { image: "r/worker:1" } },
        trigger: "workflow",
        actor: "ci-bot",
        status: "running",
        phase: "planning",
        error: null,
        impact: null,
        createdAt: 1000,
        startedAt: 1000,
        finishedAt: null,
        updatedAt: 1000,
      });
      expect(await ctx.store.releases.get(made.id)).toEqual(made);
      expect(await ctx.store.releases.byNumber(app, "staging", 1)).toEqual(made);
      expect(await ctx.store.releases.byNumber(app, "production", 1)).toBeUndefined();
      expect(await ctx.store.releases.get(999_999)).toBeUndefined();

      const plain = await ctx.store.releases.create(input(app, "staging"));
      expect(plain).toMatchObject({
        number: 2,
        kind: "deploy",
        rollbackOf: null,
        version: null,
        strategy: null,
        phase: "created",
      });

      const impact = { services: { web: { added: 2, removed: 2 } }, note: "\u0000 is kept out" };
      expect(
        await ctx.store.releases.finish(made.id, "failed", { error: "boom\u0000", impact, now: 2000 }),
      ).toBe(true);
      expect(await ctx.store.releases.get(made.id)).toMatchObject({
        status: "failed",
        error: "boom\uFFFD",
        impact,
        finishedAt: 2000,
        updatedAt: 2000,
      });
    });

    it("numbers per (app, env): separately for each environment and app", async () => {
      const [a, b] = [newApp(), newApp()];
      const numbers = [];
      for (const [app, env] of [
        [a, "production"],
        [a, "staging"],
        [a, "production"],
        [b, "production"],
        [a, "production"],
      ] as const) {
        numbers.push((await ctx.store.releases.create(input(app, env))).number);
      }
      expect(numbers).toEqual([1, 1, 2, 1, 3]);
    });

    it("gives 20 concurrent creates the numbers 1..20", async () => {
      const app = newApp();
      const made = await Promise.all(Array.from({ length: 20 }, () => ctx.store.releases.create(input(app))));
      expect(made.map((r) => r.number).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    });

    it("gives distinct numbers when two store instances create at once, the first included", async () => {
      const other = await ctx.open();
      try {
        const app = newApp();
        const made = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? ctx.store : other).releases.create(input(app))),
        );
        expect(made.map((r) => r.number).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        // Ids follow numbers: a later number is a later row, which is what list's order relies on.
        const byNumber = [...made].sort((x, y) => x.number - y.number);
        expect(byNumber.map((r) => r.id)).toEqual([...made.map((r) => r.id)].sort((x, y) => x - y));
      } finally {
        await other.close();
      }
    });

    it("gives a rolled-back create's number back", async () => {
      const app = newApp();
      await expect(
        ctx.store.transaction(async (tx) => {
          await tx.releases.create(input(app));
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect((await ctx.store.releases.create(input(app))).number).toBe(1);
    });

    it("refuses bad input with a UserError", async () => {
      await expect(ctx.store.releases.create(input(""))).rejects.toThrow(UserError);
      await expect(ctx.store.releases.create(input(newApp(), " "))).rejects.toThrow(/release env must be/);
      await expect(
        ctx.store.releases.create({ ...input(newApp()), kind: "redeploy" as "deploy" }),
      ).rejects.toThrow(/release kind must be one of deploy, rollback/);
      await expect(ctx.store.releases.create({ ...input(newApp()), rollbackOf: 0 })).rejects.toThrow(
        UserError,
      );
      const r = await ctx.store.releases.create(input(newApp()));
      await expect(ctx.store.releases.finish(r.id, "running" as "failed")).rejects.toThrow(UserError);
      await expect(ctx.store.releases.update(r.id, { status: "succeeded" as "running" })).rejects.toThrow(
        /release update status must be one of running, paused/,
      );
    });

    it("lists newest first, filtered, a page at a time", async () => {
      const app = newApp();
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await ctx.store.releases.create(input(app)));
      await ctx.store.releases.create(input(app, "staging"));
      await ctx.store.releases.finish(made[1].id, "succeeded");
      await ctx.store.releases.finish(made[2].id, "failed");

      const page1 = await ctx.store.releases.list({ app, env: "production", limit: 2 });
      expect(page1.map((r) => r.number)).toEqual([5, 4]);
      const page2 = await ctx.store.releases.list({ app, env: "production", limit: 2, beforeNumber: 4 });
      expect(page2.map((r) => r.number)).toEqual([3, 2]);
      expect((await ctx.store.releases.list({ app, env: "production" })).map((r) => r.number)).toEqual([
        5, 4, 3, 2, 1,
      ]);
      expect((await ctx.store.releases.list({ app })).map((r) => `${r.env}#${r.number}`)).toEqual([
        "staging#1",
        "production#5",
        "production#4",
        "production#3",
        "production#2",
        "production#1",
      ]);
      expect((await ctx.store.releases.list({ app, status: "succeeded" })).map((r) => r.number)).toEqual([2]);
      expect(
        (await ctx.store.releases.list({ app, env: "production", status: ["failed", "succeeded"] })).map(
          (r) => r.number,
        ),
      ).toEqual([3, 2]);
      expect(await ctx.store.releases.list({ app, status: [] })).toEqual([]);
      expect(await ctx.store.releases.list({ app: newApp() })).toEqual([]);
      expect((await ctx.store.releases.list({ limit: 3 })).length).toBe(3);
    });

    it("knows the current release (newest succeeded) and the unfinished ones", async () => {
      const app = newApp();
      expect(await ctx.store.releases.current(app, "production")).toBeUndefined();
      const r1 = await ctx.store.releases.create(input(app));
      const r2 = await ctx.store.releases.create(input(app));
      const r3 = await ctx.store.releases.create(input(app));
      const r4 = await ctx.store.releases.create(input(app));
      const other = await ctx.store.releases.create(input(app, "staging"));
      expect(await ctx.store.releases.current(app, "production")).toBeUndefined();

      await ctx.store.releases.finish(r1.id, "succeeded");
      await ctx.store.releases.finish(r2.id, "succeeded");
      await ctx.store.releases.finish(r3.id, "rolled_back");
      await ctx.store.releases.update(r4.id, { status: "paused" });
      expect((await ctx.store.releases.current(app, "production"))?.number).toBe(2);
      expect(await ctx.store.releases.current(app, "staging")).toBeUndefined();

      const open = await ctx.store.releases.unfinished({ app });
      expect(open.map((r) => [r.env, r.number, r.status])).toEqual([
        ["production", 4, "paused"],
        ["staging", 1, "running"],
      ]);
      expect((await ctx.store.releases.unfinished({ app, env: "staging" })).map((r) => r.id)).toEqual([
        other.id,
      ]);
      expect((await ctx.store.releases.unfinished()).map((r) => r.id)).toEqual(
        expect.arrayContaining([r4.id, other.id]),
      );

      // A rollback that succeeds becomes what is running.
      const back = await ctx.store.releases.create({ ...input(app), kind: "rollback", rollbackOf: 1 });
      await ctx.store.releases.finish(r4.id, "aborted");
      await ctx.store.releases.finish(back.id, "succeeded");
      expect(await ctx.store.releases.current(app, "production")).toMatchObject({
        number: 5,
        kind: "rollback",
        rollbackOf: 1,
      });
      expect(await ctx.store.releases.unfinished({ app, env: "production" })).toEqual([]);
    });

    it("updates only while running or paused", async () => {
      const app = newApp();
      const r = await ctx.store.releases.create({ ...input(app), now: 10 });
      expect(
        await ctx.store.releases.update(r.id, {
          phase: "starting",
          images: { web: { image: "registry.local/web:1", digest: "sha256:ff" } },
          impact: { replaced: 2 },
          spec: { resolved: true, revisions: { web: "r1" } },
          specHash: "sha256:def",
          now: 20,
        }),
      ).toBe(true);
      expect(await ctx.store.releases.get(r.id)).toMatchObject({
        status: "running",
        phase: "starting",
        images: { web: { image: "registry.local/web:1", digest: "sha256:ff" } },
        impact: { replaced: 2 },
        spec: { resolved: true, revisions: { web: "r1" } },
        specHash: "sha256:def",
        updatedAt: 20,
        createdAt: 10,
      });
      expect(await ctx.store.releases.update(r.id, { status: "paused", phase: "canary 1/3", now: 30 })).toBe(
        true,
      );
      expect(await ctx.store.releases.update(r.id, { error: "slow", impact: null, now: 40 })).toBe(true);
      expect(await ctx.store.releases.get(r.id)).toMatchObject({
        status: "paused",
        phase: "canary 1/3",
        error: "slow",
        impact: null,
        updatedAt: 40,
      });
      expect(await ctx.store.releases.update(r.id, { status: "running", error: null })).toBe(true);
      expect((await ctx.store.releases.get(r.id))?.error).toBeNull();

      expect(await ctx.store.releases.finish(r.id, "succeeded", { phase: "done", now: 50 })).toBe(true);
      expect(await ctx.store.releases.update(r.id, { phase: "restarted?" })).toBe(false);
      expect(await ctx.store.releases.update(r.id, { status: "running" })).toBe(false);
      expect(await ctx.store.releases.update(r.id, {})).toBe(false);
      expect(await ctx.store.releases.update(999_999, { phase: "x" })).toBe(false);
      expect(await ctx.store.releases.get(r.id)).toMatchObject({
        status: "succeeded",
        phase: "done",
        finishedAt: 50,
        updatedAt: 50,
      });
    });

    it("finishes once: a compare-and-set from running or paused", async () => {
      const app = newApp();
      const r = await ctx.store.releases.create(input(app));
      expect(await ctx.store.releases.finish(r.id, "failed", { error: "health check failed", now: 5 })).toBe(
        true,
      );
      expect(await ctx.store.releases.finish(r.id, "rolled_back", { now: 6 })).toBe(false);
      expect(await ctx.store.releases.get(r.id)).toMatchObject({
        status: "failed",
        error: "health check failed",
        finishedAt: 5,
      });

      const paused = await ctx.store.releases.create(input(app));
      await ctx.store.releases.update(paused.id, { status: "paused" });
      const racers = (["succeeded", "aborted", "failed", "rolled_back"] as const).map((s) =>
        ctx.store.releases.finish(paused.id, s),
      );
      expect((await Promise.all(racers)).filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.releases.finish(999_999, "aborted")).toBe(false);
    });
  });

  describe("migration 0003_releases", () => {
    it("applies to a database at 0002 and keeps its data", async () => {
      const old = await createTestDatabase(backend);
      try {
        await migrateTo(backend, old, "0002_secrets_notifications");
        let s = await openStore({ url: old.url, dataDir: old.dataDir });
        try {
          expect(await s.repos.getByName("before")).toMatchObject({ url: "/srv/before" });
          const applied = await sql<{
            name: string;
          }>`select name from slipway_migrations order by name`.execute(s.db);
          // Every migration up to the newest one is applied on top of 0002, once.
          expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations(backend)).sort());
          expect(applied.rows.map((r) => r.name)).toContain("0003_releases");
          const r = await s.releases.create(input("migrated"));
          await s.releases.addEvent(r.id, { type: "x", message: "y" });
          expect(
            await s.deployLocks.acquire({ app: "migrated", env: "p", holder: "a", ttlMs: 1000 }),
          ).toEqual({
            acquired: true,
          });
        } finally {
          await s.close();
        }
        // Opening again applies nothing twice and finds what was written.
        s = await openStore({ url: old.url, dataDir: old.dataDir });
        try {
          expect((await s.releases.byNumber("migrated", "production", 1))?.number).toBe(1);
          expect((await s.releases.create(input("migrated"))).number).toBe(2);
        } finally {
          await s.close();
        }
      } finally {
        await old.drop();
      }
    });
  });
});

/** Brings a fresh test database to `target` only, as an older slipway left it, with one repository. */
async function migrateTo(backend: DialectName, tdb: TestDatabase, target: string): Promise<void> {
  const db =
    backend === "sqlite"
      ? new Kysely<any>({
          dialect: new SlipwaySqliteDialect(new BetterSqlite3(join(tdb.dataDir, "slipway.db")), 10_000),
        })
      : new Kysely<any>({
          dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: tdb.url }) }),
        });
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider(backend),
      migrationTableName: "slipway_migrations",
      migrationLockTableName: "slipway_migrations_lock",
    });
    const { error } = await migrator.migrateTo(target);
    if (error) throw error;
    await db
      .insertInto("repos")
      .values({ name: "before", url: "/srv/before", branch: "main", created_at: 1 })
      .execute();
  } finally {
    await db.destroy();
  }
}
