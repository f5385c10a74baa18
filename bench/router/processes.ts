// Child processes of the router benchmark (each in its own process group, so stopping one stops
// what it started) and the load tool, autocannon, run as a child too so the driver measures nothing
// of its own.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { join } from "node:path";
import { build } from "esbuild";
import { signalGroup, stopGroup } from "../../src/lib/exec.js";

export type Child = {
  name: string;
  port: number;
  /** CPU time (user + system) used so far by the process and its descendants (nginx's workers), in µs. */
  cpuMicros(): number;
  stop(): Promise<void>;
};

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

function descendants(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const k of kids ? kids.split(" ") : []) out.push(...descendants(Number(k)));
    }
  } catch {
    // gone
  }
  return out;
}

function cpuMicros(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      // Fields 14 and 15 (utime, stime) after the parenthesised command name.
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return (ticks / ticksPerSecond) * 1e6;
}

/**
 * Bundles a TypeScript entry into one ESM file, as scripts/build.mjs does for the CLI, so the children
 * run on plain `node` the way slipway ships (no TypeScript loader in the measured processes).
 */
export async function bundle(entry: string, outDir: string): Promise<string> {
  const name = entry.split("/").pop()!.replace(/\.ts$/, ".mjs");
  const outfile = join(outDir, name);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    packages: "bundle",
    banner: {
      js: "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  return outfile;
}

const started = new Set<ChildProcess>();

/** Stops every child still running (on a deadline or an interrupt). */
export function stopAll(): void {
  for (const c of started) signalGroup(c.pid, "SIGKILL");
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () => stopGroup(child).then(() => void started.delete(child));
}

function launch(
  file: string,
  args: string[],
  stdout: "pipe" | "ignore",
  stderr: "inherit" | "ignore" = "inherit",
): ChildProcess {
  const child = spawn(file, args, { detached: true, stdio: ["ignore", stdout, stderr] });
  started.add(child);
  child.once("exit", () => started.delete(child));
  return child;
}

/** A Node child (a bundled script) that prints "ready <port>" when it listens. */
export function startNode(name: string, script: string, args: string[], timeoutMs = 20_000): Promise<Child> {
  const child = launch(process.execPath, [script, ...args], "pipe");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms`)), timeoutMs);
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      out += text;
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ name, port: Number(m[1]), cpuMicros: () => cpuMicros(child.pid!), stop: stopper(child) });
      }
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
}

/** A child that is ready when something accepts connections on `port` (nginx). */
export async function startListening(
  name: string,
  command: { file: string; args: string[] },
  port: number,
  timeoutMs = 10_000,
): Promise<Child> {
  const child = launch(command.file, command.args, "ignore");
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return { name, port, cpuMicros: () => cpuMicros(child.pid!), stop: stopper(child) };
    if (Date.now() > until) throw new Error(`${name} not listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Load = {
  requestsPerSecond: number;
  /** Latency percentiles in ms (autocannon records whole milliseconds). */
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
};

const autocannonBin = createRequire(import.meta.url).resolve("autocannon");

/** autocannon -c connections -d seconds against url, in its own process. */
export function runLoad(url: string, connections: number, seconds: number): Promise<Load> {
  const child = launch(
    process.execPath,
    [autocannonBin, "-c", String(connections), "-d", String(seconds), "-j", url],
    "pipe",
    "ignore",
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => (out += t));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`));
      const j = JSON.parse(out) as {
        duration: number;
        requests: { total: number };
        latency: { p50: number; p99: number };
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      resolve({
        requestsPerSecond: j.requests.total / j.duration,
        p50: j.latency.p50,
        p99: j.latency.p99,
        requests: j.requests.total,
        errors: j.errors + j.timeouts,
        non2xx: j.non2xx,
      });
    });
  });
}

/** Runs a command to its end (nginx -s reload); rejects on a non-zero exit. */
export function runCommand(command: { file: string; args: string[] }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, command.args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (t: string) => (err += t));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command.file} ${command.args.join(" ")}: exit ${code}: ${err}`)),
    );
  });
}
