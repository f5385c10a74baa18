// CLI start-up: wall-clock time of `slipway --version` and `slipway --help` (node start included), which
// should not load the command groups. Targets are `label=entry.js` arguments (default: current=bin/slipway.js,
// the build in dist/); their runs are interleaved so that each sees the same load on a shared machine.
// RUNS (default 10) runs per command and target, after one warm-up, and as many of `node -e 0` alone. Writes bench/results/cli-startup-<date>.json.
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeMachine, median, round, timeCommand } from "./support.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.env.RUNS ?? 10);
const targets = (process.argv.slice(2).length ? process.argv.slice(2) : ["current=bin/slipway.js"]).map(
  (a) => {
    const [label, entry] = a.split("=");
    return { label, entry: resolve(root, entry) };
  },
);
const commands = [["--version"], ["--help"]];

async function time(entry: string, args: string[]): Promise<number> {
  // An empty entry times node itself starting (`node -e 0`): the floor under every figure.
  const argv = entry ? [entry, ...args] : ["-e", "0"];
  const r = await timeCommand(process.execPath, argv, { cwd: root, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`node ${argv.join(" ")} exited with ${r.code}`);
  return r.ms;
}

const machineAtStart = describeMachine();
const samples = new Map<string, number[]>();
for (const t of targets) for (const args of commands) await time(t.entry, args); // warm the file cache
for (let i = 0; i < runs; i++) {
  samples.set("node -e 0", [...(samples.get("node -e 0") ?? []), await time("", [])]);
  for (const args of commands)
    for (const t of targets) {
      const key = `${t.label} ${args.join(" ")}`;
      samples.set(key, [...(samples.get(key) ?? []), await time(t.entry, args)]);
    }
}

const results = [...samples].map(([key, ms]) => ({
  target: key,
  medianMs: round(median(ms), 1),
  minMs: round(Math.min(...ms), 1),
  maxMs: round(Math.max(...ms), 1),
  runsMs: ms.map((m) => round(m, 1)),
}));
const report = {
  benchmark: "cli-startup",
  runs,
  targets,
  machine: machineAtStart,
  loadAverageAtEnd: describeMachine().loadAverage,
  results,
};
const file = join(root, "bench", "results", `cli-startup-${machineAtStart.date.slice(0, 10)}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log("| command | median ms | min ms | max ms |\n|---|---|---|---|");
for (const r of results) console.log(`| ${r.target} | ${r.medianMs} | ${r.minMs} | ${r.maxMs} |`);
console.log(
  `load average ${machineAtStart.loadAverage.join(", ")} → ${report.loadAverageAtEnd.join(", ")}; ${file}`,
);
