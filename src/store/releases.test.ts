// Deploy releases, their events and deploy locks, the same suite on SQLite and on PostgreSQL.
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { openStore, type ReleaseInput } from "./index.js";
import { type DialectName, migrationProvider, migrations } from "./migrations.js";
import { SlipwaySqliteDialect } from "./sqlite-dialect.js";
import { createTestDatabase, type TestDatabase, testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();

describe.each(backends)("releases on %s", (backend) => {
  const ctx = useStore(backend);

  let unique = 0;
  /** An app name no other test uses, so tests share the database without seeing each other. */
  const newApp = () => `app-${++unique}`;
  const input = (app: string, env = "production", extra: Partial<ReleaseInput> = {}): ReleaseInput => ({
    app,
    env,
    specHash: "sha256:abc",
    spec: { app, services: [{ name: "web", replicas: 2 }] },
    images: { web: { image: "registry.local/web:1" } },
    trigger: "cli",
    actor: "ada",
    ...extra,
  });

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
