// Opening the store: pick the dialect from the URL, connect, check the database answers, migrate.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { OperationError, UserError } from "../lib/errors.js";
import { createArtifacts } from "./artifacts.js";
import { createAudit } from "./audit.js";
import { createDeliveries } from "./deliveries.js";
import { createJobReports } from "./job-reports.js";
import { createJobs } from "./jobs.js";
import { createLogs } from "./logs.js";
import { type DialectName, migrationProvider } from "./migrations.js";
import { createRepos } from "./repos.js";
import { createRunners } from "./runners.js";
import { createDeployApps } from "./deploy-apps.js";
import { createDeployLocks } from "./deploy-locks.js";
import { createEnvironments } from "./environments.js";
import { createForge } from "./forge.js";
import { createNotifications } from "./notifications.js";
import { createReleases } from "./releases.js";
import { createRuns } from "./runs.js";
import type { Database } from "./schema.js";
import { SlipwaySqliteDialect } from "./sqlite-dialect.js";
import { createSecrets } from "./secrets.js";
import { createSessions } from "./sessions.js";
import { createSteps } from "./steps.js";
import { createTokens } from "./tokens.js";
import type { Db } from "./util.js";

export type StoreOptions = {
  /** `postgres://…` / `postgresql://…`, `sqlite:<path>` or a path; default `<dataDir>/slipway.db`. */
  url?: string;
  dataDir: string;
};

/** The aggregates, bound to one query handle (the store's Kysely instance or a transaction). */
export type StoreApi = {
  db: Kysely<Database>;
  dialect: DialectName;
  repos: ReturnType<typeof createRepos>;
  runs: ReturnType<typeof createRuns>;
  jobs: ReturnType<typeof createJobs>;
  steps: ReturnType<typeof createSteps>;
  logs: ReturnType<typeof createLogs>;
  jobReports: ReturnType<typeof createJobReports>;
  artifacts: ReturnType<typeof createArtifacts>;
  deliveries: ReturnType<typeof createDeliveries>;
  tokens: ReturnType<typeof createTokens>;
  sessions: ReturnType<typeof createSessions>;
  runners: ReturnType<typeof createRunners>;
  secrets: ReturnType<typeof createSecrets>;
  audit: ReturnType<typeof createAudit>;
  notifications: ReturnType<typeof createNotifications>;
  releases: ReturnType<typeof createReleases>;
  deployLocks: ReturnType<typeof createDeployLocks>;
  deployApps: ReturnType<typeof createDeployApps>;
  environments: ReturnType<typeof createEnvironments>;
  forge: ReturnType<typeof createForge>;
};

export type Store = StoreApi & {
  /** The SQLite file, or the PostgreSQL URL with its password masked: for messages. */
  location: string;
  /**
   * Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED) and commits when
   * it resolves, rolls back when it throws. Inside, use only `tx` — on SQLite the store's own handle
   * waits for the transaction to end, so using it inside would wait forever.
   */
  transaction<T>(fn: (tx: StoreApi) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

type Target = { dialect: "sqlite"; file: string } | { dialect: "postgres"; url: string };

const migrationTableName = "slipway_migrations";
const migrationLockTableName = "slipway_migrations_lock";
/** How long a SQLite statement waits for another connection's write lock before it fails. */
const sqliteBusyTimeoutMs = 10_000;
const pgConnectTimeoutMs = 10_000;

export function resolveTarget(opts: StoreOptions): Target {
  const url = opts.url?.trim();
  if (!url) return { dialect: "sqlite", file: resolve(join(opts.dataDir, "slipway.db")) };
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: "postgres", url };
  if (/^sqlite:/i.test(url)) {
    const path = url
      .slice("sqlite:".length)
      .replace(/^\/\/(?=\/)/, "")
      .replace(/^\/\//, "");
    if (!path) throw new UserError(`database URL "${url}" names no file; use sqlite:<path>`);
    return { dialect: "sqlite", file: path === ":memory:" ? path : resolve(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new UserError(`unsupported database URL "${maskPassword(url)}"; use postgres://… or sqlite:<path>`);
  }
  return { dialect: "sqlite", file: resolve(url) };
}

export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
  }
}

function describeCause(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map((e) => describeCause(e)))].join("; ");
  }
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}

export function bindStore(db: Db, dialect: DialectName): StoreApi {
  return {
    db,
    dialect,
    repos: createRepos(db),
    runs: createRuns(db),
    jobs: createJobs(db),
    steps: createSteps(db),
    logs: createLogs(db, dialect),
    jobReports: createJobReports(db),
    artifacts: createArtifacts(db, dialect),
    deliveries: createDeliveries(db),
    tokens: createTokens(db),
    sessions: createSessions(db),
    runners: createRunners(db),
    secrets: createSecrets(db),
    audit: createAudit(db),
    notifications: createNotifications(db),
    releases: createReleases(db),
    deployLocks: createDeployLocks(db),
    deployApps: createDeployApps(db),
    environments: createEnvironments(db),
    forge: createForge(db),
  };
}

/**
 * Opens (creating when needed) and migrates the store. A database that cannot be opened or migrated is
 * an OperationError "cannot open database <where>: <why>".
 *
 * SQLite runs in WAL mode with synchronous=NORMAL: a commit is in the WAL file (the OS's page cache at
 * least) before it returns, so it survives kill -9 of the process; only a power loss or kernel crash
 * can lose the last commits (never corrupting the file). Use PostgreSQL where that matters.
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  const target = resolveTarget(opts);
  const location = target.dialect === "sqlite" ? target.file : maskPassword(target.url);
  const db = target.dialect === "sqlite" ? openSqlite(target.file) : await openPostgres(target.url, location);

  const migrator = new Migrator({
    db,
    provider: migrationProvider(target.dialect),
    migrationTableName,
    migrationLockTableName,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy().catch(() => {});
    const message = describeCause(error);
    const newer = /previously executed migration (\S+) is missing/.exec(message);
    throw new OperationError(
      newer
        ? `cannot open database ${location}: it has migration ${newer[1]}, unknown to this slipway (written by a newer version?)`
        : `cannot open database ${location}: migration failed: ${message}`,
      { cause: error },
    );
  }

  let closed = false;
  return {
    ...bindStore(db, target.dialect),
    location,
    transaction: (fn) => db.transaction().execute((tx) => fn(bindStore(tx, target.dialect))),
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

function openSqlite(file: string): Kysely<Database> {
  let conn: BetterSqlite3.Database | undefined;
  try {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    conn = new BetterSqlite3(file);
    conn.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
    // Reading the schema first turns "not a database" into an error here rather than mid-migration.
    conn.prepare("select count(*) from sqlite_master").get();
    // Switching to WAL needs a lock; once the file is in WAL mode (it stays so), there is nothing to do.
    if (
      file !== ":memory:" &&
      String(conn.pragma("journal_mode", { simple: true })).toLowerCase() !== "wal"
    ) {
      const mode = conn.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal") throw new Error(`could not switch to WAL mode (got ${mode})`);
    }
    conn.pragma("synchronous = NORMAL");
    conn.pragma("foreign_keys = ON");
  } catch (err) {
    conn?.close();
    throw new OperationError(`cannot open database ${file}: ${describeCause(err)}`, { cause: err });
  }
  return new Kysely<Database>({ dialect: new SlipwaySqliteDialect(conn, sqliteBusyTimeoutMs) });
}

// int8 (bigserial ids, epoch-ms times, count(*)) arrives as a string by default; every such value the
// store holds is far below 2^53, so read it as a number — on this pool only, not pg's global parsers.
const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 && format !== "binary"
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

async function openPostgres(url: string, location: string): Promise<Kysely<Database>> {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: pgConnectTimeoutMs,
    types: pgTypes,
  });
  // An idle client losing its connection (a database restart) emits 'error' on the pool; without a
  // listener that would crash the server. The next query gets a fresh connection or a clear error.
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    try {
      await client.query("select 1");
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw new OperationError(`cannot open database ${location}: ${describeCause(err)}`, { cause: err });
  }
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
