// End-to-end helpers for `slipway serve`: real server and runner processes on free loopback ports with
// throwaway data directories (and, for PostgreSQL, a throwaway database), real git repositories, the
// CLI run as a user would, and webhooks built from GitHub's own example payloads and signed with the
// repository's secret. Tests use the `test` exported here: its `h` fixture (a Harness) starts the
// processes of one test and kills them, and every process that inherited its tag (steps), when the
// test ends — so the tests of a file can run concurrently.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import pg from "pg";
import { afterAll, test as baseTest } from "vitest";
import { sleep, waitFor } from "../../support/wait.js";

export const rootDir = resolve(import.meta.dirname, "..", "..", "..");
export const binPath = join(rootDir, "bin", "slipway.js");

const tempDirs: string[] = [];

// The e2e tests import these from here, with the rest of the harness.
export { sleep, waitFor };

export function tempDir(prefix = "slipway-e2e-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes the temporary directories (call in afterAll). */
export function removeTempDirs(): void {
  if (process.env.SLIPWAY_E2E_KEEP) return;
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The environment without the variables of a CI system (or of slipway) the tests may run under. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(GITHUB_|RUNNER_|ACTIONS_|INPUT_|STATE_|SLIPWAY_)/.test(k) || k === "CI" || k.startsWith("GIT_"))
      continue;
    if (k.startsWith("npm_") || k.startsWith("VITEST") || k === "NODE_OPTIONS") continue;
    out[k] = v;
  }
  return { ...out, NO_COLOR: "1", ...extra };
}

/** Pids of live processes whose environment carries `tag` (a harness's servers, runners, their steps). */
export function taggedPids(tag: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "latin1");
      if (env.includes(`E2E_PROCESS_TAG=${tag}\0`)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Whether a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

// --- processes ---

export type Proc = {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
};

export type ServerOptions = {
  /** Default: a new temporary directory. */
  dataDir?: string;
  /** A postgres:// URL; default SQLite in the data dir. */
  database?: string;
  /** Extra `slipway serve` flags. */
  args?: string[];
  env?: Record<string, string>;
};

export type Server = Proc & {
  url: string;
  dataDir: string;
  database?: string;
  /** The admin token from `<dataDir>/admin-token`. */
  token: string;
};

export type CliResult = { code: number | null; stdout: string; stderr: string; json?: any };

type Target = { url: string; token: string };

const configHome = tempDir("slipway-config-");

/**
 * The processes of one test: servers, runners and CLI invocations it started. Each carries the
 * harness's tag in its environment, and so do their steps, so `cleanup()` kills exactly this test's
 * processes, also when tests of a file run concurrently.
 */
export class Harness {
  readonly tag = `slipway-e2e-${randomUUID()}`;
  private readonly children = new Set<ChildProcess>();

  env(extra: Record<string, string> = {}): Record<string, string> {
    // Steps and instances get only the variables passed to them (lib/child-env): pass the tag on.
    return cleanEnv({
      E2E_PROCESS_TAG: this.tag,
      SLIPWAY_PASS_ENV: "E2E_PROCESS_TAG",
      XDG_CONFIG_HOME: configHome,
      ...extra,
    });
  }

  spawn(args: string[], env: Record<string, string>, cwd = rootDir): Proc {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once("close", (code, signal) => r({ code, signal })),
    );
    return {
      child,
      pid: child.pid!,
      stdout: () => out,
      stderr: () => err,
      exited,
      kill: (signal = "SIGKILL") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  }

  /** Starts `slipway serve` on a free loopback port and waits for its `{"url": …}` line. */
  async startServer(opts: ServerOptions = {}): Promise<Server> {
    const dataDir = opts.dataDir ?? join(tempDir("slipway-server-"), "data");
    const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...(opts.args ?? [])];
    if (opts.database) args.push("--database", opts.database);
    const proc = this.spawn(args, this.env(opts.env));
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not start in time:\n${proc.stderr()}`)),
        30_000,
      );
      const onData = () => {
        const line = proc
          .stdout()
          .split("\n")
          .find((l) => l.startsWith("{"));
        if (!line) return;
        clearTimeout(timer);
        proc.child.stdout!.off("data", onData);
        resolveUrl((JSON.parse(line) as { url: string }).url);
      };
      proc.child.stdout!.on("data", onData);
      void proc.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? signal}) before listening:\n${proc.stderr()}`));
      });
    });
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    return { ...proc, url, dataDir, database: opts.database, token };
  }

  /** Starts `slipway runner` against a server (an admin token registers it). */
  startRunner(
    server: Target,
    opts: { labels: string[]; name?: string; concurrency?: number; env?: Record<string, string> },
  ): Proc {
    return this.spawn(
      [
        "runner",
        "--server",
        server.url,
        "--token",
        server.token,
        "--labels",
        opts.labels.join(","),
        "--name",
        opts.name ?? `runner-${randomBytes(3).toString("hex")}`,
        "--concurrency",
        String(opts.concurrency ?? 1),
        "--data-dir",
        tempDir("slipway-runner-"),
      ],
      this.env(opts.env),
    );
  }

  /** `slipway ARGS` against a server (SLIPWAY_SERVER/SLIPWAY_TOKEN unless `token: null`). */
  async cli(
    server: Target | null,
    args: string[],
    opts: { token?: string | null; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    const token = opts.token === undefined ? server?.token : opts.token;
    const env = this.env({
      ...(server ? { SLIPWAY_SERVER: server.url } : {}),
      ...(token ? { SLIPWAY_TOKEN: token } : {}),
      ...opts.env,
    });
    const proc = this.spawn(args, env, opts.cwd);
    const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    this.children.delete(proc.child);
    const result: CliResult = { code, stdout: proc.stdout(), stderr: proc.stderr() };
    if (args.includes("--json")) {
      try {
        result.json = JSON.parse(proc.stdout());
      } catch {
        // NDJSON or not JSON: the caller reads stdout
      }
    }
    return result;
  }

  /** Like cli(), but throws unless the exit code is 0. */
  async cliOk(server: Target | null, args: string[], opts: Parameters<Harness["cli"]>[2] = {}) {
    const r = await this.cli(server, args, opts);
    if (r.code !== 0)
      throw new Error(`slipway ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  /** Starts `slipway ARGS` against a server without waiting for it (e.g. `logs --follow`). */
  cliSpawn(server: Target, args: string[]): Proc {
    return this.spawn(args, this.env({ SLIPWAY_SERVER: server.url, SLIPWAY_TOKEN: server.token }));
  }

  /** Kills this test's processes (SIGKILL) and every process that inherited its tag (steps). */
  async cleanup(): Promise<void> {
    const all = [...this.children];
    for (const c of all) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            const t = setTimeout(r, 5000);
            c.once("exit", () => {
              clearTimeout(t);
              r();
            });
          }),
      ),
    );
    this.children.clear();
    for (const pid of taggedPids(this.tag)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/** vitest's `test` with a per-test harness `h` whose processes are killed when the test ends. */
export const test = baseTest.extend<{ h: Harness }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures must destructure their first argument
  h: async ({}, use) => {
    const h = new Harness();
    try {
      await use(h);
    } finally {
      await h.cleanup();
    }
  },
});

/** Registers the end-of-file cleanup: databases made by createDatabase(), temporary directories. */
export function cleanupAfterAll(): void {
  afterAll(async () => {
    await dropDatabases();
    removeTempDirs();
  });
}

// --- the REST API, for polling and for what the CLI does not show ---

export async function api<T = any>(
  server: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
  token: string | null = server.token,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text
  }
  return { status: res.status, body: parsed as T };
}

export type RunView = {
  run: {
    id: number;
    status: string;
    conclusion: string | null;
    attempt: number;
    sha: string;
    ref: string;
    eventName: string;
    reason: string | null;
    pullRequest: { number: number; title: string; author: string; url: string } | null;
    deliveryId: string | null;
    [k: string]: unknown;
  };
  attempts: {
    attempt: number;
    jobs: {
      id: number;
      jobKey: string;
      jobId: string;
      status: string;
      outputs: Record<string, string>;
      reason: string | null;
      reusedFrom: number | null;
      runnerId: string | null;
      matrix: Record<string, unknown> | null;
      startedAt: number | null;
      finishedAt: number | null;
      steps: { idx: number; name: string; conclusion: string | null; startedAt: number | null }[];
    }[];
  }[];
};

export async function getRun(server: { url: string; token: string }, id: number): Promise<RunView> {
  const r = await api<RunView>(server, "GET", `/api/v1/runs/${id}`);
  if (r.status !== 200) throw new Error(`GET /api/v1/runs/${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function listRuns(
  server: { url: string; token: string },
  query = "",
): Promise<RunView["run"][]> {
  const r = await api<{ runs: RunView["run"][] }>(server, "GET", `/api/v1/runs?limit=1000${query}`);
  return r.body.runs;
}

/** Waits until the run is completed (by default) and returns it as `runs show --json` prints it. */
export async function waitForRun(
  server: { url: string; token: string; stderr?: () => string },
  id: number,
  opts: { timeoutMs?: number; until?: (v: RunView) => boolean } = {},
): Promise<RunView> {
  const until = opts.until ?? ((v: RunView) => v.run.status === "completed");
  let last: RunView | undefined;
  try {
    return await waitFor(
      `run ${id}`,
      async () => {
        last = await getRun(server, id);
        return until(last) ? last : undefined;
      },
      opts.timeoutMs ?? 30_000,
      150,
    );
  } catch (err) {
    const log = server.stderr ? `\nserver log (end):\n${server.stderr().slice(-3000)}` : "";
    throw new Error(`${(err as Error).message}\nlast seen: ${JSON.stringify(last)?.slice(0, 3000)}${log}`);
  }
}

/** The job of the latest (or given) attempt with this key. */
export function jobOf(view: RunView, key: string, attempt = view.run.attempt) {
  const job = view.attempts.find((a) => a.attempt === attempt)?.jobs.find((j) => j.jobKey === key);
  if (!job) throw new Error(`no job ${key} in attempt ${attempt}: ${JSON.stringify(view.attempts)}`);
  return job;
}

/** The whole log text of a run attempt (all jobs) from the API. */
export async function logText(server: { url: string; token: string }, id: number, attempt?: number) {
  const r = await api<{ jobs: { jobKey: string; chunks: { content: string }[] }[] }>(
    server,
    "GET",
    `/api/v1/runs/${id}/logs${attempt ? `?attempt=${attempt}` : ""}`,
  );
  return r.body.jobs.map((j) => j.chunks.map((c) => c.content).join("")).join("");
}

// --- git repositories ---

export type GitRepo = {
  dir: string;
  git(...args: string[]): string;
  /** Writes (or with null deletes) files and commits; returns the new HEAD. */
  commit(files: Record<string, string | null>, message?: string): string;
  head(): string;
};

export function makeRepo(files: Record<string, string>, branch = "main"): GitRepo {
  const dir = join(tempDir("slipway-repo-"), "app");
  mkdirSync(dir);
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: cleanEnv({
        GIT_AUTHOR_NAME: "Test Author",
        GIT_AUTHOR_EMAIL: "author@example.com",
        GIT_COMMITTER_NAME: "Test Author",
        GIT_COMMITTER_EMAIL: "author@example.com",
      }),
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  let n = 0;
  const commit = (changes: Record<string, string | null>, message = `commit ${++n}`) => {
    for (const [path, content] of Object.entries(changes)) {
      const full = join(dir, path);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git("add", "-A");
    git("-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", message);
    return git("rev-parse", "HEAD");
  };
  git("init", "-q", "-b", branch);
  commit(files, "Initial commit");
  return { dir, git, commit, head: () => git("rev-parse", "HEAD") };
}

/** A workflow that only runs on dispatch/push, as YAML text (the caller writes the jobs). */
export function workflowFile(yaml: string): string {
  return `${yaml.replace(/^\n/, "")}\n`;
}

/**
 * Registers the repository and returns its webhook secret: through the REST API (fast), or with
 * `slipway repo add` run by the harness `viaCli` (the CLI costs a Node start, about a second on a
 * busy machine).
 */
export async function addRepo(
  server: { url: string; token: string },
  repo: GitRepo,
  name: string,
  opts: { poll?: number; viaCli?: Harness } = {},
): Promise<string> {
  if (opts.viaCli) {
    const extra = opts.poll ? ["--poll", String(opts.poll)] : [];
    const r = await opts.viaCli.cliOk(server, ["repo", "add", repo.dir, "--name", name, "--json", ...extra]);
    return r.json.webhookSecret as string;
  }
  const r = await api<{ webhookSecret: string }>(server, "POST", "/api/v1/repos", {
    url: repo.dir,
    name,
    ...(opts.poll ? { pollInterval: opts.poll } : {}),
  });
  if (r.status !== 201) throw new Error(`POST /api/v1/repos: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.webhookSecret;
}

/** Starts a workflow_dispatch run through the REST API (the CLI's `dispatch` is tested on its own). */
export async function dispatchRun(
  server: { url: string; token: string },
  repoName: string,
  workflow: string,
  inputs: Record<string, string> = {},
): Promise<number> {
  const r = await api<{ runs: { id: number }[] }>(
    server,
    "POST",
    `/api/v1/repos/${encodeURIComponent(repoName)}/dispatch`,
    { workflow, inputs },
  );
  if (r.status !== 201 || r.body.runs.length !== 1)
    throw new Error(`dispatch ${workflow}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.runs[0].id;
}

// --- webhooks ---

const require = createRequire(import.meta.url);
const definitions = require("@octokit/webhooks-examples") as WebhookDefinition[];

/** A deep copy of one of GitHub's example payloads for `event`, chosen by `pick`. */
export function examplePayload(event: string, pick: (p: any) => boolean = () => true): any {
  const def = definitions.find((d) => d.name === event);
  const example = def?.examples.find((e) => pick(e));
  if (!example) throw new Error(`no example payload for ${event}`);
  return structuredClone(example);
}

function repositoryOf(example: any, fullName: string, repo: GitRepo) {
  const [owner, name] = fullName.split("/");
  return {
    ...example,
    name,
    full_name: fullName,
    clone_url: repo.dir,
    default_branch: "main",
    owner: { ...example.owner, login: owner, name: owner },
  };
}

/** The commits of `before..after` as GitHub lists them in a push payload (with their changed files). */
function pushCommits(repo: GitRepo, before: string, after: string) {
  const range = /^0+$/.test(before) ? [after] : [`${before}..${after}`];
  const shas = repo
    .git("rev-list", "--reverse", ...range)
    .split("\n")
    .filter(Boolean);
  return shas.map((sha) => {
    const files = { added: [] as string[], removed: [] as string[], modified: [] as string[] };
    const out = repo.git("diff-tree", "--root", "--no-commit-id", "--name-status", "-r", sha);
    for (const line of out.split("\n").filter(Boolean)) {
      const [status, path] = line.split("\t");
      if (status === "A") files.added.push(path);
      else if (status === "D") files.removed.push(path);
      else files.modified.push(path);
    }
    return {
      id: sha,
      tree_id: repo.git("rev-parse", `${sha}^{tree}`),
      distinct: true,
      message: repo.git("log", "-1", "--format=%s", sha),
      timestamp: new Date().toISOString(),
      url: `https://example.test/commit/${sha}`,
      author: { name: "Test Author", email: "author@example.com", username: "tester" },
      committer: { name: "Test Author", email: "author@example.com", username: "tester" },
      ...files,
    };
  });
}

/** GitHub's push example adjusted to a push of `before..after` to `ref` in the test repository. */
export function pushPayload(
  repo: GitRepo,
  fullName: string,
  opts: { ref?: string; before: string; after: string },
): any {
  const p = examplePayload("push", (e) => e.ref.startsWith("refs/heads/") && e.commits.length > 0);
  const commits = pushCommits(repo, opts.before, opts.after);
  p.ref = opts.ref ?? "refs/heads/main";
  p.before = opts.before;
  p.after = opts.after;
  p.created = /^0+$/.test(opts.before);
  p.commits = commits;
  p.head_commit = commits.at(-1) ?? null;
  p.repository = repositoryOf(p.repository, fullName, repo);
  p.compare = `https://example.test/${fullName}/compare/${opts.before.slice(0, 12)}...${opts.after.slice(0, 12)}`;
  return p;
}

export type PullRequestOptions = {
  action: "opened" | "synchronize" | "closed";
  number: number;
  title: string;
  author: string;
  headRef: string;
  headSha: string;
  baseRef?: string;
  baseSha: string;
  merged?: boolean;
  before?: string;
};

/** GitHub's pull_request example for `action`, adjusted to a branch of the test repository. */
export function pullRequestPayload(repo: GitRepo, fullName: string, o: PullRequestOptions): any {
  const p = examplePayload("pull_request", (e) => e.action === o.action);
  const repository = repositoryOf(p.repository, fullName, repo);
  const pr = p.pull_request;
  p.number = o.number;
  pr.number = o.number;
  pr.title = o.title;
  pr.user = { ...pr.user, login: o.author };
  pr.html_url = `https://example.test/${fullName}/pull/${o.number}`;
  pr.url = `https://api.example.test/repos/${fullName}/pulls/${o.number}`;
  pr.head = { ...pr.head, ref: o.headRef, sha: o.headSha, label: `x:${o.headRef}`, repo: repository };
  pr.base = { ...pr.base, ref: o.baseRef ?? "main", sha: o.baseSha, label: "x:main", repo: repository };
  if (o.action === "closed") {
    pr.state = "closed";
    pr.merged = o.merged ?? false;
    pr.merged_at = o.merged ? new Date().toISOString() : null;
    pr.merge_commit_sha = o.merged ? o.headSha : null;
  }
  if (o.action === "synchronize") {
    p.before = o.before ?? o.baseSha;
    p.after = o.headSha;
  }
  p.repository = repository;
  return p;
}

/** GitHub's ping example for a hook on the test repository. */
export function pingPayload(repo: GitRepo, fullName: string): any {
  const p = examplePayload("ping", (e) => e.repository !== undefined);
  p.repository = repositoryOf(p.repository, fullName, repo);
  return p;
}

export function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** POSTs a GitHub webhook (signed with `secret` unless `signature` is given). */
export async function sendWebhook(
  server: { url: string },
  event: string,
  payload: unknown,
  secret: string,
  opts: { deliveryId?: string; signature?: string; rawBody?: string | Buffer } = {},
): Promise<{ status: number; body: any; deliveryId: string }> {
  const body = opts.rawBody ?? JSON.stringify(payload);
  const deliveryId = opts.deliveryId ?? randomUUID();
  const res = await fetch(`${server.url}/hooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/e2e",
      "x-github-event": event,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": opts.signature ?? sign(secret, body),
    },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, deliveryId };
}

// --- PostgreSQL ---

export const pgAdminUrl = process.env.SLIPWAY_E2E_PG ?? "postgres://postgres@127.0.0.1:5432/test";

let pgReachable: boolean | undefined;

/**
 * Whether the test PostgreSQL answers. Under CI=true it must: an unreachable server throws, so the
 * PostgreSQL tests fail instead of being skipped.
 */
export async function postgresAvailable(): Promise<boolean> {
  if (pgReachable === undefined) {
    const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("select 1");
      pgReachable = true;
    } catch (err) {
      if (process.env.CI === "true" || process.env.CI === "1")
        throw new Error(`PostgreSQL at ${pgAdminUrl} is unreachable under CI: ${(err as Error).message}`);
      pgReachable = false;
    } finally {
      await client.end().catch(() => {});
    }
  }
  return pgReachable;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const createdDatabases: string[] = [];

/** CREATE DATABASE slipway_e2e_<random>; returns its URL. Dropped by dropDatabases(). */
export async function createDatabase(): Promise<string> {
  const name = `slipway_e2e_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  createdDatabases.push(name);
  const u = new URL(pgAdminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabases(): Promise<void> {
  for (const name of createdDatabases.splice(0)) {
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

/** The two stores the core flow runs on; the PostgreSQL one makes a fresh database per server. */
export const databases = [
  { name: "sqlite", database: async (): Promise<string | undefined> => undefined },
  { name: "postgres", database: createDatabase },
] as const;

/** A file's lines (empty when it does not exist). */
export function linesOf(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}
