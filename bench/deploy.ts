// npm run bench:deploy — what users see while slipway deploys. A real HTTP service (bench/deploy-app: it
// answers with its version, takes STARTUP_DELAY_MS to start, stops gracefully on SIGTERM) runs behind
// slipway's router, under constant load (RATE req/s over CONNECTIONS keep-alive connections), while v1
// is replaced by v2 with rolling (2 replicas), blue-green and canary, and once with a v2 whose health
// check never passes (rolled back). Then the same app deployed the naive way, by hand and without
// slipway: v1 on a fixed port, stopped (SIGTERM), v2 started on the same port. Per case: failed
// requests, p50/p99 before and during the deploy, how long the deploy took, when the first v2 response
// came and from when on every response was v2.
// Writes bench/results/deploy.json and bench/results/deploy.md.
// Target (issue): 0 failed requests in the four slipway cases.
//
// The load is a fixed-rate (open-loop) generator of our own, not autocannon's overallRate: autocannon
// spends each connection's per-second budget at the start of every second (measured here: 300 req/s
// over 10 connections are all sent within the first 50–110 ms of each second, then nothing for ~900 ms),
// so a gap shorter than a second can fall in the silence and go unseen, and the time to switch can only
// be read to a second; against a refused port it reconnects in a tight loop and counts each refused
// connect as an error. Ours sends request i at start + i/RATE on connection i mod CONNECTIONS and
// measures latency from that scheduled time (so a stalled connection's queue counts, no coordinated
// omission). LOADGEN=autocannon runs the same cases with autocannon (overallRate, its response and
// reqError events) as a cross-check.
//
// Environment: RATE (300), CONNECTIONS (10), BEFORE (10 s of baseline), AFTER (5 s), STARTUP_DELAY_MS
// (1500), CASES (rolling,blue-green,canary,failing,naive), LOADGEN (paced | autocannon), KEEP=1 keeps the
// temp dir (it is kept anyway when the bench fails, for the agent logs).
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { freePort } from "../test/support/ports.js";
import { describeMachine, killRunning, round, timeCommand } from "./support.js";
import { sleep } from "../src/lib/async.js";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "slipway.js");
const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0)
    throw new Error(`${name} must be a positive number, got ${process.env[name]}`);
  return v;
};
const RATE = num("RATE", 300);
const CONNECTIONS = num("CONNECTIONS", 10);
const BEFORE_MS = num("BEFORE", 10) * 1000;
const AFTER_MS = num("AFTER", 5) * 1000;
const STARTUP_DELAY_MS = num("STARTUP_DELAY_MS", 1500);
const WARMUP_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;
const LOADGEN = process.env.LOADGEN ?? "paced";
const DEADLINE_MS = 300_000;
const APP = "bench";
const TARGET_FAILED = 0;

const allCases = ["rolling", "blue-green", "canary", "failing", "naive"] as const;
type CaseName = (typeof allCases)[number];
const CASES = (process.env.CASES ?? allCases.join(",")).split(",").map((c) => c.trim()) as CaseName[];

const log = (line: string) => process.stderr.write(`${line}\n`);
/** The bench's clock: ms since it started (monotonic). */
const now = () => performance.now();

// ---- load ------------------------------------------------------------------------------------------

/** One request: when it was due (bench clock), how long until its answer, and what came back. */
type Sample = { at: number; ms: number; ok: boolean; version?: string; error?: string };
type Load = { samples: Sample[]; stop(): Promise<void> };

/** RATE requests/s, evenly spaced, round-robin over CONNECTIONS keep-alive connections (one agent each). */
function startPacedLoad(url: string): Load {
  const samples: Sample[] = [];
  const agents = Array.from(
    { length: CONNECTIONS },
    () => new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }),
  );
  const period = 1000 / RATE;
  const start = now();
  let sent = 0;
  let inFlight = 0;
  let stopped = false;
  const waiting: (() => void)[] = [];

  const fire = (due: number, agent: http.Agent) => {
    inFlight++;
    let done = false;
    const finish = (s: Omit<Sample, "at" | "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      samples.push({ at: due, ms: now() - due, ...s });
      if (--inFlight === 0) for (const w of waiting.splice(0)) w();
    };
    const req = http.get(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) finish({ ok: true, version: body.split(" ")[0] });
        else finish({ ok: false, error: `HTTP ${code}` });
      });
      res.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    });
    req.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    // From the scheduled time: a request queued behind a stuck one on its connection times out too.
    const timer = setTimeout(() => {
      finish({ ok: false, error: "timeout" });
      req.destroy();
    }, REQUEST_TIMEOUT_MS);
  };

  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    const t = now();
    while (start + sent * period <= t) {
      fire(start + sent * period, agents[sent % CONNECTIONS]);
      sent++;
    }
    timer = setTimeout(tick, Math.max(0, start + sent * period - now()));
  };
  tick();

  return {
    samples,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (inFlight > 0) await new Promise<void>((r) => waiting.push(r));
      for (const a of agents) a.destroy();
    },
  };
}

type AutocannonInstance = {
  on(event: "response", cb: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: "reqError", cb: (err: NodeJS.ErrnoException) => void): void;
  on(event: "done", cb: () => void): void;
  stop(): void;
};
type AutocannonFn = (opts: Record<string, unknown>) => AutocannonInstance;

/** The cross-check: autocannon with overallRate; a response's due time is its arrival minus its latency. */
function startAutocannonLoad(url: string): Load {
  const autocannon = createRequire(import.meta.url)("autocannon") as AutocannonFn;
  const samples: Sample[] = [];
  // onResponse (with the body) runs just before the 'response' event of the same response.
  let lastBody = "";
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    overallRate: RATE,
    duration: 3600,
    timeout: REQUEST_TIMEOUT_MS / 1000,
    requests: [
      {
        method: "GET",
        path: "/",
        onResponse: (_status: number, body: string) => {
          lastBody = body;
        },
      },
    ],
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    const ok = status >= 200 && status < 300;
    samples.push({
      at: now() - ms,
      ms,
      ok,
      version: ok ? lastBody.split(" ")[0] : undefined,
      error: ok ? undefined : `HTTP ${status}`,
    });
  });
  instance.on("reqError", (e) => samples.push({ at: now(), ms: 0, ok: false, error: e.code ?? e.message }));
  const done = new Promise<void>((r) => instance.on("done", r));
  return {
    samples,
    async stop() {
      instance.stop();
      await done;
    },
  };
}

const startLoad = (url: string): Load =>
  LOADGEN === "autocannon" ? startAutocannonLoad(url) : startPacedLoad(url);

// ---- measuring -------------------------------------------------------------------------------------

type Phase = {
  requests: number;
  failed: number;
  p50Ms: number | null;
  p99Ms: number | null;
  versions: Record<string, number>;
  errors: Record<string, number>;
};

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)], 1);
}

/** The requests due in [from, to): latency percentiles of the answered ones, failures counted apart. */
function phase(samples: Sample[], from: number, to: number): Phase {
  const list = samples.filter((s) => s.at >= from && s.at < to);
  const latencies = list
    .filter((s) => s.ok)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const versions: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const s of list) {
    if (s.ok) versions[s.version ?? "?"] = (versions[s.version ?? "?"] ?? 0) + 1;
    else errors[s.error ?? "?"] = (errors[s.error ?? "?"] ?? 0) + 1;
  }
  return {
    requests: list.length,
    failed: list.length - latencies.length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    versions,
    errors,
  };
}

/**
 * When (ms after the deploy began, by due time) the first request was answered by `version`, and from
 * when on every request was (a failure breaks the run); null when it never happened.
 */
function switchTimes(samples: Sample[], deployAt: number, version: string) {
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const first = sorted.find((s) => s.at >= deployAt && s.ok && s.version === version);
  let lastOther = -1;
  sorted.forEach((s, i) => {
    if (!(s.ok && s.version === version)) lastOther = i;
  });
  const from = sorted[lastOther + 1];
  return {
    firstMs: first ? round(first.at - deployAt, 0) : null,
    allMs: from ? round(Math.max(0, from.at - deployAt), 0) : null,
  };
}

/** Per second, relative to the deploy's start: answers by version and failures (for plotting). */
function timeline(samples: Sample[], deployAt: number) {
  const rows = new Map<number, { s: number; failed: number; versions: Record<string, number> }>();
  for (const x of samples) {
    const s = Math.floor((x.at - deployAt) / 1000);
    const row = rows.get(s) ?? { s, failed: 0, versions: {} };
    if (x.ok) row.versions[x.version ?? "?"] = (row.versions[x.version ?? "?"] ?? 0) + 1;
    else row.failed++;
    rows.set(s, row);
  }
  return [...rows.values()].sort((a, b) => a.s - b.s);
}

// ---- the cases ---------------------------------------------------------------------------------------

type Release = {
  number?: number;
  status?: string;
  phase?: string | null;
  error?: string | null;
  durationMs?: number | null;
  impact?: unknown;
};

type CaseResult = {
  name: CaseName;
  label: string;
  how: string;
  expected: string;
  outcome: string;
  asExpected: boolean;
  deployExitCode: number | null;
  deployMs: number;
  /** `slipway down` after the case (slipway cases). */
  downMs?: number;
  downExitCode?: number;
  release?: Release;
  before: Phase;
  during: Phase;
  after: Phase;
  failedTotal: number;
  firstV2Ms: number | null;
  allV2Ms: number | null;
  timeline: ReturnType<typeof timeline>;
};

const caseInfo: Record<CaseName, { label: string; how: string; expected: string }> = {
  rolling: {
    label: "slipway rolling",
    how: "2 replicas, max_surge 1, max_unavailable 0",
    expected: "v2 serves, 0 failed",
  },
  "blue-green": {
    label: "slipway blue-green",
    how: "2 replicas, all of v2 started and ready, then one router swap",
    expected: "v2 serves, 0 failed",
  },
  canary: {
    label: "slipway canary",
    how: "2 replicas, 25% → 2 s → 50% → 2 s → 100%, analysis every 500 ms (max error rate 1%)",
    expected: "v2 serves, 0 failed",
  },
  failing: {
    label: "slipway rolling, v2 never healthy",
    how: "2 replicas, v2's /healthz answers 503, readiness deadline 5 s",
    expected: "rolled back, v1 keeps serving, 0 failed, no v2 response",
  },
  naive: {
    label: "by hand: stop v1, start v2 (no slipway)",
    how: "v1 on a fixed port, SIGTERM, wait for exit, start v2 on that port, wait for /healthz",
    expected: "(what users see today)",
  },
};

function strategyOf(name: CaseName) {
  switch (name) {
    case "blue-green":
      return { type: "blue-green", keep_old: "30s" };
    case "canary":
      return {
        type: "canary",
        steps: [
          { set_weight: 25 },
          { pause: "2s" },
          { set_weight: 50 },
          { pause: "2s" },
          { set_weight: 100 },
        ],
        analysis: { interval: "500ms", max_error_rate: 0.01, min_requests: 20 },
      };
    default:
      return { type: "rolling", max_surge: 1, max_unavailable: 0 };
  }
}

function specFor(name: CaseName, port: number, version: "v1" | "v2") {
  const failing = name === "failing" && version === "v2";
  return {
    deploy: {
      app: APP,
      services: {
        web: {
          command: [process.execPath, "server.mjs"],
          cwd: "./app",
          replicas: 2,
          publish: `127.0.0.1:${port}`,
          env: {
            APP_VERSION: version,
            STARTUP_DELAY_MS: String(STARTUP_DELAY_MS),
            ...(failing ? { FAIL_HEALTH: "1" } : {}),
          },
          health: {
            http: "/healthz",
            interval: "200ms",
            timeout: "1s",
            deadline: name === "failing" ? "5s" : "20s",
          },
          strategy: strategyOf(name),
          drain_timeout: "5s",
          stop_timeout: "6s",
        },
      },
    },
  };
}

type Context = {
  dir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Environments whose agent may run: `slipway down` for each at the end. */
  agents: Set<string>;
  /** Processes the naive case started itself. */
  children: Set<ChildProcess>;
};

async function slipway(ctx: Context, args: string[], timeoutMs = 90_000) {
  const r = await timeCommand(process.execPath, [bin, ...args], {
    cwd: ctx.dir,
    env: ctx.env,
    timeoutMs,
    keepStderr: true,
  });
  return { ...r, code: r.code ?? -1 };
}

function parseRelease(stdout: string): Release | undefined {
  try {
    return JSON.parse(stdout) as Release;
  } catch {
    return undefined;
  }
}

async function body(url: string): Promise<string> {
  const res = await fetch(url);
  return `${res.status} ${(await res.text()).trim()}`;
}

/** Runs the load around `deploy`: warm-up, baseline, the deploy, the tail; then measures. */
async function underLoad(url: string, deploy: () => Promise<void>) {
  const load = startLoad(url);
  try {
    await sleep(WARMUP_MS);
    const beforeAt = now();
    await sleep(BEFORE_MS);
    const deployAt = now();
    await deploy();
    const deployEnd = now();
    await sleep(AFTER_MS);
    const endAt = now();
    await load.stop();
    const samples = load.samples;
    return {
      deployMs: round(deployEnd - deployAt, 0),
      before: phase(samples, beforeAt, deployAt),
      during: phase(samples, deployAt, deployEnd),
      after: phase(samples, deployEnd, endAt),
      // Warm-up excluded, everything else counts.
      failedTotal: samples.filter((s) => s.at >= beforeAt && !s.ok).length,
      ...(() => {
        const t = switchTimes(
          samples.filter((s) => s.at >= beforeAt),
          deployAt,
          "v2",
        );
        return { firstV2Ms: t.firstMs, allV2Ms: t.allMs };
      })(),
      timeline: timeline(
        samples.filter((s) => s.at >= beforeAt),
        deployAt,
      ),
    };
  } finally {
    await load.stop().catch(() => {});
  }
}

async function slipwayCase(ctx: Context, name: CaseName): Promise<CaseResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const file = join(ctx.dir, `${name}.yaml`);
  const deployArgs = (version: string) => [
    "deploy",
    "-c",
    file,
    "--env",
    name,
    "--json",
    "--version",
    version,
  ];
  writeFileSync(file, stringify(specFor(name, port, "v1")));
  ctx.agents.add(name);
  const first = await slipway(ctx, deployArgs("v1"));
  if (first.code !== 0)
    throw new Error(`${name}: deploying v1 exited ${first.code}:\n${first.stderr.slice(-3000)}`);
  const check = await body(url);
  if (!check.startsWith("200 v1 ")) throw new Error(`${name}: after deploying v1, GET / answered ${check}`);

  let deploy: Awaited<ReturnType<typeof slipway>> | undefined;
  const measured = await underLoad(url, async () => {
    writeFileSync(file, stringify(specFor(name, port, "v2")));
    deploy = await slipway(ctx, deployArgs("v2"));
  });
  const d = deploy!;
  const release = parseRelease(d.stdout);
  const expectFailure = name === "failing";
  const served = await body(url).catch((e: Error) => e.message);
  const outcome = `exit ${d.code}, release ${release?.status ?? "?"}${release?.phase && release.status !== "succeeded" ? ` (${release.phase})` : ""}, then GET / → ${served.split(" ").slice(1, 2).join("") || served}`;
  const asExpected = expectFailure
    ? d.code === 1 &&
      release?.phase === "rolled back" &&
      served.startsWith("200 v1 ") &&
      measured.firstV2Ms === null
    : d.code === 0 && release?.status === "succeeded" && served.startsWith("200 v2 ");
  if (!asExpected) log(`${name}: not as expected (${outcome}); slipway said:\n${d.stderr.slice(-2000)}`);

  // Stopped after each case so the next one has the machine to itself; a slow or failed `down` is
  // recorded (and retried at the end) rather than fatal.
  const down = await slipway(ctx, ["down", "--yes", "--app", APP, "--env", name], 60_000).catch(
    (e: Error) => ({
      code: -1,
      ms: 60_000,
      stderr: e.message,
    }),
  );
  if (down.code === 0) ctx.agents.delete(name);
  else log(`${name}: slipway down exited ${down.code}: ${down.stderr.trim()}`);
  if (down.ms > 10_000) log(`${name}: slipway down took ${round(down.ms / 1000, 1)} s`);
  return {
    name,
    ...caseInfo[name],
    outcome,
    asExpected,
    deployExitCode: d.code,
    downMs: round(down.ms, 0),
    downExitCode: down.code,
    release: release && {
      number: release.number,
      status: release.status,
      phase: release.phase,
      error: release.error,
      durationMs: release.durationMs,
      impact: release.impact,
    },
    ...measured,
  };
}

/** The app started by hand on a fixed port, as a process of ours. */
function startApp(ctx: Context, version: string, port: number): ChildProcess {
  const child = spawn(process.execPath, ["server.mjs"], {
    cwd: join(ctx.dir, "app"),
    env: {
      ...process.env,
      PORT: String(port),
      APP_VERSION: version,
      STARTUP_DELAY_MS: String(STARTUP_DELAY_MS),
    },
    stdio: "ignore",
  });
  ctx.children.add(child);
  child.once("exit", () => ctx.children.delete(child));
  return child;
}

/** Polls /healthz on a fresh connection every 50 ms until it answers 200 (a deploy script's `until curl`). */
async function waitHealthy(port: number, timeoutMs = 20_000): Promise<void> {
  const until = now() + timeoutMs;
  while (now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.setTimeout(1000, () => req.destroy());
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`the app on port ${port} was not healthy within ${timeoutMs / 1000} s`);
}

async function naiveCase(ctx: Context): Promise<CaseResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let app = startApp(ctx, "v1", port);
  await waitHealthy(port);
  try {
    const measured = await underLoad(url, async () => {
      const exited = new Promise((r) => app.once("exit", r));
      app.kill("SIGTERM");
      await exited;
      app = startApp(ctx, "v2", port);
      await waitHealthy(port);
    });
    const served = await body(url).catch((e: Error) => e.message);
    return {
      name: "naive",
      ...caseInfo.naive,
      outcome: `GET / → ${served.split(" ").slice(1, 2).join("") || served}`,
      asExpected: served.startsWith("200 v2 "),
      deployExitCode: null,
      ...measured,
    };
  } finally {
    app.kill("SIGTERM");
  }
}

// ---- the run -----------------------------------------------------------------------------------------

/** PRETTY_NAME of /etc/os-release (the kernel alone does not say which system this is). */
function distribution(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function cleanup(ctx: Context): Promise<void> {
  for (const env of [...ctx.agents]) {
    const r = await slipway(ctx, ["down", "--yes", "--app", APP, "--env", env], 60_000).catch((e: Error) => ({
      code: -1,
      stderr: e.message,
    }));
    if (r.code === 0) ctx.agents.delete(env);
    else log(`cleanup: slipway down --env ${env} exited ${r.code}: ${r.stderr.trim()}`);
  }
  for (const c of ctx.children) c.kill("SIGKILL");
}

async function main(): Promise<void> {
  for (const c of CASES)
    if (!allCases.includes(c)) throw new Error(`CASES: unknown case ${c} (cases: ${allCases.join(", ")})`);
  if (LOADGEN !== "paced" && LOADGEN !== "autocannon")
    throw new Error(`LOADGEN: paced or autocannon, not ${LOADGEN}`);
  if (!existsSync(join(here, "..", "dist", "slipway.js")))
    throw new Error("build slipway first: npm run build");
  const machine = { ...describeMachine(), distribution: distribution() };
  log(
    `bench:deploy — ${CASES.join(", ")}; ${RATE} req/s over ${CONNECTIONS} keep-alive connections (${LOADGEN}); ${machine.cpuCount}× ${machine.cpuModel}, node ${machine.node}`,
  );

  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-deploy-"));
  const dataDir = join(dir, ".data");
  mkdirSync(dataDir);
  cpSync(join(here, "deploy-app"), join(dir, "app"), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_DATA_DIR_SERVER: dataDir,
    SLIPWAY_DATA_DIR: join(dir, ".local"),
    SLIPWAY_MASTER_KEY: "07".repeat(32),
    NO_COLOR: "1",
  };
  delete env.SLIPWAY_DATABASE;
  const ctx: Context = { dir, dataDir, env, agents: new Set(), children: new Set() };

  let failed = false;
  const deadline = setTimeout(() => {
    log(`deploy bench: the ${DEADLINE_MS / 1000} s deadline passed, stopping (temp dir kept: ${dir})`);
    killRunning();
    void cleanup(ctx).finally(() => process.exit(1));
  }, DEADLINE_MS);
  deadline.unref();
  process.once("SIGINT", () => {
    log(`interrupted: stopping agents and instances (temp dir kept: ${dir})`);
    killRunning();
    void cleanup(ctx).finally(() => process.exit(130));
  });

  const results: CaseResult[] = [];
  try {
    for (const name of CASES) {
      log(`${name}: ${caseInfo[name].how}`);
      const r = name === "naive" ? await naiveCase(ctx) : await slipwayCase(ctx, name);
      results.push(r);
      log(
        `${name}: ${r.outcome}; failed ${r.during.failed} during the deploy, ${r.failedTotal} in all; p50/p99 before ${r.before.p50Ms}/${r.before.p99Ms} ms, during ${r.during.p50Ms}/${r.during.p99Ms} ms; deploy ${r.deployMs} ms, first v2 at ${r.firstV2Ms ?? "-"} ms, all v2 from ${r.allV2Ms ?? "-"} ms`,
      );
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await cleanup(ctx);
    clearTimeout(deadline);
    if (failed || process.env.KEEP === "1")
      log(`temp dir kept: ${dir} (agent logs in .data/deploy/${APP}/<case>/agent.log)`);
    else rmSync(dir, { recursive: true, force: true });
  }

  const slipwayCases = results.filter((r) => r.name !== "naive");
  const met =
    slipwayCases.length > 0 && slipwayCases.every((r) => r.failedTotal <= TARGET_FAILED && r.asExpected);
  const doc = {
    benchmark: "deploy",
    date: machine.date,
    machine,
    loadAverageAtEnd: describeMachine().loadAverage,
    load: {
      generator:
        LOADGEN === "autocannon"
          ? "autocannon 8, overallRate (per-connection budget spent at the start of each second)"
          : "fixed-rate open-loop generator (bench/deploy.ts), latency from the scheduled time",
      requestsPerSecond: RATE,
      connections: CONNECTIONS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      warmupMs: WARMUP_MS,
      beforeMs: BEFORE_MS,
      afterMs: AFTER_MS,
    },
    app: { source: "bench/deploy-app/server.mjs", runtime: "process", startupDelayMs: STARTUP_DELAY_MS },
    cases: results,
    target: { failedRequests: TARGET_FAILED, in: slipwayCases.map((r) => r.name), met },
  };
  const resultsDir = join(here, "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "deploy.json"), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(resultsDir, "deploy.md"), markdown(doc));
  log(`target (0 failed requests in every slipway case): ${met ? "met" : "NOT met"}`);
}

type Doc = {
  date: string;
  machine: ReturnType<typeof describeMachine> & { distribution: string };
  loadAverageAtEnd: number[];
  load: {
    generator: string;
    requestsPerSecond: number;
    connections: number;
    requestTimeoutMs: number;
    warmupMs: number;
    beforeMs: number;
    afterMs: number;
  };
  app: { startupDelayMs: number };
  cases: CaseResult[];
  target: { met: boolean };
};

function markdown(doc: Doc): string {
  const m = doc.machine;
  const day = doc.date.slice(0, 10);
  const sec = (ms: number) => round(ms / 1000, 1);
  const s = (ms: number | null) => (ms === null ? "–" : (ms / 1000).toFixed(1));
  const pair = (p: Phase) => `${p.p50Ms ?? "–"} / ${p.p99Ms ?? "–"}`;
  const errs = (p: Phase) =>
    Object.entries(p.errors)
      .map(([e, n]) => `${n}× ${e}`)
      .join(", ");
  const rows = doc.cases
    .map(
      (r) =>
        `| ${r.label} | ${r.outcome} | **${r.during.failed}** / ${r.failedTotal} | ${pair(r.before)} | ${pair(r.during)} | ${s(r.deployMs)} | ${s(r.firstV2Ms)} | ${s(r.allV2Ms)} |`,
    )
    .join("\n");
  const how = doc.cases.map((r) => `- **${r.label}**: ${r.how}; expected: ${r.expected}.`).join("\n");
  const failures = doc.cases
    .filter((r) => r.failedTotal > 0)
    .map((r) => {
      const phases = { before: r.before, during: r.during, after: r.after };
      const parts = Object.entries(phases)
        .filter(([, p]) => p.failed > 0)
        .map(([name, p]) => `${name}: ${errs(p)}`);
      return `- ${r.label}: ${parts.join("; ")}`;
    })
    .join("\n");
  const versions = doc.cases
    .map(
      (r) =>
        `| ${r.label} | ${r.during.requests} | ${Object.entries(r.during.versions)
          .map(([v, n]) => `${v} ${n}`)
          .join(", ")} | ${r.release?.durationMs ?? "–"} |`,
    )
    .join("\n");
  return `# Deploy benchmark (${day})

\`npm run bench:deploy\` (bench/deploy.ts): the app in bench/deploy-app (a Node HTTP server that answers
with its version, needs ${doc.app.startupDelayMs} ms to start listening, and stops gracefully on SIGTERM) under a
constant ${doc.load.requestsPerSecond} req/s over ${doc.load.connections} keep-alive connections, v1 replaced by v2 while the load runs:
${sec(doc.load.warmupMs)} s warm-up (not counted), ${sec(doc.load.beforeMs)} s before the deploy, the deploy, ${sec(doc.load.afterMs)} s after. The slipway
cases use the process runtime behind slipway's router (\`slipway deploy\` run as a user runs it); the
naive case is what a team does by hand without it. Load: ${doc.load.generator}.
A request fails when it gets a non-2xx answer, a connection error or no answer within ${sec(doc.load.requestTimeoutMs)} s.

Machine: ${m.cpuCount}× ${m.cpuModel}, ${m.totalMemoryGiB} GiB, ${m.distribution}, ${m.os}, ${m.arch}, Node ${m.node}.
Load average at start ${JSON.stringify(m.loadAverage)}, at end ${JSON.stringify(doc.loadAverageAtEnd)}
(the machine is shared: other work may run at the same time). Everything (load, router, agent, app
instances) runs on this machine, on 127.0.0.1.

| case | result | failed requests (during the deploy / in all) | p50 / p99 ms before | p50 / p99 ms during | deploy took s | first v2 after s | 100% v2 from s |
|---|---|---|---|---|---|---|---|
${rows}

**Target** (0 failed requests in all four slipway cases): **${doc.target.met ? "met" : "not met"}**.

${how}

"deploy took" is the wall-clock time of \`slipway deploy\` (the CLI's start-up included; naive: from
SIGTERM to v2's first healthy /healthz). "first v2" and "100% v2" are measured by the load, by the
time a request was sent, from the start of the deploy command: the first request answered by v2, and
the first request from which on every request was answered by v2. Latency percentiles are over the
answered requests (failures are counted apart), in ms from the request's scheduled send time.

Why the load is not autocannon's \`overallRate\` by default: autocannon spends each connection's
per-second budget at the start of the second (${doc.load.requestsPerSecond} req/s over ${doc.load.connections} connections go out within the first
~50–110 ms, then nothing for ~900 ms), so a gap shorter than a second can fall into the silence, and the
switch times it gives land on whole seconds; and against a port that refuses connections it reconnects
in a tight loop and counts every refused connect as an error (thousands a second), not requests.
\`LOADGEN=autocannon\` runs the same cases with it (its response and reqError events) as a cross-check.
${failures ? `\nWhat the failed requests got:\n${failures}\n` : ""}
During the deploy, by version (and the release's own duration as slipway records it):

| case | requests during the deploy | answered by | release duration ms |
|---|---|---|---|
${versions}

Raw figures (per-second timeline, the router's measured impact per release): deploy.json.
`;
}

main().catch((err: unknown) => {
  log(`deploy bench failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
