// The pieces of the serve benchmark that are not measurement: a repository with many commits (one per
// push), GitHub's push example payload adjusted to each of them, a `slipway serve` child process on a
// free loopback port, and throwaway PostgreSQL databases.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import pg from "pg";

export const benchWorkflow = `name: Bench
on: push
jobs:
  hello:
    runs-on: ubuntu-latest
    steps:
      - run: echo "bench-first-step $(date +%s%3N)"
      - run: echo "bench done"
`;

export type BenchRepo = { dir: string; base: string; commits: string[] };

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("GIT_")) delete env[k];
  return {
    ...env,
    GIT_AUTHOR_NAME: "Bench",
    GIT_AUTHOR_EMAIL: "bench@localhost",
    GIT_COMMITTER_NAME: "Bench",
    GIT_COMMITTER_EMAIL: "bench@localhost",
  };
}

/**
 * A repository whose first commit holds the workflow, followed by `count` commits that each change
 * `counter.txt` (written with `git fast-import`, so a thousand take well under a second). The commits
 * hang off `refs/bench/all`, which the server's mirror does not fetch; `main` stays at the first commit
 * until `advance()` moves it, as a push would, just before the webhook for that commit is sent.
 */
export function makeBenchRepo(dir: string, count: number): BenchRepo {
  mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
  writeFileSync(join(dir, ".github", "workflows", "bench.yml"), benchWorkflow);
  writeFileSync(join(dir, "counter.txt"), "0\n");
  const git = (args: string[], input?: string) =>
    execFileSync("git", args, { cwd: dir, env: gitEnv(), input, encoding: "utf8" }).trim();
  git(["init", "-q", "-b", "main"]);
  git(["add", "-A"]);
  git(["-c", "commit.gpgsign=false", "commit", "-q", "-m", "Bench workflow"]);
  const base = git(["rev-parse", "HEAD"]);
  let stream = "";
  const when = Math.floor(Date.now() / 1000);
  for (let i = 1; i <= count; i++) {
    const content = `${i}\n`;
    const message = `Bump counter to ${i}`;
    stream +=
      `commit refs/bench/all\nmark :${i}\ncommitter Bench <bench@localhost> ${when + i} +0000\n` +
      `data ${Buffer.byteLength(message)}\n${message}\n` +
      (i === 1 ? `from ${base}\n` : "") +
      `M 100644 inline counter.txt\ndata ${Buffer.byteLength(content)}\n${content}\n`;
  }
  stream += "done\n";
  const marksFile = join(dir, ".git", "bench-marks");
  git(["fast-import", "--quiet", "--done", `--export-marks=${marksFile}`], stream);
  const marks = new Map(
    readFileSync(marksFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ") as [string, string]),
  );
  const commits = Array.from({ length: count }, (_, i) => marks.get(`:${i + 1}`)!);
  return { dir, base, commits };
}

/** Moves `main` forward (never back) to commit `index`; calls are serialised. */
export function branchMover(repo: BenchRepo): (index: number) => Promise<void> {
  let head = -1;
  let chain: Promise<void> = Promise.resolve();
  return (index) => {
    chain = chain.then(async () => {
      if (index <= head) return;
      await run("git", ["update-ref", "refs/heads/main", repo.commits[index]], repo.dir);
      head = index;
    });
    return chain;
  };
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, env: gitEnv() }, (err) => (err ? reject(err) : resolve())),
  );
}

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as { name: string; examples: any[] }[];
const pushExample = definitions
  .find((d) => d.name === "push")!
  .examples.find((e) => e.ref.startsWith("refs/heads/") && e.commits.length > 0);

/** GitHub's push example for a push of one commit (`before` → `after`) that changed counter.txt. */
export function pushPayload(repo: BenchRepo, fullName: string, before: string, after: string): string {
  const p = structuredClone(pushExample);
  const commit = {
    ...p.commits[0],
    id: after,
    message: "Bump counter",
    timestamp: new Date().toISOString(),
    added: [],
    removed: [],
    modified: ["counter.txt"],
  };
  const [owner, name] = fullName.split("/");
  p.ref = "refs/heads/main";
  p.before = before;
  p.after = after;
  p.created = false;
  p.commits = [commit];
  p.head_commit = commit;
  p.repository = {
    ...p.repository,
    name,
    full_name: fullName,
    clone_url: repo.dir,
    default_branch: "main",
    owner: { ...p.repository.owner, login: owner },
  };
  return JSON.stringify(p);
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export type ServerProcess = {
  url: string;
  token: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
};

/** `slipway serve` on a free loopback port; resolves once it printed its URL. */
export async function startServe(
  bin: string,
  dataDir: string,
  database: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ServerProcess> {
  const args = [bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir];
  if (database) args.push("--database", database);
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-200_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`slipway serve did not start:\n${err}`)), 60_000);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`slipway serve exited (${code}):\n${err}`));
    });
  });
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  return {
    url,
    token,
    child,
    stderr: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const hard = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.once("exit", () => {
          clearTimeout(hard);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

export const pgAdminUrl = process.env.SLIPWAY_BENCH_PG ?? "postgres://postgres@127.0.0.1:5432/test";

async function adminQuery<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The PostgreSQL server's version, or undefined when it cannot be reached. */
export async function postgresVersion(): Promise<string | undefined> {
  try {
    const [row] = await adminQuery<{ server_version: string }>("SHOW server_version");
    return row.server_version;
  } catch {
    return undefined;
  }
}

export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `slipway_bench_${randomBytes(5).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(pgAdminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
