// npm run bench:serve — webhook-triggered runs of a small workflow through `slipway serve`, with SQLite
// and with PostgreSQL (issue 3). Target: trigger-to-first-step p50 < 100 ms, no run lost.
//
// Per database: a fresh server (its own data dir; a fresh PostgreSQL database), one repository with a
// commit per push, and RUNS signed GitHub push webhooks (GitHub's example payload adjusted to each
// commit, `main` moved to it just before), each a run of one job with two steps, executed by the
// server's own runner (defaults: as many local runners and job slots as CPUs). Two phases:
//   paced  PACED webhooks at RATE per second, below what the server can run, so the latency is the
//          server's own: trigger-to-first-step = the time the first step prints (`date +%s%3N`, in its
//          log) minus the time the webhook was sent (same clock, same machine);
//   burst  the rest, as fast as the server answers, CONCURRENCY requests in flight: runs per minute =
//          runs completed in the burst / (last completion − first send).
// Lost = a webhook not answered 202 with one run, or a run that did not complete successfully with
// the first step's line in its log. Sending stops early when the time budget (BUDGET_S, default 570 s
// for everything) would be exceeded; the report then says how many were sent.
// Writes bench/results/serve-<date>.json and bench/results/serve.md.
// Environment: RUNS (1000), PACED (100), RATE (2), CONCURRENCY (4), DATABASES (sqlite,postgres), BUDGET_S (570).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BenchRepo,
  benchWorkflow,
  branchMover,
  createDatabase,
  makeBenchRepo,
  postgresVersion,
  pushPayload,
  type ServerProcess,
  signature,
  startServe,
} from "./serve/setup.js";
import { describeMachine, type Machine, round } from "./support.js";
import { sleep } from "../src/lib/async.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "bin", "slipway.js");
const resultsDir = join(root, "bench", "results");
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = env("RUNS", 1000);
const PACED = Math.min(env("PACED", 100), RUNS);
const RATE = env("RATE", 2);
const CONCURRENCY = env("CONCURRENCY", 4);
const BUDGET_MS = env("BUDGET_S", 570) * 1000;
const DATABASES = (process.env.DATABASES ?? "sqlite,postgres").split(",").filter(Boolean) as (
  | "sqlite"
  | "postgres"
)[];
const targetP50Ms = 100;
const fullName = "bench/app";

const log = (line: string) => process.stderr.write(`${line}\n`);
const started = Date.now();
/** The server being measured, so a hard stop can end it. */
let current: ServerProcess | undefined;

type Sent = {
  index: number;
  phase: "paced" | "burst";
  sentAt: number;
  status: number;
  responseMs: number;
  runId?: number;
  error?: string;
};

type Outcome = Sent & {
  /** The start of its log, kept for runs that completed without the first step's line. */
  logSample?: string;
  conclusion?: string | null;
  firstStepLoggedAt?: number;
  firstStepStartedAt?: number;
  finishedAt?: number;
};

type Stats = { count: number; p50: number; p90: number; p99: number; max: number };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  return {
    count: s.length,
    p50: round(percentile(s, 50), 1),
    p90: round(percentile(s, 90), 1),
    p99: round(percentile(s, 99), 1),
    max: round(s.at(-1) ?? Number.NaN, 1),
  };
}

type DbResult = {
  database: string;
  requested: number;
  sent: number;
  note?: string;
  paced: {
    sent: number;
    ratePerSecond: number;
    triggerToFirstStepMs: Stats;
    serverStepStartMs: Stats;
    webhookResponseMs: Stats;
  };
  burst: {
    sent: number;
    concurrency: number;
    triggerToFirstStepMs: Stats;
    webhookResponseMs: Stats;
    runsPerMinute: number;
    acceptedPerMinute: number;
  };
  completedSuccessfully: number;
  lost: number;
  lostReasons: Record<string, number>;
  /** Up to five lost runs that were accepted, with what the server has of them. */
  lostSamples: { runId?: number; reason: string; logSample?: string }[];
  wallSeconds: number;
};

async function api<T>(server: ServerProcess, path: string): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function sendOne(server: ServerProcess, secret: string, body: string, s: Sent): Promise<Sent> {
  s.sentAt = Date.now();
  try {
    const res = await fetch(`${server.url}/hooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": `bench-${s.phase}-${s.index}-${Date.now()}`,
        "x-hub-signature-256": signature(secret, body),
      },
      body,
    });
    const json = (await res.json().catch(() => ({}))) as { runs?: number[]; error?: string };
    s.responseMs = Date.now() - s.sentAt;
    s.status = res.status;
    if (res.status === 202 && json.runs?.length === 1) s.runId = json.runs[0];
    else s.error = `${res.status} ${json.error ?? JSON.stringify(json)}`.slice(0, 300);
  } catch (err) {
    s.responseMs = Date.now() - s.sentAt;
    s.status = 0;
    s.error = `request failed: ${(err as Error).message}`;
  }
  return s;
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function waitUntilIdle(server: ServerProcess, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const [q, r] = await Promise.all([
      api<{ runs: unknown[] }>(server, "/api/v1/runs?status=queued&limit=1000"),
      api<{ runs: unknown[] }>(server, "/api/v1/runs?status=running&limit=1000"),
    ]);
    if (q.runs.length + r.runs.length === 0) return true;
    await sleep(500);
  }
  return false;
}

type RunView = {
  run: { status: string; conclusion: string | null; finishedAt: number | null };
  attempts: { jobs: { steps: { startedAt: number | null }[] }[] }[];
};

async function collect(server: ServerProcess, sent: Sent[]): Promise<Outcome[]> {
  const out: Outcome[] = sent.map((s) => ({ ...s }));
  await pool(
    out.filter((o) => o.runId !== undefined),
    8,
    async (o) => {
      const view = await api<RunView>(server, `/api/v1/runs/${o.runId}`);
      o.conclusion = view.run.status === "completed" ? view.run.conclusion : view.run.status;
      o.finishedAt = view.run.finishedAt ?? undefined;
      o.firstStepStartedAt = view.attempts[0]?.jobs[0]?.steps[0]?.startedAt ?? undefined;
      const logs = await api<{ jobs: { chunks: { content: string }[] }[] }>(
        server,
        `/api/v1/runs/${o.runId}/logs`,
      );
      const text = logs.jobs.flatMap((j) => j.chunks.map((c) => c.content)).join("");
      const m = /^bench-first-step (\d+)$/m.exec(text);
      if (m) o.firstStepLoggedAt = Number(m[1]);
      else o.logSample = `${JSON.stringify(view.attempts).slice(0, 1500)}\n${text.slice(0, 500)}`;
    },
  );
  return out;
}

function lostReason(o: Outcome): string | undefined {
  if (o.runId === undefined) return o.error ?? `HTTP ${o.status}`;
  if (o.conclusion !== "success") return `run ${o.conclusion ?? "unknown"}`;
  if (o.firstStepLoggedAt === undefined) return "first step's line missing from the log";
  return undefined;
}

async function benchDatabase(kind: "sqlite" | "postgres", budgetMs: number): Promise<DbResult> {
  const t0 = Date.now();
  const sendDeadline = t0 + budgetMs * 0.82;
  const drainDeadline = t0 + budgetMs * 0.95;
  const work = mkdtempSync(join(tmpdir(), `slipway-bench-serve-${kind}-`));
  const db = kind === "postgres" ? await createDatabase() : undefined;
  let server: ServerProcess | undefined;
  try {
    const repo: BenchRepo = makeBenchRepo(join(work, "app"), RUNS);
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    for (const k of Object.keys(childEnv)) if (k.startsWith("SLIPWAY_") || k === "CI") delete childEnv[k];
    server = await startServe(bin, join(work, "data"), db?.url, childEnv);
    current = server;
    const res = await fetch(`${server.url}/api/v1/repos`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      body: JSON.stringify({ url: repo.dir, name: fullName }),
    });
    const { webhookSecret } = (await res.json()) as { webhookSecret: string };
    const advance = branchMover(repo);
    const payloadOf = (i: number) =>
      pushPayload(repo, fullName, i === 0 ? repo.base : repo.commits[i - 1], repo.commits[i]);
    const srv = server;
    const sent: Sent[] = [];
    let note: string | undefined;

    // Paced: one webhook every 1/RATE s, whether or not the previous one was answered.
    log(`${kind}: paced phase, ${PACED} webhooks at ${RATE}/s`);
    const pacedStart = Date.now();
    const inFlight: Promise<Sent>[] = [];
    for (let i = 0; i < PACED; i++) {
      const at = pacedStart + (i * 1000) / RATE;
      if (at > sendDeadline) {
        note = `time budget: sent ${i} of ${PACED} paced webhooks`;
        break;
      }
      await sleep(Math.max(0, at - Date.now()));
      const s: Sent = { index: i, phase: "paced", sentAt: 0, status: 0, responseMs: 0 };
      sent.push(s);
      await advance(i);
      inFlight.push(sendOne(srv, webhookSecret, payloadOf(i), s));
    }
    await Promise.all(inFlight);
    await waitUntilIdle(srv, drainDeadline);

    // Burst: the rest as fast as the server answers, CONCURRENCY at a time.
    const burst: Sent[] = [];
    for (let i = sent.length; i < RUNS && !note; i++)
      burst.push({ index: i, phase: "burst", sentAt: 0, status: 0, responseMs: 0 });
    log(`${kind}: burst phase, ${burst.length} webhooks, ${CONCURRENCY} in flight`);
    let skipped = 0;
    await pool(burst, CONCURRENCY, async (s) => {
      if (Date.now() > sendDeadline) {
        skipped++;
        return;
      }
      sent.push(s);
      await advance(s.index);
      await sendOne(srv, webhookSecret, payloadOf(s.index), s);
    });
    if (skipped) note = `time budget: sent ${RUNS - skipped} of ${RUNS} webhooks`;
    const idle = await waitUntilIdle(srv, drainDeadline);
    if (!idle) note = `${note ? `${note}; ` : ""}runs still unfinished at the deadline`;
    log(`${kind}: collecting ${sent.length} runs`);
    const outcomes = await collect(srv, sent);

    const lostReasons: Record<string, number> = {};
    let ok = 0;
    for (const o of outcomes) {
      const why = lostReason(o);
      if (why === undefined) ok++;
      else {
        const key = why.replace(/[0-9a-f]{40}/g, "<sha>").replace(/\d{5,}/g, "N");
        lostReasons[key] = (lostReasons[key] ?? 0) + 1;
      }
    }
    const good = (phase: Sent["phase"]) =>
      outcomes.filter((o) => o.phase === phase && lostReason(o) === undefined);
    const paced = outcomes.filter((o) => o.phase === "paced");
    const burstDone = outcomes.filter((o) => o.phase === "burst");
    const burstGood = good("burst");
    const burstSpanMs =
      burstGood.length > 0
        ? Math.max(...burstGood.map((o) => o.finishedAt ?? 0)) - Math.min(...burstDone.map((o) => o.sentAt))
        : Number.NaN;
    const acceptSpanMs =
      burstDone.length > 0
        ? Math.max(...burstDone.map((o) => o.sentAt + o.responseMs)) -
          Math.min(...burstDone.map((o) => o.sentAt))
        : Number.NaN;
    return {
      database: kind,
      requested: RUNS,
      sent: sent.length,
      ...(note ? { note } : {}),
      paced: {
        sent: paced.length,
        ratePerSecond: RATE,
        triggerToFirstStepMs: stats(good("paced").map((o) => o.firstStepLoggedAt! - o.sentAt)),
        serverStepStartMs: stats(
          good("paced")
            .filter((o) => o.firstStepStartedAt)
            .map((o) => o.firstStepStartedAt! - o.sentAt),
        ),
        webhookResponseMs: stats(paced.map((o) => o.responseMs)),
      },
      burst: {
        sent: burstDone.length,
        concurrency: CONCURRENCY,
        triggerToFirstStepMs: stats(burstGood.map((o) => o.firstStepLoggedAt! - o.sentAt)),
        webhookResponseMs: stats(burstDone.map((o) => o.responseMs)),
        runsPerMinute: round((burstGood.length / burstSpanMs) * 60_000, 1),
        acceptedPerMinute: round((burstDone.filter((o) => o.runId).length / acceptSpanMs) * 60_000, 1),
      },
      completedSuccessfully: ok,
      lost: sent.length - ok,
      lostReasons,
      lostSamples: outcomes
        .filter((o) => o.runId !== undefined && lostReason(o) !== undefined)
        .slice(0, 5)
        .map((o) => ({ runId: o.runId, reason: lostReason(o)!, logSample: o.logSample })),
      wallSeconds: round((Date.now() - t0) / 1000, 1),
    };
  } finally {
    await server?.stop();
    await db?.drop().catch((err) => log(`cannot drop the bench database: ${(err as Error).message}`));
    rmSync(work, { recursive: true, force: true });
  }
}

function row(label: string, s: Stats): string {
  return `| ${label} | ${s.count} | ${s.p50} | ${s.p90} | ${s.p99} | ${s.max} |`;
}

function markdown(result: {
  machine: Machine & { postgres?: string; loadAverageEnd: number[] };
  results: DbResult[];
  config: Record<string, unknown>;
}): string {
  const m = result.machine;
  const lines = [
    `# Serve benchmark (${m.date.slice(0, 10)})`,
    "",
    "`npm run bench:serve` (bench/serve.ts): signed GitHub push webhooks (GitHub's example payload adjusted",
    "to a commit each) to `slipway serve` on 127.0.0.1, each starting a run of a one-job, two-step workflow run",
    "by the server's own runner with its defaults (local runners and job slots = CPU count).",
    "Trigger-to-first-step: from sending the webhook to the first step printing `date +%s%3N` (same clock).",
    `Paced phase: ${result.config.paced} webhooks at ${RATE}/s (below capacity: the server's own latency).`,
    `Burst phase: the rest with ${CONCURRENCY} requests in flight; runs/min = runs completed / (last completion − first send).`,
    "",
    `Machine: ${m.cpuCount}× ${m.cpuModel}, ${m.totalMemoryGiB} GiB, ${m.os}, ${m.arch}, Node ${m.node}, ${m.git}, PostgreSQL ${m.postgres ?? "not reachable"}.`,
    `Load average at start ${JSON.stringify(m.loadAverage)}, at end ${JSON.stringify(m.loadAverageEnd)} (the machine is shared: other work may run at the same time).`,
    "",
    "```yaml",
    benchWorkflow.trimEnd(),
    "```",
    "",
  ];
  for (const r of result.results) {
    lines.push(
      `## ${r.database === "sqlite" ? "SQLite" : "PostgreSQL"}`,
      "",
      `Sent ${r.sent} of ${r.requested} webhooks in ${r.wallSeconds} s; completed successfully ${r.completedSuccessfully}; **lost ${r.lost}**.${r.note ? ` Note: ${r.note}.` : ""}`,
      "",
      "| ms | n | p50 | p90 | p99 | max |",
      "|---|---|---|---|---|---|",
      row("trigger → first step (paced)", r.paced.triggerToFirstStepMs),
      row("trigger → first step reported started (paced, server clock)", r.paced.serverStepStartMs),
      row("webhook response (paced)", r.paced.webhookResponseMs),
      row("trigger → first step (burst, includes queueing)", r.burst.triggerToFirstStepMs),
      row("webhook response (burst)", r.burst.webhookResponseMs),
      "",
      `Burst: **${r.burst.runsPerMinute} runs/min** completed; webhooks accepted at ${r.burst.acceptedPerMinute}/min.`,
      "",
    );
    if (r.lost > 0) {
      lines.push("Lost, by reason:", "");
      for (const [why, n] of Object.entries(r.lostReasons)) lines.push(`- ${n}× ${why}`);
      lines.push("");
    }
  }
  lines.push("**Target** (trigger-to-first-step p50 < 100 ms, none lost):", "");
  for (const r of result.results) {
    const p50 = r.paced.triggerToFirstStepMs.p50;
    const met = p50 < targetP50Ms && r.lost === 0 && r.sent === r.requested;
    lines.push(
      `- ${r.database}: p50 ${p50} ms, lost ${r.lost} of ${r.sent} → **${met ? "met" : "not met"}**`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const machine = { ...describeMachine(), postgres: await postgresVersion() };
  log(`bench:serve: ${RUNS} runs per database (${DATABASES.join(", ")}), budget ${BUDGET_MS / 1000} s`);
  const results: DbResult[] = [];
  for (const [i, kind] of DATABASES.entries()) {
    if (kind === "postgres" && !machine.postgres) {
      log("PostgreSQL is not reachable: skipped");
      continue;
    }
    const left = BUDGET_MS - (Date.now() - started);
    const r = await benchDatabase(kind, left / (DATABASES.length - i));
    log(
      `${kind}: p50 ${r.paced.triggerToFirstStepMs.p50} ms, p99 ${r.paced.triggerToFirstStepMs.p99} ms, ` +
        `${r.burst.runsPerMinute} runs/min, lost ${r.lost} of ${r.sent}`,
    );
    results.push(r);
  }
  const result = {
    machine: { ...machine, loadAverageEnd: loadavg().map((l) => round(l)) },
    config: {
      runs: RUNS,
      paced: PACED,
      rate: RATE,
      concurrency: CONCURRENCY,
      budgetSeconds: BUDGET_MS / 1000,
    },
    results,
  };
  mkdirSync(resultsDir, { recursive: true });
  const day = machine.date.slice(0, 10);
  writeFileSync(join(resultsDir, `serve-${day}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(resultsDir, "serve.md"), markdown(result));
  log(
    `wrote bench/results/serve-${day}.json and bench/results/serve.md in ${round((Date.now() - started) / 1000, 1)} s`,
  );
}

const hardStop = setTimeout(() => {
  log("bench:serve: over the hard time limit, stopping");
  current?.child.kill("SIGKILL");
  process.exit(1);
}, BUDGET_MS + 60_000);
hardStop.unref();
await main();
