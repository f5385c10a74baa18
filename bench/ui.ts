// npm run bench:ui — the dashboard in Chromium against a `slipway serve` started in this process (SQLite).
// Budgets (issue 13): a 10,000-line run page interactive within 1 s; < 250 KB of JavaScript gzipped.
//
//   runs page     time from navigation start until the list's rows are drawn (RUNS runs in the store),
//                 then until a click on a filter answers (the page is interactive);
//   10k-line run  time until the job's log (10,000 lines, one stored chunk each, ANSI colours on every
//                 tenth and a folded ::group:: every 500) is read through the API page by page and drawn,
//                 then the frame times while it is scrolled from top to bottom in 40 steps (p95);
//   SSE latency   a running run's page; a log line is emitted into the server's event bus stamped with the
//                 time, and the page notes when it is on screen (same machine, same clock): median and p95
//                 of SAMPLES lines, one every 100 ms;
//   floor         the same measure for a plain-text page of the server (/healthz): the browser's own cost
//                 on this machine at this load, to read the others against;
//   JS size       dist/web/app.js and app.css, raw and gzipped.
// Each page figure is the median of ROUNDS fresh page loads. Writes bench/results/ui-<date>.json and
// prints a Markdown table for bench/results/ui.md. Environment: RUNS (200), ROUNDS (5), SAMPLES (30).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium, type Page } from "playwright-core";
import { startServer } from "../src/server/index.js";
import { describeMachine, median, round } from "./support.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = env("RUNS", 200);
const ROUNDS = env("ROUNDS", 5);
const SAMPLES = env("SAMPLES", 30);
const LINES = 10_000;

const p95 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-ui-"));
  const server = await startServer({ listen: "127.0.0.1:0", dataDir: join(dir, "data"), localRunners: 0 });
  const { store } = server;
  const token = server.adminToken!;
  const load0 = loadavg();
  try {
    // The store as a busy server's: RUNS finished runs of one job each, and two runs to look at.
    const repo = await store.repos.create({ name: "acme/app", url: "https://example.invalid/acme/app.git" });
    const runOf = async (status: "completed" | "running") => {
      const run = await store.runs.create({
        repoId: repo.id,
        workflowFile: ".github/workflows/ci.yml",
        workflowName: "CI",
        eventName: "push",
        event: { head_commit: { message: "Bench commit" }, sender: { login: "bench" } },
        sha: "0123456789abcdef0123456789abcdef01234567",
        ref: "refs/heads/main",
        trigger: "webhook",
      });
      await store.runs.update(run.id, {
        status,
        startedAt: Date.now() - 60_000,
        ...(status === "completed" ? { conclusion: "success", finishedAt: Date.now() } : {}),
      });
      const [job] = await store.jobs.insertMany(run.id, 1, [
        {
          jobKey: "build",
          jobId: "build",
          name: "build",
          status: status === "completed" ? "success" : "running",
        },
      ]);
      return { run, job };
    };
    for (let i = 0; i < RUNS; i++) await runOf("completed");
    const big = await runOf("completed");
    for (let i = 1; i <= LINES; i++) {
      let line = `line ${i}: the quick brown fox jumps over the lazy dog`;
      if (i % 500 === 1) line = `::group::step group ${i}`;
      else if (i % 500 === 0) line = "::endgroup::";
      else if (i % 10 === 0) line = `\x1b[32mok\x1b[0m ${line}`;
      await store.logs.append(big.job.id, i, `${line}\n`);
    }
    const live = await runOf("running");

    const browser = await chromium.launch({
      executablePath: process.env.SLIPWAY_CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--headless"],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const signIn = await context.newPage();
    await signIn.goto(`${server.url}/login`);
    await signIn.fill("#token", token);
    await signIn.click("button[type=submit]");
    await signIn.waitForSelector("[data-testid=me]");
    await signIn.close();

    const timed = async (url: string, ready: string, then?: (p: Page) => Promise<void>) => {
      const page = await context.newPage();
      await page.goto(url, { waitUntil: "commit" });
      await page.waitForSelector(ready, { timeout: 60_000 });
      const drawn = (await page.evaluate("performance.now()")) as number;
      await then?.(page);
      const interactive = (await page.evaluate("performance.now()")) as number;
      return { page, drawn, interactive };
    };

    // The floor on this machine now: a page of plain text from the same server, no script.
    const floor: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const p = await context.newPage();
      await p.goto(`${server.url}/healthz`, { waitUntil: "load" });
      floor.push((await p.evaluate("performance.now()")) as number);
      await p.close();
    }
    const runsPage: { drawn: number; interactive: number }[] = [];
    const logPage: { drawn: number; interactive: number; frameP95: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const a = await timed(`${server.url}/`, "tr[data-run]", async (p) => {
        await p.selectOption("select[name=status]", "completed");
        await p.waitForURL(/status=completed/);
        await p.waitForSelector("tr[data-run]");
      });
      runsPage.push({ drawn: a.drawn, interactive: a.interactive });
      await a.page.close();
      const b = await timed(
        `${server.url}/runs/${big.run.id}/jobs/${big.job.id}`,
        `[data-testid=line-count]:has-text("${LINES} lines")`,
        async (p) => {
          // Interactive: unfold a group and see its lines drawn.
          await p.click("[data-testid=log] .fold");
          await p.waitForSelector("[data-testid=log] .line.grouped");
        },
      );
      const frames = (await b.page.evaluate(`(async () => {
        const log = document.querySelector("[data-testid=log]");
        const times = [];
        let last = performance.now();
        for (let i = 0; i <= 40; i++) {
          log.scrollTop = (log.scrollHeight - log.clientHeight) * i / 40;
          await new Promise((r) => requestAnimationFrame(r));
          const now = performance.now();
          times.push(now - last);
          last = now;
        }
        return times;
      })()`)) as number[];
      logPage.push({ drawn: b.drawn, interactive: b.interactive, frameP95: p95(frames) });
      await b.page.close();
    }

    // SSE: lines emitted on the server's event bus, seen on the page.
    const page = await context.newPage();
    await page.goto(`${server.url}/runs/${live.run.id}/jobs/${live.job.id}`);
    await page.waitForSelector("[data-testid=log][data-loaded=true]");
    await page.evaluate(`(() => {
      window.__seen = [];
      new MutationObserver(() => {
        for (const el of document.querySelectorAll("[data-testid=log] .text")) {
          const m = /^sent=(\\d+) n=(\\d+)$/.exec(el.textContent);
          if (m && !window.__seen.some((s) => s.n === Number(m[2]))) window.__seen.push({ n: Number(m[2]), ms: Date.now() - Number(m[1]) });
        }
      }).observe(document.querySelector("[data-testid=log]"), { childList: true, subtree: true });
    })()`);
    for (let n = 1; n <= SAMPLES; n++) {
      server.ci.events.emit("event", {
        type: "log",
        runId: live.run.id,
        jobRowId: live.job.id,
        seq: n,
        content: `sent=${Date.now()} n=${n}\n`,
      });
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.waitForFunction(`window.__seen.length >= ${SAMPLES}`, undefined, { timeout: 30_000 });
    const latencies = ((await page.evaluate("window.__seen")) as { ms: number }[]).map((s) => s.ms);
    await browser.close();

    const web = join(root, "dist", "web");
    const js = readFileSync(join(web, "app.js"));
    const chunks = readdirSync(join(web, "chunks")).map((f) => readFileSync(join(web, "chunks", f)));
    const allJs = Buffer.concat([js, ...chunks]);
    const gz = (b: Buffer) => gzipSync(b, { level: 9 }).length;
    const css = readFileSync(join(web, "app.css"));
    const result = {
      date: new Date().toISOString(),
      machine: describeMachine(),
      load: { before: load0.map((l) => round(l)), after: loadavg().map((l) => round(l)) },
      params: { runs: RUNS, rounds: ROUNDS, samples: SAMPLES, lines: LINES },
      floorMs: round(median(floor)),
      runsPage: {
        drawnMs: round(median(runsPage.map((x) => x.drawn))),
        interactiveMs: round(median(runsPage.map((x) => x.interactive))),
        samples: runsPage,
      },
      runPage10k: {
        drawnMs: round(median(logPage.map((x) => x.drawn))),
        interactiveMs: round(median(logPage.map((x) => x.interactive))),
        scrollFrameP95Ms: round(median(logPage.map((x) => x.frameP95))),
        samples: logPage,
      },
      sseLatencyMs: { median: round(median(latencies)), p95: round(p95(latencies)), samples: latencies },
      bytes: {
        // What the runs page loads (app.js), and everything, chunks included (each gzipped on its own).
        entryJs: js.length,
        entryJsGzip: gz(js),
        allJs: allJs.length,
        allJsGzip: gz(js) + chunks.reduce((n, c) => n + gz(c), 0),
        css: css.length,
        cssGzip: gz(css),
      },
    };
    const file = join(root, "bench", "results", `ui-${result.date.slice(0, 10)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    const kb = (n: number) => `${round(n / 1024, 1)} KB`;
    process.stdout.write(
      [
        `| | median |`,
        `|---|---|`,
        `| floor: a plain-text page from the same server | ${result.floorMs} ms |`,
        `| runs page (${RUNS} runs): drawn / interactive | ${result.runsPage.drawnMs} / ${result.runsPage.interactiveMs} ms |`,
        `| run page, ${LINES} log lines: drawn / interactive | ${result.runPage10k.drawnMs} / ${result.runPage10k.interactiveMs} ms |`,
        `| scrolling that log: p95 frame | ${result.runPage10k.scrollFrameP95Ms} ms |`,
        `| SSE log line → on screen: median / p95 | ${result.sseLatencyMs.median} / ${result.sseLatencyMs.p95} ms |`,
        `| JavaScript, runs page (app.js): raw / gzip | ${kb(result.bytes.entryJs)} / ${kb(result.bytes.entryJsGzip)} |`,
        `| JavaScript, all (with the dagre, uPlot, marked chunks): raw / gzip | ${kb(result.bytes.allJs)} / ${kb(result.bytes.allJsGzip)} |`,
        `| CSS: raw / gzip | ${kb(result.bytes.css)} / ${kb(result.bytes.cssGzip)} |`,
        `load average ${result.load.before.join(", ")} → ${result.load.after.join(", ")}; wrote ${file}`,
        "",
      ].join("\n"),
    );
  } finally {
    await server.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
