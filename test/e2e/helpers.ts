// End-to-end fixtures: a folder per case under testdata/ holding a repository (`repo/`) and a
// `case.json` saying how to run `slipway` on it and what GitHub would make of it. These helpers turn a
// fixture into a throwaway git repository, run the built CLI on it as a user would, and clean up.
import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const e2eDir = dirname(fileURLToPath(import.meta.url));
export const testdataDir = join(e2eDir, "testdata");
export const rootDir = resolve(e2eDir, "..", "..");
export const binPath = join(rootDir, "bin", "slipway.js");

export type Status = "success" | "failure" | "cancelled" | "skipped";

/** A commit made after the fixture's initial one. */
export type CommitSpec = {
  message: string;
  /** Switch to this branch first (created from the current HEAD when it does not exist). */
  branch?: string;
  /** Files to write (path relative to the repository → content). */
  files?: Record<string, string>;
  /** Files to delete. */
  remove?: string[];
  /** Tag the new commit (lightweight). */
  tag?: string;
};

export type StepExpectation = {
  id?: string;
  /** Exact step name. */
  name?: string;
  /** A post step (`Post …`): matched among the job's post steps by name substring, in order. */
  post?: boolean;
  outcome: Status;
  conclusion: Status;
  /** Exact values for the given keys; `null` means the output must not be set. */
  outputs?: Record<string, string | null>;
};

export type AnnotationExpectation = {
  level?: string;
  message?: string;
  file?: string;
  line?: number;
  col?: number;
  title?: string;
  /** The step that made it (1-based among the job's reported steps); `null`: made in no step. */
  stepNumber?: number | null;
  stepName?: string;
};

export type JobExpectation = {
  id: string;
  /** The leg's matrix values; omitted for a job with one leg. */
  matrix?: Record<string, unknown> | null;
  /** A list when GitHub's behaviour is not pinned down (any of them passes). */
  status: Status | Status[];
  /** Exact values for the given keys; `null` means the output must not be set. */
  outputs?: Record<string, string | null>;
  /** The job's steps in order (post steps are only checked when listed with `post: true`). */
  steps?: StepExpectation[];
  summaryContains?: string[];
  /** Each must match one of the job's annotations (the given fields only). */
  annotations?: AnnotationExpectation[];
  annotationsNotContain?: string[];
  annotationCount?: number;
  /** `environment.url` as evaluated at the job's end; `null`: not reported. */
  environmentUrl?: string | null;
};

export type Expectation = {
  exitCode: number;
  status?: Status;
  jobs?: JobExpectation[];
  /** The run has exactly the jobs listed in `jobs` (no others). */
  exactJobs?: boolean;
  jobCount?: number;
  stdoutContains?: string | string[];
  stdoutNotContains?: string[];
  stderrContains?: string[];
  stderrNotContains?: string[];
  /** Regular expressions (multiline) the human log must match. */
  stderrMatches?: string[];
  /** These strings appear in stderr in this order. */
  stderrInOrder?: string[];
  /** Neither stdout nor stderr contains these (e.g. raw secret values). */
  outputNotContains?: string[];
  /** The CLI (not counting setup runs) took at most this long. */
  maxDurationMs?: number;
  filesExist?: string[];
  filesAbsent?: string[];
};

export type SetupStep = string[] | { args: string[]; expect?: Partial<Expectation> };

export type CaseSpec = {
  description: string;
  /** Arguments after `slipway` for the run under test; placeholders are expanded (see expand()). */
  args: string[];
  /** CLI invocations before the one under test, sharing its data directory (must exit 0 unless told). */
  setup?: SetupStep[];
  commits?: CommitSpec[];
  /** Checked out (detached) after the commits, e.g. a tag. */
  checkout?: string;
  /** Added as remote `origin` (never fetched): gives the run a repository name. */
  origin?: string;
  env?: Record<string, string>;
  /** Send a signal to the CLI once its log contains a text. */
  interrupt?: { whenStderrContains: string; signal?: NodeJS.Signals };
  expect: Expectation;
};

export type Fixture = { name: string; dir: string; spec: CaseSpec };

export function loadFixtures(dir: string = testdataDir): Fixture[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "case.json")))
    .map((d) => d.name)
    .sort()
    .map((name) => ({
      name,
      dir: join(dir, name),
      spec: JSON.parse(readFileSync(join(dir, name, "case.json"), "utf8")) as CaseSpec,
    }));
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...cleanEnv(process.env),
      GIT_AUTHOR_DATE: "2024-05-01T12:00:00Z",
      GIT_COMMITTER_DATE: "2024-05-01T12:00:00Z",
    },
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** The environment without the variables of a CI system the tests may themselves run under. */
function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(GITHUB_|RUNNER_|ACTIONS_|INPUT_|STATE_|SLIPWAY_)/.test(k) || k === "CI" || k.startsWith("GIT_"))
      continue;
    if (k.startsWith("npm_") || k.startsWith("VITEST") || k === "NODE_OPTIONS") continue;
    out[k] = v;
  }
  return out;
}

export type Workspace = {
  /** The temporary git repository. */
  repo: string;
  /** SLIPWAY_DATA_DIR for every CLI run of the case. */
  data: string;
  /** A scratch directory for the case (markers, locks), outside the repository. */
  scratch: string;
  /** Where the CLI's output files go. */
  logs: string;
  /** HEAD of the repository once set up. */
  sha: string;
  cleanup: () => void;
};

/** Copies `<fixture>/repo` into a fresh git repository with one commit, then the case's extra commits. */
export function makeWorkspace(fixture: Fixture): Workspace {
  const root = mkdtempSync(join(tmpdir(), `slipway-e2e-${fixture.name}-`));
  const repo = join(root, fixture.name);
  const data = join(root, "data");
  const scratch = join(root, "scratch");
  const logs = join(root, "logs");
  mkdirSync(data);
  mkdirSync(scratch);
  mkdirSync(logs);
  const src = join(fixture.dir, "repo");
  if (existsSync(src)) cpSync(src, repo, { recursive: true });
  else mkdirSync(repo);
  git(repo, ["init", "-q", "-b", "main"]);
  git(repo, ["config", "user.name", "Test Author"]);
  git(repo, ["config", "user.email", "author@example.com"]);
  git(repo, ["config", "commit.gpgsign", "false"]);
  git(repo, ["add", "-A"]);
  git(repo, ["commit", "-q", "--allow-empty", "-m", "Initial commit"]);
  for (const c of fixture.spec.commits ?? []) {
    if (c.branch) {
      const exists = git(repo, ["branch", "--list", c.branch]) !== "";
      git(repo, exists ? ["checkout", "-q", c.branch] : ["checkout", "-q", "-b", c.branch]);
    }
    for (const [path, content] of Object.entries(c.files ?? {})) {
      mkdirSync(dirname(join(repo, path)), { recursive: true });
      writeFileSync(join(repo, path), content);
    }
    for (const path of c.remove ?? []) git(repo, ["rm", "-q", "-r", path]);
    git(repo, ["add", "-A"]);
    git(repo, ["commit", "-q", "--allow-empty", "-m", c.message]);
    if (c.tag) git(repo, ["tag", c.tag]);
  }
  if (fixture.spec.checkout) git(repo, ["checkout", "-q", "--detach", fixture.spec.checkout]);
  if (fixture.spec.origin) git(repo, ["remote", "add", "origin", fixture.spec.origin]);
  const sha = git(repo, ["rev-parse", "HEAD"]);
  return {
    repo,
    data,
    scratch,
    logs,
    sha,
    cleanup: () => {
      if (!process.env.SLIPWAY_E2E_KEEP) rmSync(root, { recursive: true, force: true });
    },
  };
}

export type Placeholders = Record<string, string>;

/** Replaces `{{name}}` (repo, data, scratch, case, sha, runId:N) in strings, recursively. */
export function expand<T>(value: T, vars: Placeholders): T {
  if (typeof value === "string") {
    return value.replace(/\{\{([A-Za-z0-9_:]+)\}\}/g, (all, name: string) => {
      if (!(name in vars)) throw new Error(`unknown placeholder ${all}`);
      return vars[name];
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => expand(v, vars)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, vars)])) as T;
  }
  return value;
}

export type CliResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document, when the run asked for --json. */
  json?: any;
  jsonError?: string;
  durationMs: number;
  /** Bytes written to stderr in all (the kept text may be shortened, see readCapped()). */
  stderrBytes: number;
};

/**
 * The text of an output file: whole when small, else its head and tail, so a step printing megabytes
 * cannot exhaust the test's memory.
 */
function readCapped(
  path: string,
  head = 4 * 1024 * 1024,
  tail = 1024 * 1024,
): { text: string; bytes: number } {
  const size = statSync(path).size;
  if (size <= head + tail) return { text: readFileSync(path, "utf8"), bytes: size };
  const fd = openSync(path, "r");
  try {
    const a = Buffer.alloc(head);
    const b = Buffer.alloc(tail);
    readSync(fd, a, 0, head, 0);
    readSync(fd, b, 0, tail, size - tail);
    const skipped = size - head - tail;
    return {
      text: `${a.toString("utf8")}\n[… ${skipped} bytes not kept …]\n${b.toString("utf8")}`,
      bytes: size,
    };
  } finally {
    closeSync(fd);
  }
}

export type RunOptions = {
  cwd: string;
  dataDir: string;
  /** Where the CLI's stdout and stderr files go. */
  logDir: string;
  env?: Record<string, string>;
  interrupt?: CaseSpec["interrupt"];
  timeoutMs?: number;
};

let runs = 0;

/**
 * Runs `node bin/slipway.js ARGS` with a clean environment and its own data directory. Its stdout and
 * stderr go to files (as `slipway run > out 2> log` would), so a slow reader never throttles it.
 */
export function runCli(args: string[], opts: RunOptions): Promise<CliResult> {
  const env = {
    ...cleanEnv(process.env),
    // No test fetches an action from the internet: a remote action is fetched only from a server the
    // test starts and names (a closed loopback port otherwise, so a missing action fails fast).
    SLIPWAY_ACTIONS_URL: "http://127.0.0.1:9",
    ...opts.env,
    SLIPWAY_DATA_DIR: opts.dataDir,
    NO_COLOR: "1",
    SLIPWAY_KILL_GRACE_MS: "500",
  };
  const n = ++runs;
  const outPath = join(opts.logDir, `stdout-${n}.txt`);
  const errPath = join(opts.logDir, `stderr-${n}.txt`);
  const outFd = openSync(outPath, "w");
  const errFd = openSync(errPath, "w");
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(process.execPath, [binPath, ...args], {
        cwd: opts.cwd,
        env,
        stdio: ["ignore", outFd, errFd],
      });
    } finally {
      closeSync(outFd);
      closeSync(errFd);
    }
    let poll: NodeJS.Timeout | undefined;
    const interrupt = opts.interrupt;
    if (interrupt) {
      poll = setInterval(() => {
        if (readCapped(errPath).text.includes(interrupt.whenStderrContains)) {
          clearInterval(poll);
          poll = undefined;
          child.kill(interrupt.signal ?? "SIGINT");
        }
      }, 50);
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 110_000);
    const stop = () => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
    };
    child.on("error", (e) => {
      stop();
      reject(e);
    });
    child.on("close", (code, signal) => {
      stop();
      const stdout = readCapped(outPath, 64 * 1024 * 1024, 0).text;
      const stderr = readCapped(errPath);
      const result: CliResult = {
        code,
        signal,
        stdout,
        stderr: stderr.text,
        durationMs: Date.now() - started,
        stderrBytes: stderr.bytes,
      };
      if (args.includes("--json")) {
        try {
          result.json = JSON.parse(stdout);
        } catch (e) {
          result.jsonError = (e as Error).message;
        }
      }
      resolvePromise(result);
    });
  });
}

/** Everything a case needs: its workspace, placeholders, and a runner bound to its data directory. */
export async function runFixture(fixture: Fixture): Promise<{
  ws: Workspace;
  vars: Placeholders;
  setup: CliResult[];
  result: CliResult;
}> {
  const ws = makeWorkspace(fixture);
  try {
    const vars: Placeholders = {
      repo: ws.repo,
      data: ws.data,
      scratch: ws.scratch,
      case: fixture.dir,
      sha: ws.sha,
    };
    const spec = fixture.spec;
    const given = expand(spec.env ?? {}, vars);
    // Jobs see only the variables passed to them (lib/child-env): a case's variables are exported and
    // passed, as a user would with `--pass-env NAME`.
    const passed = Object.keys(given).filter((k) => !k.startsWith("SLIPWAY_"));
    const env = passed.length ? { ...given, SLIPWAY_PASS_ENV: passed.join(",") } : given;
    const setup: CliResult[] = [];
    for (const [i, s] of (spec.setup ?? []).entries()) {
      const args = expand(Array.isArray(s) ? s : s.args, vars);
      const r = await runCli(args, { cwd: ws.repo, dataDir: ws.data, logDir: ws.logs, env });
      setup.push(r);
      if (r.json?.runId !== undefined) vars[`runId:${i}`] = String(r.json.runId);
    }
    const result = await runCli(expand(spec.args, vars), {
      cwd: ws.repo,
      dataDir: ws.data,
      logDir: ws.logs,
      env,
      interrupt: spec.interrupt,
    });
    return { ws, vars, setup, result };
  } catch (err) {
    ws.cleanup();
    throw err;
  }
}
