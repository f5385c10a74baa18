// npm run bench:router — requests/s and latency through slipway's two routers (the Node one and the
// HAProxy-driven one, createHaproxyRouter), against the same backend directly, through nginx as a
// reverse proxy and through a plain HAProxy, on this machine, same load tool (autocannon, same
// connections and duration), interleaved and repeated; medians. Then the errors keep-alive clients see
// while all traffic is switched between two versions every 500 ms: both routers' setRoutes(), nginx's
// config rewrite + reload, a plain HAProxy's runtime API.
// EXTRA=1 adds two targets: nginx driven by slipway (generated config, per-request log lines to a
// slipway process) and http-proxy-3 (the library baseline); give it SECONDS=5 to stay under 3 minutes.
// Writes bench/results/router-<date>.json and bench/results/router.md.
// Target (issue 5.3): the router's requests/s >= 70% of nginx's and its p99 <= 1.5x nginx's (judged for
// each of the two routers).
// Environment: ROUNDS (3), SECONDS (7), CONNECTIONS (100), WARMUP (2), NGINX_WORKERS (1), EXTRA (0).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ensureHaproxy,
  haproxyCommand,
  haproxyConfig,
  haproxyRuntime,
  haproxySocket,
  switchCommands,
} from "./router/haproxy.js";
import { freePort } from "../test/support/ports.js";
import { ensureNginx, nginxCommand, nginxConfig } from "./router/nginx.js";
import { nginxCommands as drivenCommandsFor, planNginxConfig } from "./router/nginx-driven.js";
import {
  bundle,
  type Child,
  type Load,
  runCommand,
  runLoad,
  startListening,
  startNode,
  stopAll,
} from "./router/processes.js";
import { sleep } from "../src/lib/async.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env("ROUNDS", 3);
const SECONDS = env("SECONDS", 7);
const CONNECTIONS = env("CONNECTIONS", 100);
const WARMUP = env("WARMUP", 2);
const NGINX_WORKERS = process.env.NGINX_WORKERS === "auto" ? "auto" : env("NGINX_WORKERS", 1);
const EXTRA = process.env.EXTRA === "1";
const SWITCH_MS = 500;
const SWITCH_SECONDS = 6;
const DEADLINE_MS = 178_000;

const log = (line: string) => process.stderr.write(`${line}\n`);
const round2 = (n: number) => Math.round(n * 100) / 100;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    return `${m?.[1] ?? "Linux"}, kernel ${release()}`;
  } catch {
    return `kernel ${release()}`;
  }
}

type Name = "direct" | "slipway" | "slipway-haproxy" | "nginx" | "haproxy" | "nginx-slipway" | "http-proxy-3";
/** The two implementations of slipway's Router, each judged against the target. */
const routers = ["slipway", "slipway-haproxy"] as const;
type Target = {
  name: Name;
  label: string;
  port: number;
  /** The processes whose CPU time is charged to the target (the backend's is counted apart). */
  proxy: Child[];
};
type Run = Load & { proxyCpuMicrosPerRequest: number; backendCpuMicrosPerRequest: number };

/** A prefix directory nginx (whose workers run as nobody under root) can use. */
function nginxDir(root: string, name: string): string {
  const dir = join(root, name);
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
    mkdirSync(join(dir, "tmp", d), { recursive: true });
    chmodSync(join(dir, "tmp", d), 0o777);
  }
  return dir;
}

async function main(): Promise<void> {
  // Each run also costs autocannon's start (about half a second).
  const targetCount = EXTRA ? 7 : 5;
  const budget =
    (targetCount * (WARMUP + ROUNDS * SECONDS + 0.5 * (ROUNDS + 1)) + 4 * SWITCH_SECONDS) * 1000 + 15_000;
  if (budget > DEADLINE_MS)
    throw new Error(
      `ROUNDS×SECONDS too long: about ${Math.round(budget / 1000)} s, the limit is ${DEADLINE_MS / 1000} s`,
    );
  const deadline = setTimeout(() => {
    log("router bench: deadline reached, stopping");
    stopAll();
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();

  const nginxVersion = ensureNginx(log);
  const machine = {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cpuCount: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    nginx: nginxVersion,
    haproxy: ensureHaproxy(log),
    loadAverageAtStart: loadavg().map(round2),
  };
  log(
    `router bench: ${machine.cpuCount}× ${machine.cpuModel}, node ${machine.node}, ${machine.nginx}, HAProxy ${machine.haproxy}`,
  );

  const children: Child[] = [];
  const root = mkdtempSync(join(tmpdir(), "slipway-router-bench-"));
  try {
    const scripts = join(root, "scripts");
    const [backendJs, slipwayJs, libraryJs, collectorJs, slipwayHaproxyJs] = await Promise.all(
      ["backend.ts", "slipway.ts", "http-proxy-3.ts", "nginx-collector.ts", "slipway-haproxy.ts"].map((f) =>
        bundle(join(here, "router", f), scripts),
      ),
    );
    const start = async (c: Promise<Child>) => {
      const child = await c;
      children.push(child);
      return child;
    };
    const backend = await start(startNode("backend", backendJs, ["0"]));
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    const slipway = await start(startNode("slipway", slipwayJs, [backendUrl]));
    // CPU charged to it: the Node process (log lines, gauges) and its haproxy child.
    const slipwayHaproxy = await start(startNode("slipway-haproxy", slipwayHaproxyJs, [backendUrl]));
    const library = await start(startNode("http-proxy-3", libraryJs, [backendUrl]));

    const plainDir = nginxDir(root, "nginx");
    const plainPort = await freePort();
    writeFileSync(
      join(plainDir, "nginx.conf"),
      nginxConfig({
        dir: plainDir,
        listen: { host: "127.0.0.1", port: plainPort },
        upstream: { host: "127.0.0.1", port: backend.port },
        workers: NGINX_WORKERS,
      }),
    );
    const nginx = await start(startListening("nginx", nginxCommand(plainDir), plainPort));

    const haproxyDir = join(root, "haproxy");
    mkdirSync(haproxyDir);
    const haproxyPort = await freePort();
    writeFileSync(
      join(haproxyDir, "haproxy.cfg"),
      haproxyConfig({
        dir: haproxyDir,
        listen: { host: "127.0.0.1", port: haproxyPort },
        upstream: { host: "127.0.0.1", port: backend.port },
        threads: 1,
      }),
    );
    const haproxy = await start(startListening("haproxy", haproxyCommand(haproxyDir), haproxyPort));

    // nginx as slipway would drive it: generated config, per-request log lines to a collector.
    const collector = await start(startNode("nginx-collector", collectorJs, []));
    const drivenDir = nginxDir(root, "nginx-slipway");
    const drivenPort = await freePort();
    const drivenPlan = (blue: boolean) =>
      planNginxConfig({
        service: "bench",
        listen: { host: "127.0.0.1", port: drivenPort },
        dir: drivenDir,
        backends: { blue: [{ id: "blue-1", url: backendUrl }], green: [{ id: "green-1", url: backendUrl }] },
        routes: { weights: { blue: blue ? 100 : 0, green: blue ? 0 : 100 } },
        workers: NGINX_WORKERS,
        stats: { host: "127.0.0.1", port: collector.port },
      });
    writeFileSync(join(drivenDir, "nginx.conf"), drivenPlan(true));
    const drivenCommands = drivenCommandsFor(drivenDir);
    const driven = await start(startListening("nginx-slipway", drivenCommands.start, drivenPort));

    const all: Target[] = [
      { name: "direct", label: "direct to the backend", port: backend.port, proxy: [] },
      { name: "slipway", label: "slipway router (1 process)", port: slipway.port, proxy: [slipway] },
      {
        name: "slipway-haproxy",
        label: "slipway HAProxy router (haproxy nbthread 1 + Node log reader)",
        port: slipwayHaproxy.port,
        proxy: [slipwayHaproxy],
      },
      {
        name: "nginx",
        label: `nginx reverse proxy (worker_processes ${NGINX_WORKERS})`,
        port: plainPort,
        proxy: [nginx],
      },
      { name: "haproxy", label: "HAProxy (nbthread 1)", port: haproxyPort, proxy: [haproxy] },
      {
        name: "nginx-slipway",
        label: `nginx driven by slipway: generated config + per-request log to slipway (worker_processes ${NGINX_WORKERS})`,
        port: drivenPort,
        proxy: [driven, collector],
      },
      {
        name: "http-proxy-3",
        label: "http-proxy-3 (library baseline, 1 process)",
        port: library.port,
        proxy: [library],
      },
    ];
    const targets = EXTRA ? all : all.filter((t) => t.name !== "nginx-slipway" && t.name !== "http-proxy-3");
    for (const t of targets) {
      const r = await fetch(`http://127.0.0.1:${t.port}/`);
      if (r.status !== 200) throw new Error(`${t.name}: status ${r.status} on the check request`);
      await r.arrayBuffer();
    }

    log(`warm-up: ${WARMUP} s each`);
    for (const t of targets) await runLoad(`http://127.0.0.1:${t.port}/`, CONNECTIONS, WARMUP);

    const cpu = (list: Child[]) => list.reduce((n, c) => n + c.cpuMicros(), 0);
    const runs = new Map<Name, Run[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no target always runs first or right after another.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of order) {
        const before = [cpu(t.proxy), backend.cpuMicros()];
        const load = await runLoad(`http://127.0.0.1:${t.port}/`, CONNECTIONS, SECONDS);
        const after = [cpu(t.proxy), backend.cpuMicros()];
        const run: Run = {
          ...load,
          proxyCpuMicrosPerRequest: Math.round((after[0] - before[0]) / load.requests),
          backendCpuMicrosPerRequest: Math.round((after[1] - before[1]) / load.requests),
        };
        runs.get(t.name)!.push(run);
        log(
          `round ${round + 1}/${ROUNDS} ${t.name.padEnd(13)} ${Math.round(load.requestsPerSecond)} req/s  p50 ${load.p50} ms  p99 ${load.p99} ms  errors ${load.errors + load.non2xx}  CPU/request: proxy ${run.proxyCpuMicrosPerRequest} µs, backend ${run.backendCpuMicrosPerRequest} µs`,
        );
      }
    }

    // Reconfiguration under load: the whole traffic switched between two versions every SWITCH_MS.
    log(`switching versions every ${SWITCH_MS} ms under load, ${SWITCH_SECONDS} s each`);
    const switching = await start(startNode("slipway-switching", slipwayJs, [backendUrl, String(SWITCH_MS)]));
    const switchingHaproxy = await start(
      startNode("slipway-haproxy-switching", slipwayHaproxyJs, [backendUrl, String(SWITCH_MS)]),
    );
    const switchWhile = async (url: string, change: (toGreen: boolean) => Promise<void>) => {
      let switches = 0;
      let stop = false;
      const switcher = (async () => {
        for (let toGreen = true; !stop; toGreen = !toGreen) {
          await sleep(SWITCH_MS);
          if (stop) break;
          await change(toGreen);
          switches++;
        }
      })();
      const load = await runLoad(url, CONNECTIONS, SWITCH_SECONDS);
      stop = true;
      await switcher;
      return { switches, ...load };
    };
    const routerSwitch = {
      switches: Math.floor((SWITCH_SECONDS * 1000) / SWITCH_MS),
      ...(await runLoad(`http://127.0.0.1:${switching.port}/`, CONNECTIONS, SWITCH_SECONDS)),
    };
    const haproxyRouterSwitch = {
      switches: Math.floor((SWITCH_SECONDS * 1000) / SWITCH_MS),
      ...(await runLoad(`http://127.0.0.1:${switchingHaproxy.port}/`, CONNECTIONS, SWITCH_SECONDS)),
    };
    const nginxSwitch = await switchWhile(`http://127.0.0.1:${drivenPort}/`, async (toGreen) => {
      writeFileSync(join(drivenDir, "nginx.conf"), drivenPlan(!toGreen));
      await runCommand(drivenCommands.reload);
    });
    const haproxySwitch = await switchWhile(`http://127.0.0.1:${haproxyPort}/`, async (toGreen) => {
      await haproxyRuntime(haproxySocket(haproxyDir), switchCommands(toGreen));
    });
    const switchRuns = {
      slipway: routerSwitch,
      "slipway-haproxy": haproxyRouterSwitch,
      "nginx-slipway": nginxSwitch,
      haproxy: haproxySwitch,
    };
    for (const [name, r] of Object.entries(switchRuns))
      log(
        `switching ${name.padEnd(13)} ${r.switches} switches  ${r.requests} requests  errors ${r.errors}  non-2xx ${r.non2xx}`,
      );

    const summary = targets.map((t) => {
      const list = runs.get(t.name)!;
      return {
        target: t.name,
        label: t.label,
        requestsPerSecond: Math.round(median(list.map((l) => l.requestsPerSecond))),
        p50Ms: median(list.map((l) => l.p50)),
        p99Ms: median(list.map((l) => l.p99)),
        proxyCpuMicrosPerRequest: median(list.map((l) => l.proxyCpuMicrosPerRequest)),
        backendCpuMicrosPerRequest: median(list.map((l) => l.backendCpuMicrosPerRequest)),
        errors: list.reduce((n, l) => n + l.errors + l.non2xx, 0),
        runs: list.map((l) => ({ ...l, requestsPerSecond: Math.round(l.requestsPerSecond) })),
      };
    });
    const reference = summary.find((s) => s.target === "nginx")!;
    const ratios = Object.fromEntries(
      summary.map((s) => [
        s.target,
        {
          requestsPerSecondVsNginx: round2(s.requestsPerSecond / reference.requestsPerSecond),
          p99VsNginx: round2(s.p99Ms / reference.p99Ms),
        },
      ]),
    );
    const meets = (name: (typeof routers)[number]) =>
      ratios[name].requestsPerSecondVsNginx >= 0.7 && ratios[name].p99VsNginx <= 1.5;
    const met = { slipway: meets("slipway"), "slipway-haproxy": meets("slipway-haproxy") };
    const result: Result = {
      date: new Date().toISOString(),
      machine: { ...machine, loadAverageAtEnd: loadavg().map(round2) },
      load: {
        tool: "autocannon 8",
        connections: CONNECTIONS,
        secondsPerRun: SECONDS,
        rounds: ROUNDS,
        warmupSeconds: WARMUP,
      },
      summary,
      ratios,
      switching: { everyMs: SWITCH_MS, seconds: SWITCH_SECONDS, ...switchRuns },
      target: { requestsPerSecondVsNginx: ">= 0.70", p99VsNginx: "<= 1.5", met },
    };
    const outDir = join(here, "results");
    mkdirSync(outDir, { recursive: true });
    const day = result.date.slice(0, 10);
    writeFileSync(join(outDir, `router-${day}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, "router.md"), markdown(result, day));
    for (const name of routers)
      log(
        `${name}: ${ratios[name].requestsPerSecondVsNginx}× nginx's requests/s, p99 ${ratios[name].p99VsNginx}× nginx's: target ${met[name] ? "met" : "NOT met"}`,
      );
    process.stdout.write(
      `${JSON.stringify({ summary: summary.map(({ runs: _, ...s }) => s), ratios, met })}\n`,
    );
  } finally {
    for (const c of children.reverse()) await c.stop();
    rmSync(root, { recursive: true, force: true });
    clearTimeout(deadline);
  }
}

type Switching = Load & { switches: number };
type Result = {
  date: string;
  machine: {
    cpuModel: string;
    cpuCount: number;
    memoryGiB: number;
    os: string;
    node: string;
    nginx: string;
    haproxy: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  load: { tool: string; connections: number; secondsPerRun: number; rounds: number; warmupSeconds: number };
  summary: {
    target: string;
    label: string;
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    proxyCpuMicrosPerRequest: number;
    backendCpuMicrosPerRequest: number;
    errors: number;
  }[];
  ratios: Record<string, { requestsPerSecondVsNginx: number; p99VsNginx: number }>;
  switching: {
    everyMs: number;
    seconds: number;
    slipway: Switching;
    "slipway-haproxy": Switching;
    "nginx-slipway": Switching;
    haproxy: Switching;
  };
  target: {
    requestsPerSecondVsNginx: string;
    p99VsNginx: string;
    met: Record<(typeof routers)[number], boolean>;
  };
};

function markdown(r: Result, day: string): string {
  const m = r.machine;
  const rows = r.summary
    .map((s) => {
      const ratio = r.ratios[s.target];
      const proxyCpu = s.target === "direct" ? "–" : s.proxyCpuMicrosPerRequest;
      return `| ${s.label} | ${s.requestsPerSecond} | ${s.p50Ms} | ${s.p99Ms} | ${ratio.requestsPerSecondVsNginx} | ${ratio.p99VsNginx} | ${proxyCpu} | ${s.backendCpuMicrosPerRequest} | ${s.errors} |`;
    })
    .join("\n");
  const verdict = (name: (typeof routers)[number], label: string) =>
    `- ${label}: ${r.ratios[name].requestsPerSecondVsNginx}× and ${r.ratios[name].p99VsNginx}× → **${r.target.met[name] ? "met" : "not met"}**`;
  const sw = r.switching;
  return `# Router benchmark (${day})

\`npm run bench:router\` (bench/router.ts): autocannon, ${r.load.connections} keep-alive connections, ${r.load.secondsPerRun} s per run,
${r.load.rounds} rounds with the targets in rotating order after a ${r.load.warmupSeconds} s warm-up each; medians of the rounds.
One plain Node HTTP backend process (a 23-byte body) behind every proxy; everything on 127.0.0.1; the
Node processes run esbuild bundles on plain \`node\`, as slipway ships.

Machine: ${m.cpuCount}× ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ${m.nginx}, HAProxy ${m.haproxy}.
Load average at start ${JSON.stringify(m.loadAverageAtStart)}, at end ${JSON.stringify(m.loadAverageAtEnd)}
(the machine is shared: other work may run at the same time, which moves requests/s more than CPU/request).

| target | requests/s | p50 ms | p99 ms | req/s vs nginx | p99 vs nginx | proxy CPU µs/request | backend CPU µs/request | errors |
|---|---|---|---|---|---|---|---|---|
${rows}

**Target** (router requests/s ≥ 0.70× nginx's and p99 ≤ 1.5× nginx's):
${verdict("slipway", "slipway router (Node)")}
${verdict("slipway-haproxy", "slipway HAProxy router")}

Latencies are whole milliseconds (autocannon's histogram resolution). CPU µs/request is the user+system
CPU time of the proxy's processes (nginx: master and workers; slipway's HAProxy router: haproxy and the
Node process that reads its per-request log lines; nginx driven by slipway: also the Node process that
receives its log lines) and of the backend during the runs, divided by the requests served.

## Switching versions under load

All traffic switched between two versions every ${sw.everyMs} ms for ${sw.seconds} s, ${r.load.connections} keep-alive connections:

| | switches | requests | errors (connection resets, timeouts) | non-2xx |
|---|---|---|---|---|
| slipway router, setRoutes() | ${sw.slipway.switches} | ${sw.slipway.requests} | ${sw.slipway.errors} | ${sw.slipway.non2xx} |
| slipway HAProxy router, setRoutes() (runtime API: weight map) | ${sw["slipway-haproxy"].switches} | ${sw["slipway-haproxy"].requests} | ${sw["slipway-haproxy"].errors} | ${sw["slipway-haproxy"].non2xx} |
| nginx driven by slipway, config rewrite + \`nginx -s reload\` | ${sw["nginx-slipway"].switches} | ${sw["nginx-slipway"].requests} | ${sw["nginx-slipway"].errors} | ${sw["nginx-slipway"].non2xx} |
| plain HAProxy, runtime API \`set server … weight\` | ${sw.haproxy.switches} | ${sw.haproxy.requests} | ${sw.haproxy.errors} | ${sw.haproxy.non2xx} |

See docs/internals/router.md for the setup's fairness notes and the decision.
`;
}

process.on("SIGINT", () => {
  stopAll();
  process.exit(130);
});

main().catch((err: unknown) => {
  stopAll();
  log(`router bench failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
