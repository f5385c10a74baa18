import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OperationError } from "../lib/errors.js";
import { SlipwaySqliteDialect } from "./sqlite-dialect.js";

// Another connection holding the write lock: a statement waits (asynchronously) and runs once it is
// released, or fails after busyTimeoutMs.
describe("SlipwaySqliteDialect when another connection holds the lock", () => {
  let dir: string;
  let holder: BetterSqlite3.Database;
  let db: Kysely<{ t: { v: number } }>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "slipway-sqlite-busy-"));
    const file = join(dir, "db.sqlite");
    holder = new BetterSqlite3(file);
    holder.exec("create table t (v integer)");
    db = new Kysely({ dialect: new SlipwaySqliteDialect(new BetterSqlite3(file), 300) });
  });

  afterEach(async () => {
    await db.destroy();
    if (holder.inTransaction) holder.exec("rollback");
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the statement once the lock is released, without blocking the event loop", async () => {
    holder.exec("begin immediate");
    setTimeout(() => holder.exec("commit"), 80);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    await db.insertInto("t").values({ v: 1 }).execute();
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(3);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0].n).toBe(1);
  });

  it("gives up after busyTimeoutMs with an OperationError", async () => {
    holder.exec("begin immediate");
    const t0 = Date.now();
    const err = await db
      .insertInto("t")
      .values({ v: 1 })
      .execute()
      .catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toMatch(/stayed locked by another connection for 300 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });
});
