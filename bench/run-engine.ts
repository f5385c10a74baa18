// `npm run bench`: the run engine's overhead per step and per job against bash running the same
// commands directly (issue 2). Target: ≤ 5 ms per step and ≤ 20 ms per job on a 2-core machine.
//
// Scenarios, each a workflow in one throwaway git repository, every step `run: true`:
//   wide    200 independent jobs × 5 steps, `--jobs P` (P = CPU count, slipway's default)
//   chain   50 jobs × 5 steps, each job `needs` the previous one (sequential)
//   chain1  50 jobs × 1 step, and short, 10 jobs × 1 step, same chains: only there to separate the
//           per-step, per-job and per-run parts of slipway's extra wall time (three equations, three unknowns)
// Baseline: what GitHub's runner runs for such a step, `bash -e <script file>` with the script `true`,
// spawned the same number of times by a small bash driver (bench-driver.sh below): P background
// subshells for wide, one for the chains, each a sequential `for` loop; timed inside the driver with
// $EPOCHREALTIME. The same spawns driven from Node's child_process, and a bare `bash -c true` loop in
// bash, are measured for context. Slipway and baselines are interleaved, in a rotating order, `--reps`
// times (default 5); medians are reported. Results go to bench/results/.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  describeMachine,
  killRunning,
  type Machine,
  makeGitRepo,
  median,
  round,
  timeCommand,
} from "./support.js";
import { textTable } from "../src/lib/format.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "bin", "slipway.js");
const resultsDir = join(root, "bench", "results");

const targets = { perStepMs: 5, perJobMs: 20 } as const;
/** The whole benchmark stops by itself: no new repetition starts after this, and a hard stop follows. */
const budgetMs = 240_000;
const hardStopMs = 295_000;
const commandTimeoutMs = 120_000;

type ScenarioName = "wide" | "chain" | "chain1" | "short";
type Scenario = { name: ScenarioName; jobs: number; stepsPerJob: number; chained: boolean; lanes: number };

type RunJson = {
  status: string;
  durationMs: number;
  jobs: {
    id: string;
    status: string;
    durationMs: number;
    steps: { id: string; outcome: string; durationMs: number }[];
  }[];
};

/** One slipway run as seen from outside (wall) and as slipway reports it (--json). */
type SlipwaySample = {
  wallMs: number;
  runDurationMs: number;
  /** Median of step.durationMs over all steps. */
  stepMedianMs: number;
  /** Median over jobs of job.durationMs − Σ step.durationMs. */
  jobOwnMedianMs: number;
  /** run.durationMs − Σ job.durationMs, i.e. time between jobs (meaningful for the chains only). */
  gapTotalMs: number;
};

type Rep = {
  startupMs: number;
  nodeStartupMs: number;
  bareBashPerSpawnMs: number;
  slipway: Record<ScenarioName, SlipwaySample>;
  bashBaselineMs: Record<ScenarioName, number>;
  nodeBaselineMs: Record<ScenarioName, number>;
};

const driver = `#!/usr/bin/env bash
# bench-driver.sh SCRIPT N LANES: runs \`bash -e SCRIPT\` N times, in LANES sequential loops side by side.
script=$1 n=$2 lanes=$3
start=$EPOCHREALTIME
for ((l = 0; l < lanes; l++)); do
  (for ((i = l; i < n; i += lanes)); do bash -e "$script" || exit 1; done) &
done
wait
end=$EPOCHREALTIME
echo "$start $end"
`;

const bareLoop = `#!/usr/bin/env bash
# bare-loop.sh N: N sequential \`bash -c true\`.
n=$1
start=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do bash -c true; done
end=$EPOCHREALTIME
echo "$start $end"
`;

function workflowYaml(s: Scenario): string {
  const lines = [`name: ${s.name}`, "on: push", "jobs:"];
  for (let j = 0; j < s.jobs; j++) {
    lines.push(`  j${String(j).padStart(3, "0")}:`, "    runs-on: ubuntu-latest");
    if (s.chained && j > 0) lines.push(`    needs: j${String(j - 1).padStart(3, "0")}`);
    lines.push("    steps:");
    for (let k = 0; k < s.stepsPerJob; k++) lines.push("      - run: true");
  }
  return `${lines.join("\n")}\n`;
}

function spanMs(stdout: string): number {
  const [start, end] = stdout.trim().split(/\s+/).map(Number);
  if (!(end >= start)) throw new Error(`unexpected driver output: ${JSON.stringify(stdout)}`);
  return (end - start) * 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "5" } } });
  const reps = Number(values.reps);
  if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps must be a whole number of at least 1`);
  const t0 = Date.now();
  const lanes = Math.max(1, cpus().length);
  const scenarios: Scenario[] = [
    { name: "wide", jobs: 200, stepsPerJob: 5, chained: false, lanes },
    { name: "chain", jobs: 50, stepsPerJob: 5, chained: true, lanes: 1 },
    { name: "chain1", jobs: 50, stepsPerJob: 1, chained: true, lanes: 1 },
    { name: "short", jobs: 10, stepsPerJob: 1, chained: true, lanes: 1 },
  ];
  const machineBefore = describeMachine();

  const tmp = mkdtempSync(join(tmpdir(), "slipway-bench-"));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  const hardStop = setTimeout(() => {
    process.stderr.write(`bench: hard stop after ${hardStopMs / 1000} s\n`);
    killRunning();
    cleanup();
    process.exit(1);
  }, hardStopMs);
  hardStop.unref();
  process.on("SIGINT", () => {
    killRunning();
    cleanup();
    process.exit(130);
  });

  try {
    const repo = join(tmp, "repo");
    const files: Record<string, string> = {};
    for (const s of scenarios) files[`.github/workflows/${s.name}.yml`] = workflowYaml(s);
    makeGitRepo(repo, files);
    const script = join(tmp, "step.sh");
    writeFileSync(script, "true", { mode: 0o755 });
    writeFileSync(join(tmp, "bench-driver.sh"), driver, { mode: 0o755 });
    writeFileSync(join(tmp, "bare-loop.sh"), bareLoop, { mode: 0o755 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLIPWAY_DATA_DIR: join(tmp, "data"),
      NO_COLOR: "1",
      LC_ALL: "C",
    };
    delete env.ACTIONS_STEP_DEBUG;
    delete env.SLIPWAY_KEEP_WORKDIRS;

    const runSlipway = async (s: Scenario): Promise<SlipwaySample> => {
      const args = [
        cli,
        "run",
        "push",
        "-W",
        `.github/workflows/${s.name}.yml`,
        "--json",
        "--jobs",
        String(lanes),
      ];
      const t = await timeCommand("node", args, {
        cwd: repo,
        env,
        timeoutMs: commandTimeoutMs,
        keepStderr: true,
      });
      let doc: RunJson;
      try {
        doc = JSON.parse(t.stdout) as RunJson;
      } catch {
        throw new Error(`slipway ${s.name}: exit ${t.code}, no JSON result\n${t.stderr.slice(-2000)}`);
      }
      const steps = doc.jobs.flatMap((j) => j.steps);
      if (doc.status !== "success" || doc.jobs.length !== s.jobs || steps.length !== s.jobs * s.stepsPerJob) {
        throw new Error(
          `slipway ${s.name}: status ${doc.status}, ${doc.jobs.length} jobs, ${steps.length} steps`,
        );
      }
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      return {
        wallMs: t.ms,
        runDurationMs: doc.durationMs,
        stepMedianMs: median(steps.map((st) => st.durationMs)),
        jobOwnMedianMs: median(doc.jobs.map((j) => j.durationMs - sum(j.steps.map((st) => st.durationMs)))),
        gapTotalMs: doc.durationMs - sum(doc.jobs.map((j) => j.durationMs)),
      };
    };
    const runBashBaseline = async (s: Scenario): Promise<number> => {
      const n = String(s.jobs * s.stepsPerJob);
      const t = await timeCommand("bash", [join(tmp, "bench-driver.sh"), script, n, String(s.lanes)], {
        env,
        timeoutMs: commandTimeoutMs,
      });
      if (t.code !== 0) throw new Error(`bash baseline ${s.name} failed (exit ${t.code})`);
      return spanMs(t.stdout);
    };
    const runNodeBaseline = (s: Scenario): Promise<number> =>
      nodeSpawnLoop(script, s.jobs * s.stepsPerJob, s.lanes, env);
    const startup = async (cmd: string, args: string[]) =>
      (await timeCommand(cmd, args, { env, cwd: repo, timeoutMs: 30_000 })).ms;

    // Warm-up: page cache, git, the bundle; not recorded.
    process.stderr.write(`bench: ${lanes} CPU(s); warming up in ${tmp}\n`);
    await runSlipway(scenarios[2]);
    await runBashBaseline(scenarios[2]);
    await runNodeBaseline(scenarios[2]);

    const done: Rep[] = [];
    let lastRepMs = 0;
    for (let r = 0; r < reps; r++) {
      const elapsed = Date.now() - t0;
      if (r > 0 && elapsed + lastRepMs * 1.2 > budgetMs) {
        process.stderr.write(`bench: time budget reached after ${r} repetition(s)\n`);
        break;
      }
      const repStart = Date.now();
      const rep: Partial<Rep> & Pick<Rep, "slipway" | "bashBaselineMs" | "nodeBaselineMs"> = {
        slipway: {} as Rep["slipway"],
        bashBaselineMs: {} as Rep["bashBaselineMs"],
        nodeBaselineMs: {} as Rep["nodeBaselineMs"],
      };
      // Rotate the order every repetition, and swap slipway/baseline on odd ones, so that drift in the
      // machine's load does not always fall on the same measurement.
      const tasks: (() => Promise<void>)[] = [
        async () => {
          rep.startupMs = await startup("node", [cli, "--version"]);
          rep.nodeStartupMs = await startup("node", ["-e", "0"]);
          const t = await timeCommand("bash", [join(tmp, "bare-loop.sh"), "250"], {
            env,
            timeoutMs: commandTimeoutMs,
          });
          rep.bareBashPerSpawnMs = spanMs(t.stdout) / 250;
        },
        ...scenarios.map((s) => async () => {
          const pair = [
            async () => {
              rep.slipway[s.name] = await runSlipway(s);
            },
            async () => {
              rep.bashBaselineMs[s.name] = await runBashBaseline(s);
              rep.nodeBaselineMs[s.name] = await runNodeBaseline(s);
            },
          ];
          if (r % 2) pair.reverse();
          for (const f of pair) await f();
        }),
      ];
      for (let i = 0; i < tasks.length; i++) await tasks[(i + r) % tasks.length]();
      done.push(rep as Rep);
      lastRepMs = Date.now() - repStart;
      process.stderr.write(`bench: repetition ${r + 1}/${reps} in ${round(lastRepMs / 1000, 1)} s\n`);
    }

    const report = analyse(done, scenarios, lanes, machineBefore, reps);
    report.loadAverageAfter = loadavg().map((l) => round(l));
    report.benchmarkSeconds = round((Date.now() - t0) / 1000, 1);
    mkdirSync(resultsDir, { recursive: true });
    // One file per run: a second run on the same day must not overwrite the first (the history is the point).
    const day = report.machine.date.slice(0, 16).replace(":", "");
    writeFileSync(join(resultsDir, `engine-${day}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(resultsDir, "engine.md"), markdown(report));
    process.stdout.write(table(report));
    process.stdout.write(`\nwritten: bench/results/engine-${day}.json, bench/results/engine.md\n`);
  } finally {
    clearTimeout(hardStop);
    cleanup();
  }
}

/** The baseline's spawns driven from Node instead of bash, with slipway's stdio and process group. */
function nodeSpawnLoop(script: string, n: number, lanes: number, env: NodeJS.ProcessEnv): Promise<number> {
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn("bash", ["-e", script], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.resume();
      child.stderr.resume();
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`bash exited ${code}`))));
    });
  const lane = async (l: number) => {
    for (let i = l; i < n; i += lanes) await once();
  };
  const started = process.hrtime.bigint();
  return Promise.all(Array.from({ length: lanes }, (_, l) => lane(l))).then(
    () => Number(process.hrtime.bigint() - started) / 1e6,
  );
}

type Report = ReturnType<typeof analyse>;

function analyse(reps: Rep[], scenarios: Scenario[], lanes: number, machine: Machine, requestedReps: number) {
  const m = (f: (r: Rep) => number) => round(median(reps.map(f)));
  const byName = Object.fromEntries(scenarios.map((s) => [s.name, s])) as Record<ScenarioName, Scenario>;
  const steps = (s: Scenario) => s.jobs * s.stepsPerJob;
  const wide = byName.wide;
  const chain = byName.chain;
  const chain1 = byName.chain1;
  const short = byName.short;

  const medians = {
    cliStartupMs: m((r) => r.startupMs),
    nodeStartupMs: m((r) => r.nodeStartupMs),
    bareBashCTruePerSpawnMs: m((r) => r.bareBashPerSpawnMs),
    bashScriptPerSpawnMs: m((r) => r.bashBaselineMs.chain / steps(chain)),
    scenarios: Object.fromEntries(
      scenarios.map((s) => [
        s.name,
        {
          jobs: s.jobs,
          stepsPerJob: s.stepsPerJob,
          lanes: s.lanes,
          slipwayWallMs: m((r) => r.slipway[s.name].wallMs),
          slipwayRunDurationMs: m((r) => r.slipway[s.name].runDurationMs),
          slipwayOutsideRunMs: m((r) => r.slipway[s.name].wallMs - r.slipway[s.name].runDurationMs),
          bashBaselineMs: m((r) => r.bashBaselineMs[s.name]),
          nodeBaselineMs: m((r) => r.nodeBaselineMs[s.name]),
          jsonStepMedianMs: m((r) => r.slipway[s.name].stepMedianMs),
          jsonJobOwnMedianMs: m((r) => r.slipway[s.name].jobOwnMedianMs),
          jsonGapTotalMs: m((r) => r.slipway[s.name].gapTotalMs),
        },
      ]),
    ) as unknown as Record<ScenarioName, Record<string, number>>,
  };

  // Wall-clock view: slipway's wall time against the bash baseline's, per repetition, then the median.
  // Slipway's extra time over the baseline is modelled as perRun + jobs·perJob + steps·perStep, solved
  // from the three chains: chain − chain1 differ only by 200 steps, chain1 − short only by 40 jobs (and
  // their 40 steps); what is left of short is the per-run part (CLI start-up, workflow parse, git, exit).
  const extra = (r: Rep, s: Scenario) => r.slipway[s.name].wallMs - r.bashBaselineMs[s.name];
  const perStepWall = (r: Rep) => (extra(r, chain) - extra(r, chain1)) / (steps(chain) - steps(chain1));
  const perJobWall = (r: Rep) =>
    (extra(r, chain1) - extra(r, short) - (steps(chain1) - steps(short)) * perStepWall(r)) /
    (chain1.jobs - short.jobs);
  const perRunWall = (r: Rep) => extra(r, short) - short.jobs * perJobWall(r) - steps(short) * perStepWall(r);
  const wideLaneJobs = wide.jobs / wide.lanes;
  const wallClock = {
    chainPerStepMs: m(perStepWall),
    chainPerJobMs: m(perJobWall),
    perRunMs: m(perRunWall),
    chainAllInPerStepMs: m((r) => (extra(r, chain) - perRunWall(r)) / steps(chain)),
    wideAllInPerJobPerLaneMs: m((r) => (extra(r, wide) - perRunWall(r)) / wideLaneJobs),
    wideAllInPerStepPerLaneMs: m((r) => (extra(r, wide) - perRunWall(r)) / (steps(wide) / wide.lanes)),
  };

  // JSON view: slipway's own durations. A step's overhead is its duration less one baseline spawn (under
  // the same parallelism); a job's is its duration less its steps', plus the gap before the next job.
  const spawnChain = (r: Rep) => r.bashBaselineMs.chain / steps(chain);
  const spawnWide = (r: Rep) => r.bashBaselineMs.wide / (steps(wide) / wide.lanes);
  const json = {
    chainPerStepMs: m((r) => r.slipway.chain.stepMedianMs - spawnChain(r)),
    widePerStepMs: m((r) => r.slipway.wide.stepMedianMs - spawnWide(r)),
    chainJobOwnMs: m((r) => r.slipway.chain.jobOwnMedianMs),
    chainGapPerJobMs: m((r) => r.slipway.chain.gapTotalMs / chain.jobs),
    chainPerJobMs: m((r) => r.slipway.chain.jobOwnMedianMs + r.slipway.chain.gapTotalMs / chain.jobs),
    wideJobOwnMs: m((r) => r.slipway.wide.jobOwnMedianMs),
  };

  const combinedJobBudget = targets.perJobMs + wide.stepsPerJob * targets.perStepMs;
  const met = {
    wallClockPerStep: wallClock.chainPerStepMs <= targets.perStepMs,
    wallClockPerJob: wallClock.chainPerJobMs <= targets.perJobMs,
    wallClockWideCombined: wallClock.wideAllInPerJobPerLaneMs <= combinedJobBudget,
    jsonChainPerStep: json.chainPerStepMs <= targets.perStepMs,
    jsonWidePerStep: json.widePerStepMs <= targets.perStepMs,
    jsonPerJob: json.chainPerJobMs <= targets.perJobMs,
  };

  return {
    benchmark: "run-engine",
    machine,
    loadAverageAfter: [] as number[],
    benchmarkSeconds: 0,
    repetitions: { requested: requestedReps, completed: reps.length },
    parallelism: lanes,
    targets: { ...targets, wideCombinedPerJobPerLaneMs: combinedJobBudget },
    method: {
      slipway: `node bin/slipway.js run push -W .github/workflows/<scenario>.yml --json --jobs ${lanes}, wall time from spawn to exit, stderr piped and discarded`,
      bashBaseline:
        "a bash driver script runs `bash -e step.sh` (step.sh contains `true`) N times: LANES background subshells, each a sequential for-loop (LANES = parallelism for wide, 1 for the chains); timed inside the driver with $EPOCHREALTIME",
      nodeBaseline:
        "context only: the same N `bash -e step.sh` spawns from Node's child_process.spawn (detached, stdout/stderr piped, awaiting 'close'), LANES concurrent async loops",
      bareBash: "context only: `for ((i = 0; i < 250; i++)); do bash -c true; done` in bash",
      startup: "`node bin/slipway.js --version` wall time (and `node -e 0` for Node itself)",
      wallClockView:
        "extra = slipway − baseline, modelled as perRun + jobs·perJob + steps·perStep and solved from the chains: perStep = (extra[chain] − extra[chain1]) / 200; perJob = (extra[chain1] − extra[short] − 40·perStep) / 40; perRun = extra[short] − 10·perJob − 10·perStep (CLI start-up, workflow parse, git, exit); allIn = (extra − perRun) spread over the steps, or jobs, of one lane",
      jsonView:
        "perStep = median step.durationMs − one baseline spawn (baseline / spawns per lane); perJob = median(job.durationMs − Σ step.durationMs) + (run.durationMs − Σ job.durationMs) / jobs",
      aggregation: "each figure is computed per repetition, then the median over repetitions",
    },
    medians,
    overheads: { wallClock, json },
    met: { ...met, all: Object.values(met).every(Boolean) },
    raw: reps,
  };
}

const yes = (b: boolean) => (b ? "met" : "MISSED");

function table(r: Report): string {
  const o = r.overheads;
  const c = r.medians.scenarios;
  const rows = [
    ["", "per step", "per job", "target met"],
    ["target", `${targets.perStepMs}`, `${targets.perJobMs}`, ""],
    [
      "wall clock (chain)",
      `${o.wallClock.chainPerStepMs}`,
      `${o.wallClock.chainPerJobMs}`,
      `${yes(r.met.wallClockPerStep)} / ${yes(r.met.wallClockPerJob)}`,
    ],
    [
      "slipway --json (chain)",
      `${o.json.chainPerStepMs}`,
      `${o.json.chainPerJobMs}`,
      `${yes(r.met.jsonChainPerStep)} / ${yes(r.met.jsonPerJob)}`,
    ],
    [
      "slipway --json (wide)",
      `${o.json.widePerStepMs}`,
      `${o.json.wideJobOwnMs} (own)`,
      yes(r.met.jsonWidePerStep),
    ],
    [
      `wide all-in / lane`,
      `${o.wallClock.wideAllInPerStepPerLaneMs}`,
      `${o.wallClock.wideAllInPerJobPerLaneMs}`,
      `${yes(r.met.wallClockWideCombined)} (≤ ${r.targets.wideCombinedPerJobPerLaneMs}/job)`,
    ],
  ];
  const lines = textTable(rows).trimEnd().split("\n");
  const scen = (Object.keys(c) as ScenarioName[]).map(
    (n) =>
      `  ${n.padEnd(6)} slipway ${c[n].slipwayWallMs} ms, bash ${c[n].bashBaselineMs} ms, node spawn ${c[n].nodeBaselineMs} ms`,
  );
  return [
    `run engine overhead, ms (medians of ${r.repetitions.completed} repetitions, ${r.machine.cpuCount} × ${r.machine.cpuModel})`,
    ...lines,
    `per run ${r.overheads.wallClock.perRunMs} ms, of which CLI start-up ${r.medians.cliStartupMs} ms (node -e 0: ${r.medians.nodeStartupMs} ms); bash -e script ${r.medians.bashScriptPerSpawnMs} ms/spawn; bash -c true ${r.medians.bareBashCTruePerSpawnMs} ms/spawn`,
    ...scen,
    `targets: ${r.met.all ? "all met" : "not all met"}`,
    "",
  ].join("\n");
}

function markdown(r: Report): string {
  const mc = r.machine;
  const c = r.medians.scenarios;
  const o = r.overheads;
  const scenRows = (Object.keys(c) as ScenarioName[]).map((n) => {
    const s = c[n];
    return `| ${n} | ${s.jobs} × ${s.stepsPerJob} | ${s.lanes} | ${s.slipwayWallMs} | ${s.slipwayRunDurationMs} | ${s.slipwayOutsideRunMs} | ${s.bashBaselineMs} | ${s.nodeBaselineMs} | ${s.jsonStepMedianMs} | ${s.jsonJobOwnMedianMs} | ${s.lanes > 1 ? "–" : s.jsonGapTotalMs} |`;
  });
  return `# Run engine overhead

Generated by \`npm run bench\` (bench/run-engine.ts) on ${mc.date}. Overwritten by each run; dated JSON files keep the history.

## Machine

- CPU: ${mc.cpuCount} × ${mc.cpuModel}, ${mc.arch}
- memory: ${mc.totalMemoryGiB} GiB
- OS: ${mc.os}
- Node ${mc.node}; ${mc.git}; ${mc.bash}
- load average before: ${mc.loadAverage.join(", ")}; after: ${r.loadAverageAfter.join(", ")}
- ${r.repetitions.completed} of ${r.repetitions.requested} repetitions in ${r.benchmarkSeconds} s; parallelism ${r.parallelism} (\`--jobs\` = CPU count)

## Result

Target (issue 2): ≤ ${targets.perStepMs} ms per step and ≤ ${targets.perJobMs} ms per job of overhead. **${r.met.all ? "All met." : "Not all met."}**

| view | per step (ms) | per job (ms) | met |
|---|---|---|---|
| wall clock, chains (linear model) | ${o.wallClock.chainPerStepMs} | ${o.wallClock.chainPerJobMs} | step ${yes(r.met.wallClockPerStep)}, job ${yes(r.met.wallClockPerJob)} |
| slipway --json, chain | ${o.json.chainPerStepMs} | ${o.json.chainPerJobMs} (own ${o.json.chainJobOwnMs} + gap ${o.json.chainGapPerJobMs}) | step ${yes(r.met.jsonChainPerStep)}, job ${yes(r.met.jsonPerJob)} |
| slipway --json, wide | ${o.json.widePerStepMs} | own ${o.json.wideJobOwnMs} | step ${yes(r.met.jsonWidePerStep)} |
| wall clock, wide, all-in per lane | ${o.wallClock.wideAllInPerStepPerLaneMs} | ${o.wallClock.wideAllInPerJobPerLaneMs} (budget ${r.targets.wideCombinedPerJobPerLaneMs} = 20 + 5 × 5) | ${yes(r.met.wallClockWideCombined)} |
| wall clock, chain, all-in | ${o.wallClock.chainAllInPerStepMs} | | |

Per run, on top (wall clock model): **${o.wallClock.perRunMs} ms**, of which CLI start-up (\`slipway --version\`) **${r.medians.cliStartupMs} ms** (\`node -e 0\`: ${r.medians.nodeStartupMs} ms); not counted in the overheads above.

## Raw medians (ms)

One spawn of \`bash -e step.sh\` in the bash driver (chain): ${r.medians.bashScriptPerSpawnMs}; \`bash -c true\` in a bash loop: ${r.medians.bareBashCTruePerSpawnMs}.

| scenario | jobs × steps | lanes | slipway wall | run.durationMs | wall − run | bash baseline | node spawn baseline | step.durationMs | job − Σ steps | run − Σ jobs |
|---|---|---|---|---|---|---|---|---|---|---|
${scenRows.join("\n")}

## Method

- Scenarios: \`wide\` 200 independent jobs × 5 steps; \`chain\` 50 jobs × 5 steps, each \`needs\` the previous; \`chain1\` and \`short\` the same chain with 1 step per job and 50 or 10 jobs (only to separate per-run, per-job and per-step cost). Every step is \`run: true\`, \`runs-on: ubuntu-latest\`.
- slipway: ${r.method.slipway}.
- bash baseline: ${r.method.bashBaseline}.
- node spawn baseline: ${r.method.nodeBaseline}.
- bare bash: ${r.method.bareBash}.
- start-up: ${r.method.startup}.
- wall-clock view: ${r.method.wallClockView}.
- JSON view: ${r.method.jsonView}.
- ${r.method.aggregation}; slipway and baseline runs are interleaved in a rotating order after one warm-up.
`;
}

await main();
