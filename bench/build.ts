// npm run bench:build — how much a change-aware build saves: the chat monorepo fixture
// (test/e2e/release/testdata/chat-monorepo: 7 services and their base image) built and pushed from scratch
// (`slipway build --all --push --no-cache`: nothing from the engine's cache, a fresh registry), then one
// service changed and `slipway build --push` again (change detection since the release tag, the engine's
// layer cache). Several rounds, medians; wall-clock time of the CLI as a user runs it.
// Writes bench/results/build-<date>.json and bench/results/build.md.
// Target (issue 4): the one-service rebuild takes ≤ 25% of the full build.
// Environment: ROUNDS (5; fewer when the 4.5-minute budget would be exceeded).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRepo, removeImagesOf, services } from "../test/e2e/release/support.js";
import { startRegistry } from "../test/support/registry.js";
import { describeMachine, killRunning, median, round, timeCommand } from "./support.js";

const here = dirname(fileURLToPath(import.meta.url));
const rootDir = join(here, "..");
const bin = join(rootDir, "bin", "slipway.js");
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BUDGET_MS = 270_000;
const TARGET = 0.25;
const changed = "chat";

const log = (line: string) => process.stderr.write(`${line}\n`);

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** PRETTY_NAME of /etc/os-release (the kernel alone does not say which system this is). */
function distribution(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

type Round = {
  fullMs: number;
  oneMs: number;
  ratio: number;
  /** Time inside the build (per service) as the result reports it, without the CLI's start-up. */
  fullBuiltMs: Record<string, number>;
  oneBuiltMs: number;
};

async function slipwayBuild(cwd: string, args: string[]) {
  const r = await timeCommand(process.execPath, [bin, "build", "--push", "--json", ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", CI: "true" },
    timeoutMs: 120_000,
    keepStderr: true,
  });
  if (r.code !== 0)
    throw new Error(`slipway build ${args.join(" ")} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  const result = JSON.parse(r.stdout) as {
    services: Record<string, { status: string; durationMs: number }>;
  };
  return { ms: r.ms, result };
}

async function runRound(n: number): Promise<Round> {
  const registry = await startRegistry();
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-build-"));
  try {
    const repo = createRepo(join(dir, "chat"), registry.host);
    repo.git("tag", "-a", "-m", "Release 1.0.0", `v1.0.0-${repo.sha().slice(0, 7)}`);

    // --no-cache: from scratch even if another run left images with the same layers on the engine.
    const full = await slipwayBuild(repo.dir, ["--all", "--no-cache"]);
    const built = Object.entries(full.result.services).filter(([, s]) => s.status === "built");
    if (built.length !== services.length + 1)
      throw new Error(`the full build built ${built.map(([n]) => n).join(", ")}`);

    const path = `services/${changed}/www/index.html`;
    repo.commit(`${changed}: round ${n}`, { [path]: `${repo.read(path)}<p>round ${n}</p>\n` });
    const one = await slipwayBuild(repo.dir, []);
    const rebuilt = Object.entries(one.result.services).filter(([, s]) => s.status === "built");
    if (rebuilt.length !== 1 || rebuilt[0][0] !== changed)
      throw new Error(`the rebuild built ${rebuilt.map(([n]) => n).join(", ") || "nothing"}`);

    return {
      fullMs: round(full.ms, 0),
      oneMs: round(one.ms, 0),
      ratio: round(one.ms / full.ms, 3),
      fullBuiltMs: Object.fromEntries(built.map(([n, s]) => [n, s.durationMs])),
      oneBuiltMs: one.result.services[changed].durationMs,
    };
  } finally {
    await registry.stop();
    removeImagesOf(registry.host);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  execFileSync("bash", [join(rootDir, "scripts", "setup-docker.sh")], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const machine = {
    ...describeMachine(),
    docker: docker("version", "--format", "{{.Server.Version}}"),
    storageDriver: docker("info", "--format", "{{.Driver}}"),
    distribution: distribution(),
  };
  log(`bench:build — ${ROUNDS} rounds on ${machine.cpuCount}× ${machine.cpuModel}, docker ${machine.docker}`);
  const rounds: Round[] = [];
  for (let n = 1; n <= ROUNDS; n++) {
    const elapsed = Date.now() - started;
    const longest = Math.max(0, ...rounds.map((r) => r.fullMs + r.oneMs + 5000));
    if (rounds.length >= 1 && elapsed + longest * 1.5 > BUDGET_MS) {
      log(`stopping after ${rounds.length} rounds to stay within ${BUDGET_MS / 1000} s`);
      break;
    }
    const r = await runRound(n);
    rounds.push(r);
    log(`round ${n}: full ${r.fullMs} ms, one service ${r.oneMs} ms (${Math.round(r.ratio * 100)}%)`);
  }
  const fullMs = median(rounds.map((r) => r.fullMs));
  const oneMs = median(rounds.map((r) => r.oneMs));
  const ratio = round(oneMs / fullMs, 3);
  const met = ratio <= TARGET;
  const loadAtEnd = describeMachine().loadAverage;
  const date = machine.date.slice(0, 10);
  const doc = {
    benchmark: "build",
    fixture: "test/e2e/release/testdata/chat-monorepo",
    images: services.length + 1,
    changedService: changed,
    concurrency: 2,
    machine,
    loadAverageAtEnd: loadAtEnd,
    rounds,
    medianFullMs: fullMs,
    medianOneServiceMs: oneMs,
    ratio,
    target: TARGET,
    targetMet: met,
  };
  const resultsDir = join(here, "results");
  mkdirSync(resultsDir, { recursive: true });
  const jsonName = `build-${date}.json`;
  writeFileSync(join(resultsDir, jsonName), `${JSON.stringify(doc, null, 2)}\n`);
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const md = `# Build benchmark (${date})

\`npm run bench:build\` (bench/build.ts): the chat monorepo fixture (test/e2e/release/testdata/chat-monorepo:
7 services and the base image 6 of them build FROM, tiny busybox-httpd images with a few instructions
each) built from scratch with \`slipway build --all --push --no-cache\` into a fresh registry, then one
service (\`${changed}\`: one file of its build context) changed, committed, and \`slipway build --push\`
run again: change detection since the release tag rebuilds only ${changed}, on the engine's layer cache,
and pushes only its image. Wall-clock time of the CLI process (start-up, git, plan,
build, push); ${rounds.length} rounds, medians. Build concurrency 2 (the fixture's \`build.concurrency\`).

Machine: ${machine.cpuCount}× ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.distribution}, ${machine.os}, ${machine.arch},
Node ${machine.node}, Docker Engine ${machine.docker} (${machine.storageDriver}, legacy builder through the API).
Load average at start ${JSON.stringify(machine.loadAverage)}, at end ${JSON.stringify(loadAtEnd)}
(the machine is shared: other work may run at the same time).

| | median ms | rounds (ms) |
|---|---|---|
| full build and push (8 images) | ${fullMs} | ${rounds.map((r) => r.fullMs).join(", ")} |
| rebuild and push after changing one service | ${oneMs} | ${rounds.map((r) => r.oneMs).join(", ")} |
| ratio | ${pct(ratio)} | ${rounds.map((r) => pct(r.ratio)).join(", ")} |

**Target** (one-service rebuild ≤ 25% of the full build): ${pct(ratio)} → **${met ? "met" : "not met"}**.

Inside the rebuild, building and pushing ${changed} took a median ${median(rounds.map((r) => r.oneBuiltMs))} ms
(the result's \`durationMs\`); the rest is the CLI's start-up, git and planning. Raw figures: ${jsonName}.
`;
  writeFileSync(join(resultsDir, "build.md"), md);
  log(
    `full ${fullMs} ms, one service ${oneMs} ms, ratio ${pct(ratio)} (target ≤ 25%: ${met ? "met" : "not met"})`,
  );
  log(
    `wrote bench/results/${jsonName} and bench/results/build.md in ${Math.round((Date.now() - started) / 1000)} s`,
  );
}

main().catch((err) => {
  killRunning();
  log(`bench:build failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
