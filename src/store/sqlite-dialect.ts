// Kysely's SQLite dialect, with a driver of our own for better-sqlite3 that behaves well when more than
// one connection (in this process or another) writes to the same file:
// - transactions begin IMMEDIATE: the write lock is taken up front, so a transaction that reads and
//   then writes cannot fail with SQLITE_BUSY half-way, and read-check-write sequences are serialized;
// - waiting for the write lock is asynchronous. better-sqlite3 is synchronous, so SQLite's own
//   busy_timeout would block the event loop while it waits — and when the lock holder is another
//   connection in the same process, in the middle of an awaited transaction, that wait can never end.
//   So busy_timeout is 0 and a statement that finds the database locked (BEGIN, or any statement
//   outside a transaction, where SQLITE_BUSY means nothing was done) is retried after a timer, up to
//   `busyTimeoutMs`;
// - migrations run in a transaction (SQLite has transactional DDL; Kysely assumes it does not), so two
//   servers starting on one file do not both apply a migration, and a crash mid-migration leaves nothing.
import type BetterSqlite3 from "better-sqlite3";
import {
  type CompiledQuery,
  CompiledQuery as Compiled,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
} from "kysely";
import { retry } from "../lib/async.js";
import { OperationError } from "../lib/errors.js";

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"));
}

class SqliteConnection implements DatabaseConnection {
  readonly #db: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;
  constructor(db: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#db = db;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    // Inside a transaction we already hold the write lock; SQLITE_BUSY there is not ours to retry.
    const retryable = (err: unknown) => isBusy(err) && !this.#db.inTransaction;
    try {
      return await retry(async () => this.#execute<R>(query), {
        attempts: Number.POSITIVE_INFINITY,
        backoff: { baseMs: 1, maxMs: 50, jitter: 0.5 },
        retryOn: (err) => retryable(err) && Date.now() < deadline,
      });
    } catch (err) {
      if (!retryable(err)) throw err;
      throw new OperationError(
        `database ${this.#db.name} stayed locked by another connection for ${this.#busyTimeoutMs} ms`,
        { cause: err },
      );
    }
  }

  #execute<R>(query: CompiledQuery): QueryResult<R> {
    const stmt = this.#db.prepare(query.sql);
    const params = query.parameters as unknown[];
    if (stmt.reader) return { rows: stmt.all(params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(params);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(query.query)) throw new Error("the SQLite driver streams only SELECT queries");
    for (const row of this.#db.prepare(query.sql).iterate(query.parameters as unknown[])) {
      yield { rows: [row as R] };
    }
  }
}

/** better-sqlite3 has one connection; queries and transactions take turns on it. */
class Mutex {
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;
  async lock(): Promise<void> {
    while (this.#held) await this.#held;
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
  }
  unlock(): void {
    const release = this.#release;
    this.#held = undefined;
    this.#release = undefined;
    release?.();
  }
}

class SlipwaySqliteDriver implements Driver {
  readonly #db: BetterSqlite3.Database;
  readonly #connection: SqliteConnection;
  readonly #mutex = new Mutex();
  constructor(db: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#db = db;
    this.#connection = new SqliteConnection(db, busyTimeoutMs);
  }
  async init(): Promise<void> {
    // SQLite's own busy handler would block the event loop; SqliteConnection waits asynchronously instead.
    this.#db.pragma("busy_timeout = 0");
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(Compiled.raw("begin immediate"));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(Compiled.raw("commit"));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(Compiled.raw("rollback"));
  }
  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }
  async destroy(): Promise<void> {
    this.#db.close();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class SlipwaySqliteDialect extends SqliteDialect {
  readonly #db: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;
  constructor(db: BetterSqlite3.Database, busyTimeoutMs: number) {
    super({ database: db });
    this.#db = db;
    this.#busyTimeoutMs = busyTimeoutMs;
  }
  override createDriver(): Driver {
    return new SlipwaySqliteDriver(this.#db, this.#busyTimeoutMs);
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
