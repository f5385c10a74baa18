// Shared pieces of the benchmarks: the machine's description, medians, timed child processes with a
// deadline, and throwaway git repositories. Benchmarks measure; they never assert.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, release, totalmem, type } from "node:os";
import { dirname, join } from "node:path";
import { signalGroup } from "../src/lib/exec.js";

export type Machine = {
  date: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  os: string;
  arch: string;
  node: string;
  git: string;
  bash: string;
  loadAverage: number[];
};

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")[0]
      .trim();
  } catch {
    return "not installed";
  }
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cpuCount: list.length,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()} (${platform()})`,
    arch: arch(),
    node: process.version,
    git: firstLine("git", ["--version"]),
    bash: firstLine("bash", ["--version"]),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Process groups of commands still running, so a hard stop can end them. */
const running = new Set<number>();

export function killRunning(): void {
  for (const pid of running) signalGroup(pid, "SIGKILL");
}

export type Timed = { ms: number; code: number | null; stdout: string; stderr: string };

/** Runs a command to its end and times it from spawn to exit; killed (with its group) after `timeoutMs`. */
export function timeCommand(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; keepStderr?: boolean },
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", "pipe", opts.keepStderr ? "pipe" : "ignore"],
    });
    if (child.pid) running.add(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, "SIGKILL");
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${command}`, { cause: e }));
    });
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (child.pid) running.delete(child.pid);
      if (timedOut) {
        reject(new Error(`${command} ${args.join(" ")} took longer than ${opts.timeoutMs} ms`));
        return;
      }
      resolve({
        ms,
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/** A git repository with the given files committed, so `slipway run` can synthesise a push event. */
export function makeGitRepo(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false", ...args],
      {
        cwd: dir,
        stdio: "ignore",
      },
    );
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
}
