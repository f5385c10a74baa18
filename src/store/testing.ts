// Test support: a fresh database per test file on each backend. PostgreSQL is the one at
// SLIPWAY_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test); each call creates its own
// database there and drops it afterwards, so test files can run in parallel. When CI is set, an
// unreachable PostgreSQL makes the tests fail rather than skip.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { DialectName } from "./migrations.js";
import type { StoreApi } from "./open.js";
import type { ReleaseInput } from "./releases.js";

export const adminPostgresUrl =
  process.env.SLIPWAY_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

export type TestDatabase = {
  backend: DialectName;
  /** Pass to openStore. */
  url: string | undefined;
  dataDir: string;
  drop(): Promise<void>;
};

let reachable: Promise<string | null> | undefined;

/** Null when PostgreSQL answers, else why not. */
export function postgresProblem(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminPostgresUrl, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query("select 1");
      return null;
    } catch (err) {
      return `PostgreSQL at ${adminPostgresUrl} is unreachable: ${(err as Error).message || String(err)}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/**
 * The backends to run a suite against: both, except that PostgreSQL is left out (with a warning) when
 * it is unreachable and CI is not set. In CI it stays in, and createTestDatabase fails loudly.
 */
export async function testBackends(): Promise<[DialectName][]> {
  const problem = await postgresProblem();
  if (problem && !process.env.CI) {
    console.warn(`${problem}; skipping the PostgreSQL half of the store tests (CI would fail here)`);
    return [["sqlite"]];
  }
  return [["sqlite"], ["postgres"]];
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminPostgresUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(backend: DialectName): Promise<TestDatabase> {
  const makeDir = () => mkdtempSync(join(tmpdir(), "slipway-store-"));
  if (backend === "sqlite") {
    const dataDir = makeDir();
    return {
      backend,
      url: undefined,
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const problem = await postgresProblem();
  if (problem) throw new Error(problem);
  const name = `slipway_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(adminPostgresUrl);
  url.pathname = `/${name}`;
  // PostgreSQL keeps nothing there, but openStore takes a data directory all the same.
  const dataDir = makeDir();
  return {
    backend,
    url: url.toString(),
    dataDir,
    async drop() {
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One job of a fresh repository's push run, for tests that need a job row to hang things on (reports,
 * artifacts, claims): `labels` and `status` as given (default: no labels, running).
 */
export async function insertTestJob(
  store: Pick<StoreApi, "repos" | "runs" | "jobs">,
  opts: { status?: "queued" | "running"; labels?: string[] } = {},
) {
  const repo = await store.repos.create({
    name: `repo-${randomBytes(6).toString("hex")}`,
    url: "https://example.com/x.git",
  });
  const run = await store.runs.create({
    repoId: repo.id,
    workflowFile: ".github/workflows/ci.yml",
    workflowName: "CI",
    eventName: "push",
    event: {},
    sha: "abc123",
    ref: "refs/heads/main",
    trigger: "webhook",
  });
  const [job] = await store.jobs.insertMany(run.id, 1, [
    {
      jobKey: "build",
      jobId: "build",
      name: "build",
      labels: opts.labels ?? [],
      status: opts.status ?? "running",
    },
  ]);
  return job;
}

/**
 * Release inputs for the store's release, event and lock suites: `newApp()` names an app no other test
 * of the suite uses (so tests share a database without seeing each other), `input(app)` a valid release.
 */
export function releaseFixtures() {
  let unique = 0;
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
  return { newApp, input };
}
