// Opening the store: URL forms, migrations applied once, and clear errors when it cannot be opened.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../lib/errors.js";
import { openStore } from "./index.js";
import { migrations } from "./migrations.js";
import { resolveTarget } from "./open.js";
import { testBackends, useDatabase } from "../../test/support/store.js";

const backends = await testBackends();

describe("database URLs", () => {
  it("defaults to <dataDir>/slipway.db and accepts sqlite: and postgres URLs", () => {
    expect(resolveTarget({ dataDir: "/var/lib/slipway" })).toEqual({
      dialect: "sqlite",
      file: "/var/lib/slipway/slipway.db",
    });
    expect(resolveTarget({ url: "sqlite:/tmp/a.db", dataDir: "/x" })).toEqual({
      dialect: "sqlite",
      file: "/tmp/a.db",
    });
    expect(resolveTarget({ url: "sqlite:///tmp/a.db", dataDir: "/x" })).toEqual({
      dialect: "sqlite",
      file: "/tmp/a.db",
    });
    expect(resolveTarget({ url: "sqlite:rel.db", dataDir: "/x" })).toEqual({
      dialect: "sqlite",
      file: resolve("rel.db"),
    });
    expect(resolveTarget({ url: "./b.db", dataDir: "/x" })).toEqual({
      dialect: "sqlite",
      file: resolve("b.db"),
    });
    expect(resolveTarget({ url: "postgresql://u@h/db", dataDir: "/x" })).toEqual({
      dialect: "postgres",
      url: "postgresql://u@h/db",
    });
    expect(() => resolveTarget({ url: "mysql://u:pw@h/db", dataDir: "/x" })).toThrow(UserError);
    expect(() => resolveTarget({ url: "mysql://u:pw@h/db", dataDir: "/x" })).toThrow(
      /mysql:\/\/u:\*\*\*@h\/db/,
    );
    expect(() => resolveTarget({ url: "sqlite:", dataDir: "/x" })).toThrow(UserError);
  });
});

describe("opening SQLite", () => {
  it("creates the data directory and the file named by a sqlite: URL, in WAL mode", async () => {
    const dir = join(tmp(), "nested", "data");
    const store = await openStore({ url: `sqlite:${join(dir, "ci.db")}`, dataDir: "/nonexistent" });
    try {
      expect(store.location).toBe(join(dir, "ci.db"));
      expect(existsSync(join(dir, "ci.db"))).toBe(true);
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      expect(mode.rows[0].journal_mode).toBe("wal");
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
      expect(fk.rows[0].foreign_keys).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe("opening fails clearly", () => {
  it("when PostgreSQL is unreachable, without printing the password", async () => {
    const err = await openStore({
      url: "postgres://slipway:hunter2@127.0.0.1:1/slipway",
      dataDir: "/tmp",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(
      /^cannot open database postgres:\/\/slipway:\*\*\*@127\.0\.0\.1:1\/slipway: .*ECONNREFUSED/,
    );
    expect((err as Error).message).not.toContain("hunter2");
  });

  it("when the SQLite file cannot be created", async () => {
    const dir = join(tmp(), "a-file");
    writeFileSync(dir, "not a directory");
    const err = await openStore({ dataDir: join(dir, "data") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(
      /^cannot open database .*a-file\/data\/slipway\.db: .*(ENOTDIR|not a directory)/,
    );
  });

  it("when the file is not a SQLite database", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "slipway.db"), "x".repeat(4096));
    const err = await openStore({ dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/^cannot open database .*slipway\.db: file is not a database/);
  });
});

describe.each(backends)("migrations on %s", (backend) => {
  const ctx = useDatabase(backend);

  it("apply once, also when several stores open a fresh database at the same time", async () => {
    const stores = await Promise.all([1, 2, 3].map(() => ctx.open()));
    const repo = await stores[0].repos.create({ name: "a", url: "/a" });
    for (const s of stores) await s.close();

    const again = await ctx.open();
    try {
      expect(again.dialect).toBe(backend);
      expect((await again.repos.get(repo.id))?.name).toBe("a");
      const applied = await sql<{ name: string }>`select name from slipway_migrations`.execute(again.db);
      // Each migration once (the list grows: every one defined in migrations.ts).
      expect(applied.rows.map((r) => r.name).sort()).toEqual(Object.keys(migrations(backend)).sort());
    } finally {
      await again.close();
      await again.close(); // closing twice is harmless
    }
  });

  it("refuse a database migrated by a newer slipway", async () => {
    const s = await ctx.open();
    await sql`insert into slipway_migrations (name, timestamp) values ('9999_future', '2100-01-01T00:00:00Z')`.execute(
      s.db,
    );
    await s.close();
    const err = await ctx.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/has migration 9999_future, unknown to this slipway/);
  });
});

const tmpRoot = mkdtempSync(join(tmpdir(), "slipway-open-"));
let tmpCount = 0;
function tmp(): string {
  const d = join(tmpRoot, String(++tmpCount));
  mkdirSync(d);
  return d;
}
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
