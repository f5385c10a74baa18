// A fresh database for each describe block that asks for one: a SQLite file in a temporary directory, or a
// PostgreSQL database of its own at SLIPWAY_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test,
// trust auth), so test files run in parallel. useStore(backend) also opens a store on it; both are closed
// and dropped in afterAll. Run a suite on every backend with `describe.each(await testBackends())`.
import { afterAll, beforeAll } from "vitest";
import { openStore, type Store } from "../../src/store/index.js";
import type { DialectName } from "../../src/store/migrations.js";
import { createTestDatabase, type TestDatabase, testBackends } from "../../src/store/testing.js";

export { createTestDatabase, type TestDatabase, testBackends };

export type DatabaseFixture = {
  /** The database: its URL and data directory, for openStore or a CLI run on it. */
  readonly database: TestDatabase;
  /** A store on the database (another connection each call); closed in afterAll unless closed before. */
  open(): Promise<Store>;
};

export type StoreFixture = DatabaseFixture & {
  /** The store opened on the database in beforeAll. */
  readonly store: Store;
};

function ready<T>(value: T | undefined): T {
  // Read at collection time (outside a test or hook), the fixture has nothing yet.
  if (value === undefined)
    throw new Error("the test database is made in beforeAll: use it in tests and hooks");
  return value;
}

/** A fresh database of `backend` for the calling describe block, with no store opened on it. */
export function useDatabase(backend: DialectName): DatabaseFixture {
  let database: TestDatabase | undefined;
  const opened: Store[] = [];
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    // Closing twice is harmless, so stores a test closed itself are closed again here.
    for (const s of opened.splice(0)) await s.close();
    await database?.drop();
  });
  return {
    get database() {
      return ready(database);
    },
    async open() {
      const { url, dataDir } = ready(database);
      const store = await openStore({ url, dataDir });
      opened.push(store);
      return store;
    },
  };
}

/** A fresh database of `backend` for the calling describe block, and a store opened on it. */
export function useStore(backend: DialectName): StoreFixture {
  const fixture = useDatabase(backend);
  let store: Store | undefined;
  beforeAll(async () => {
    store = await fixture.open();
  });
  return {
    get database() {
      return fixture.database;
    },
    open: () => fixture.open(),
    get store() {
      return ready(store);
    },
  };
}
