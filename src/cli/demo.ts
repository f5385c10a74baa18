// `slipway demo`: the whole story on this machine in well under a minute. It makes a git repository from
// examples/demo-shop, runs its workflow with the code `slipway run` uses (test → version → build → deploy),
// which releases and deploys v1; then it commits a v2 and runs the workflow again while a load probe sends
// steady keep-alive requests to the published URLs, so the blue-green switch is seen to drop nothing. It
// prints the URLs, the versions, the release records and the probe's counts, and stops what it started
// (unless --keep).
//
// Everything it makes lives in one directory: the repository, and under `.slipway/` (git-ignored) the run
// data, the deploy store with the agent's state, and the staged releases the instances run from.
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "@commander-js/extra-typings";
import { parseDocument } from "yaml";
import { agentPaths } from "../deploy/index.js";
import { sleep } from "../lib/async.js";
import { describeError, OperationError, UserError } from "../lib/errors.js";
import { formatDuration } from "../lib/format.js";
import { git } from "../lib/git.js";
import { checkActions, executeRun, killAllGroups, planRun, type RunResult } from "../runner/index.js";
import { listWorkflowFiles, loadWorkflows, synthesizeEvent } from "../workflow/index.js";
import { HumanReporter, renderSummary } from "./render.js";
import { makeStyle, type Style } from "./tty.js";

export type DemoFlags = { dir?: string; keep?: boolean; docker?: boolean; json?: boolean };

/** The demo app's name (deploy.app of its slipway.yaml) and the environment it is deployed to. */
const app = "demo-shop";
const environment = "production";
/** The base image the demo's Dockerfiles build on (see examples/demo-shop/slipway.yaml). */
export const demoBaseImage = "slipway/busybox:latest";
/** Ports the demo publishes on when they are free: web, then api. */
export const preferredPorts = { web: 8480, api: 8481 } as const;
const commits = {
  v1: "[minor] first release",
  v2: "[minor] v2: spring sale and a new product",
} as const;

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "try slipway: make a sample multi-service app, run its pipeline, deploy v1, then v2 blue-green under load",
    )
    .option("-D, --dir <dir>", "make the demo here (a new or empty directory; default: a new temporary one)")
    .option("--keep", "leave the app running at the end (default: stop it with `slipway down`)")
    .option("--docker", "build the images with Docker (an error when no engine is usable)")
    .option("--no-docker", "do not use Docker, even when an engine answers")
    .option("--json", "print one JSON document with what happened on stdout; progress goes to stderr")
    .option(
      "--server",
      "instead: start a throwaway slipway server with a sample repository and run, and print the dashboard URL",
    )
    .option("--listen <host:port>", "with --server: where it listens (default 127.0.0.1 on a free port)")
    .action(async (flags) => {
      if (flags.server) {
        const { runDemoServer } = await import("./demo-server.js");
        process.exitCode = await runDemoServer({ dir: flags.dir, listen: flags.listen, json: flags.json });
        return;
      }
      process.exitCode = await runDemo(flags as DemoFlags);
    });
}

// ---- pure parts ----

export type DemoPorts = { web: number; api: number };

/**
 * The example's slipway.yaml with the demo's ports: where the router publishes web and api, and the api
 * URL web and worker call (through api's router). Comments and layout are kept.
 */
export function withPorts(yamlText: string, ports: DemoPorts): string {
  const doc = parseDocument(yamlText);
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  doc.setIn(["deploy", "services", "web", "publish"], ports.web);
  doc.setIn(["deploy", "services", "api", "publish"], ports.api);
  doc.setIn(["deploy", "services", "web", "env", "API_URL"], apiUrl);
  doc.setIn(["deploy", "services", "worker", "env", "API_URL"], apiUrl);
  return doc.toString();
}

export type ProbeCounts = {
  requests: number;
  failed: number;
  versions: Record<string, number>;
  errors: string[];
};
export type ProbeReport = ProbeCounts & {
  durationMs: number;
  targets: Record<string, ProbeCounts & { url: string }>;
};

/** The commands a user runs to look at (and stop) the demo's environment. */
export function lookAroundCommands(dir: string): string[] {
  const where = `-c ${join(dir, "slipway.yaml")} --data-dir ${join(dir, ".slipway", "data")}`;
  return ["status", "releases", "down"].map((c) => `slipway ${c.padEnd(8)} ${where}`);
}

type ReleaseView = {
  number: number;
  version: string | null;
  status: string;
  phase: string;
  trigger: string;
  kind: string;
  strategy: Record<string, string>;
  changed: string[];
  durationMs: number | null;
  error: string | null;
  impact?: {
    services?: Record<string, Record<string, { requests: number; failed: number; status5xx?: number }>>;
  };
};

export type DemoStage = {
  name: "v1" | "v2";
  commit: string;
  message: string;
  version: string | null;
  run: { status: string; jobs: { id: string; status: string; durationMs: number; message?: string }[] };
};

export type DemoReport = {
  ok: boolean;
  dir: string;
  dataDir: string;
  docker: { used: boolean; reason: string; images: string[] };
  urls: { web: string; api: string };
  stages: DemoStage[];
  /** What web answered at the end: the version it serves. */
  serving: string | null;
  probe: ProbeReport | null;
  releases: ReleaseView[];
  kept: boolean;
  stopped: boolean;
  problems: string[];
  notes: string[];
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describeCounts(c: ProbeCounts): string {
  const versions = Object.entries(c.versions)
    .map(([v, n]) => `${v} ×${n}`)
    .join(", ");
  return `${plural(c.requests, "request")}, ${c.failed} failed${versions ? `  (${versions})` : ""}`;
}

/** The human account of a demo: what ran, what it served, what the probe saw, and where to look next. */
export function renderDemoReport(r: DemoReport, style: Style): string {
  const mark = (ok: boolean) => (ok ? style.green("✓") : style.red("✗"));
  const lines: string[] = [];
  lines.push(
    `${mark(r.ok)} slipway demo ${r.ok ? "succeeded" : "failed"}: ${app} (api, web, worker) in ${r.dir}`,
  );
  lines.push("");
  for (const s of r.stages) {
    const jobs = s.run.jobs.map((j) => `${j.id} ${j.status}`).join(", ");
    lines.push(
      `  ${s.name}  ${(s.version ?? "-").padEnd(7)} commit ${s.commit.slice(0, 7)} "${s.message}": pipeline ${s.run.status} (${jobs})`,
    );
  }
  lines.push(
    r.docker.used
      ? `  images  ${r.docker.images.length ? r.docker.images.join(", ") : "none built"} (Docker; the services run as local processes)`
      : `  images  not built: ${r.docker.reason}`,
  );
  lines.push(`  web     ${r.urls.web}/${r.serving ? `   serves ${r.serving}` : ""}`);
  lines.push(`  api     ${r.urls.api}/products`);
  if (r.probe) {
    const p = r.probe;
    lines.push("");
    lines.push(
      `load probe during the v2 rollout (blue-green): ${plural(p.requests, "request")} in ${formatDuration(p.durationMs, "tenths")}, ${p.failed === 0 ? style.green("0 failed") : style.red(`${p.failed} failed`)}`,
    );
    for (const [name, t] of Object.entries(p.targets)) lines.push(`  ${name.padEnd(4)} ${describeCounts(t)}`);
    for (const e of p.errors) lines.push(`  ${style.red(e)}`);
  }
  if (r.releases.length) {
    lines.push("");
    lines.push("releases (slipway releases):");
    for (const rel of r.releases) {
      const strategies = Object.entries(rel.strategy ?? {})
        .map(([svc, st]) => `${svc} ${st}`)
        .join(", ");
      const took = rel.durationMs === null ? "" : ` in ${formatDuration(rel.durationMs, "tenths")}`;
      lines.push(
        `  #${rel.number} ${rel.version ?? "-"} ${rel.status}${took}, by ${rel.trigger}; ${strategies}${rel.error ? `; ${rel.error}` : ""}`,
      );
    }
  }
  for (const p of r.problems) lines.push(style.red(`problem: ${p}`));
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push("");
  if (r.kept) {
    lines.push("still running (--keep). Look around, then stop it:");
  } else {
    lines.push(
      r.stopped
        ? "stopped: `slipway down` stopped the agent and every instance. The records stay; look around:"
        : style.red("could not confirm that everything stopped; look around:"),
    );
  }
  for (const c of lookAroundCommands(r.dir)) lines.push(`  ${c}`);
  lines.push(`  the demo's repository and data: ${r.dir} (rm -rf it when done)`);
  return `${lines.join("\n")}\n`;
}

// ---- the load probe ----

/**
 * Sends GET requests to each target at a steady rate over keep-alive connections until stop(); any
 * answer but a 200, and any connection error or timeout, counts as failed. The version of each answer
 * is its x-app-version header.
 */
export function startProbe(
  targets: Record<string, string>,
  options: { intervalMs?: number; concurrency?: number } = {},
) {
  const intervalMs = options.intervalMs ?? 20;
  const concurrency = options.concurrency ?? 2;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * Object.keys(targets).length });
  const started = Date.now();
  const counts: Record<string, ProbeCounts & { url: string }> = {};
  let running = true;
  const one = (name: string, url: string) =>
    new Promise<void>((done) => {
      const c = counts[name];
      const fail = (why: string) => {
        c.failed++;
        if (c.errors.length < 5) c.errors.push(`${name}: ${why}`);
        done();
      };
      c.requests++;
      const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (body.length < 200) body += d;
        });
        res.on("error", (e) => fail(e.message));
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(`${res.statusCode} ${body.trim().slice(0, 120)}`);
          const v = String(res.headers["x-app-version"] ?? "?");
          c.versions[v] = (c.versions[v] ?? 0) + 1;
          done();
        });
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
      req.on("error", (e) => fail(e.message));
    });
  const loops = Object.entries(targets).flatMap(([name, url]) => {
    counts[name] = { url, requests: 0, failed: 0, versions: {}, errors: [] };
    return Array.from({ length: concurrency }, async () => {
      while (running) {
        const t0 = Date.now();
        await one(name, url);
        await sleep(Math.max(1, intervalMs - (Date.now() - t0)));
      }
    });
  });
  return {
    async stop(): Promise<ProbeReport> {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      const all = Object.values(counts);
      const versions: Record<string, number> = {};
      for (const c of all)
        for (const [v, n] of Object.entries(c.versions)) versions[v] = (versions[v] ?? 0) + n;
      return {
        durationMs: Date.now() - started,
        requests: all.reduce((n, c) => n + c.requests, 0),
        failed: all.reduce((n, c) => n + c.failed, 0),
        versions,
        errors: all.flatMap((c) => c.errors),
        targets: counts,
      };
    },
  };
}

// ---- the steps ----

/** examples/demo-shop of this slipway: found upwards from this module (src/cli or dist/chunks). */
function findExample(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "examples", "demo-shop");
    if (existsSync(join(candidate, "slipway.yaml"))) return candidate;
    dir = dirname(dir);
  }
  throw new UserError(
    "the demo app (examples/demo-shop) is not part of this installation of slipway: run `npx slipway demo` from a clone of slipway's repository",
  );
}

function prepareDir(dir: string | undefined): string {
  if (dir === undefined) return mkdtempSync(join(tmpdir(), "slipway-demo-"));
  const abs = resolve(dir);
  if (existsSync(abs) && readdirSync(abs).length > 0)
    throw new UserError(`--dir ${dir}: the directory is not empty (the demo makes a new repository there)`);
  mkdirSync(abs, { recursive: true });
  return abs;
}

/** A port that nothing listens on: the preferred one when it is free, otherwise one the kernel picks. */
async function freePort(preferred: number, taken: number[]): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((done) => {
      const server = net.createServer();
      server.once("error", () => done(undefined));
      server.listen(port, "127.0.0.1", () => {
        const got = (server.address() as net.AddressInfo).port;
        server.close(() => done(got));
      });
    });
  if (!taken.includes(preferred)) {
    const got = await tryListen(preferred);
    if (got !== undefined) return got;
  }
  for (;;) {
    const got = await tryListen(0);
    if (got !== undefined && !taken.includes(got)) return got;
  }
}

/** Whether the image build can run: an engine answers and has the demo's base image. */
async function dockerChoice(wanted: boolean | undefined): Promise<{ used: boolean; reason: string }> {
  if (wanted === false) return { used: false, reason: "--no-docker" };
  let reason: string;
  try {
    const { connectEngine } = await import("../engines/index.js");
    const engine = connectEngine({ timeoutMs: 3000 });
    await engine.ping(AbortSignal.timeout(3000));
    if (await engine.imageExists(demoBaseImage)) return { used: true, reason: "a Docker engine answers" };
    reason = `the Docker engine has no ${demoBaseImage} image (scripts/setup-docker.sh makes it)`;
  } catch (err) {
    reason = `no Docker engine answers (${(err as Error).message.split("\n")[0]})`;
  }
  if (wanted === true) throw new UserError(`--docker: ${reason}`);
  return { used: false, reason };
}

const demoIdentity = {
  GIT_AUTHOR_NAME: "slipway demo",
  GIT_AUTHOR_EMAIL: "demo@slipway.localhost",
  GIT_COMMITTER_NAME: "slipway demo",
  GIT_COMMITTER_EMAIL: "demo@slipway.localhost",
};

/** git in the demo's own repository: a fixed identity, never a signing prompt. */
function demoGit(dir: string, args: string[]): Promise<string> {
  return git(dir, ["-c", "commit.gpgsign=false", ...args], { env: demoIdentity });
}

async function commitAll(dir: string, message: string): Promise<string> {
  await demoGit(dir, ["add", "-A"]);
  await demoGit(dir, ["commit", "-q", "-m", message]);
  return demoGit(dir, ["rev-parse", "HEAD"]);
}

type CliResult = { code: number; stdout: string; stderr: string };

export async function runDemo(flags: DemoFlags): Promise<number> {
  const style = makeStyle({ json: flags.json });
  const say = (s: string) => process.stderr.write(`${style.bold(style.magenta(`demo: ${s}`))}\n`);
  const example = findExample();
  // Before anything is made: --docker without an engine is a usage error.
  const docker = await dockerChoice(flags.docker);
  const dir = prepareDir(flags.dir);
  const stateDir = join(dir, ".slipway");
  const dataDir = join(stateDir, "data");
  const runnerDir = join(stateDir, "runs");
  const releasesDir = join(stateDir, "releases");
  const paths = agentPaths(dataDir, app, environment);
  const bin = process.argv[1];
  // Every slipway the demo starts (the deploy job's, `releases`, `down`) uses the demo's own store: the
  // SQLite file under .slipway/data, whatever SLIPWAY_DATABASE says.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_DATA_DIR_SERVER: dataDir,
    SLIPWAY_BIN: bin,
    SLIPWAY_NODE: process.execPath,
  };
  delete env.SLIPWAY_DATABASE;
  /** Runs this slipway in the demo's directory; a command still running after timeoutMs is ended. */
  const cli = (args: string[], timeoutMs = 30_000) =>
    new Promise<CliResult>((done) => {
      const child = spawn(process.execPath, [bin, ...args], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        stderr += `\nslipway ${args[0]} did not finish within ${timeoutMs / 1000} s`;
        child.kill("SIGTERM");
      }, timeoutMs);
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        done({ code: code ?? 1, stdout, stderr });
      });
      child.on("error", (e) => done({ code: 1, stdout, stderr: e.message }));
    });

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) {
      killAllGroups();
      process.exit(130);
    }
    process.stderr.write("\ninterrupted: stopping the demo (Ctrl-C again to quit at once)\n");
    controller.abort(new Error("cancelled by the user"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const report: DemoReport = {
    ok: false,
    dir,
    dataDir,
    docker: { ...docker, images: [] },
    urls: { web: "", api: "" },
    stages: [],
    serving: null,
    probe: null,
    releases: [],
    kept: !!flags.keep,
    stopped: false,
    problems: [],
    notes: [],
  };

  const runPipeline = async (name: "v1" | "v2", message: string, commit: string): Promise<DemoStage> => {
    say(`${name}: running the pipeline of "${message}" (test → version → build → deploy)`);
    const workflows = await loadWorkflows(dir, listWorkflowFiles(dir));
    const event = await synthesizeEvent(dir, "push");
    const plan = planRun(workflows, event);
    checkActions(plan, join(runnerDir, "actions"));
    const reporter = new HumanReporter(style);
    let result: RunResult;
    try {
      result = await executeRun(plan, {
        repoDir: dir,
        dataDir: runnerDir,
        repository: `local/${app}`,
        defaultBranch: "main",
        actor: process.env.USER ?? "slipway",
        secrets: {},
        vars: { DOCKER: String(report.docker.used), RELEASES_DIR: releasesDir },
        inputs: {},
        reporter,
        signal: controller.signal,
        hostEnv: env as Record<string, string>,
      });
    } finally {
      reporter.flush();
    }
    process.stderr.write(renderSummary(result, style));
    const job = (id: string) => result.jobs.find((j) => j.id === id);
    const images = job("build")?.outputs.images;
    if (images) {
      for (const i of Object.values(
        JSON.parse(images) as Record<string, { image: string | null; status: string }>,
      ))
        if (i.image && i.status === "built") report.docker.images.push(i.image);
    }
    const stage: DemoStage = {
      name,
      commit,
      message,
      version: job("version")?.outputs.version || null,
      run: {
        status: result.status,
        jobs: result.jobs.map((j) => ({
          id: j.id,
          status: j.status,
          durationMs: j.durationMs,
          ...(j.message ? { message: j.message } : {}),
        })),
      },
    };
    report.stages.push(stage);
    if (result.status !== "success")
      throw new OperationError(`the ${name} pipeline ended with ${result.status}`);
    if (!stage.version) throw new OperationError(`the ${name} pipeline released no version`);
    return stage;
  };

  try {
    say(`making the demo repository in ${dir} (from ${example})`);
    // .demo/ holds the later versions' changes: not part of the first commit.
    const later = join(example, ".demo");
    cpSync(example, dir, { recursive: true, filter: (src) => src !== later && !src.startsWith(later + sep) });
    const web = await freePort(preferredPorts.web, []);
    const api = await freePort(preferredPorts.api, [web]);
    report.urls = { web: `http://127.0.0.1:${web}`, api: `http://127.0.0.1:${api}` };
    writeFileSync(
      join(dir, "slipway.yaml"),
      withPorts(readFileSync(join(dir, "slipway.yaml"), "utf8"), { web, api }),
    );
    await demoGit(dir, ["init", "-q"]);
    await demoGit(dir, ["symbolic-ref", "HEAD", "refs/heads/main"]);
    const first = await commitAll(dir, commits.v1);
    if (!report.docker.used) say(`images will not be built: ${report.docker.reason}`);

    const v1 = await runPipeline("v1", commits.v1, first);
    const answered = await fetchVersion(`${report.urls.web}/`);
    if (answered !== v1.version)
      throw new OperationError(
        `after the v1 deploy, web answered ${answered ?? "nothing"} instead of ${v1.version}`,
      );
    say(`v1 (${v1.version}) serves at ${report.urls.web}/ — now v2, blue-green, under a load probe`);

    cpSync(join(example, ".demo", "v2"), dir, { recursive: true });
    const second = await commitAll(dir, commits.v2);
    const probe = startProbe({ web: `${report.urls.web}/`, api: `${report.urls.api}/products` });
    let v2: DemoStage;
    try {
      v2 = await runPipeline("v2", commits.v2, second);
      await sleep(500);
    } finally {
      report.probe = await probe.stop();
    }
    report.serving = await fetchVersion(`${report.urls.web}/`);
    if (report.serving !== v2.version)
      report.problems.push(
        `after the v2 deploy, web answers ${report.serving ?? "nothing"} instead of ${v2.version}`,
      );
    if (report.probe.failed > 0)
      report.problems.push(
        `the load probe saw ${plural(report.probe.failed, "failed request")} during the rollout`,
      );
  } catch (err) {
    report.problems.push(describeError(err));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const releases = await cli(["releases", "--json"]);
  if (releases.code === 0) report.releases = JSON.parse(releases.stdout) as ReleaseView[];
  if (!flags.keep) {
    say("stopping: slipway down");
    const down = await stopEnvironment(cli, paths);
    report.stopped = down.stopped;
    if (!down.stopped) report.problems.push(down.problem ?? "slipway down failed");
    await removeImages(report.docker.images, report.notes);
  }
  report.ok = report.problems.length === 0;
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderDemoReport(report, style));
  return report.ok ? 0 : 1;
}

/** The x-app-version of a GET, or null when it does not answer 200. */
async function fetchVersion(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok ? res.headers.get("x-app-version") : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/** `slipway down`, then waits until the agent has exited: nothing of the demo is left running. */
async function stopEnvironment(
  cli: (args: string[], timeoutMs: number) => Promise<CliResult>,
  paths: ReturnType<typeof agentPaths>,
): Promise<{ stopped: boolean; problem?: string }> {
  let agentPid: number | undefined;
  try {
    agentPid = Number(readFileSync(paths.pidFile, "utf8").trim()) || undefined;
  } catch {
    agentPid = undefined;
  }
  const down = await cli(["down", "--yes"], 60_000);
  if (down.code !== 0)
    return { stopped: false, problem: `slipway down failed (log: ${paths.logFile}): ${down.stderr.trim()}` };
  if (agentPid !== undefined) {
    const until = Date.now() + 15_000;
    while (isAlive(agentPid) && Date.now() < until) await sleep(100);
    if (isAlive(agentPid))
      return {
        stopped: false,
        problem: `the deploy agent (pid ${agentPid}) still runs after slipway down; log: ${paths.logFile}`,
      };
  }
  return { stopped: true };
}

/** Removes the images the demo's builds made (a demo leaves nothing behind unless --keep). */
async function removeImages(images: string[], notes: string[]) {
  if (images.length === 0) return;
  try {
    const { connectEngine } = await import("../engines/index.js");
    const engine = connectEngine({ timeoutMs: 10_000 });
    for (const image of images) await engine.removeImage(image);
  } catch (err) {
    notes.push(`could not remove the demo's images: ${(err as Error).message}`);
  }
}
