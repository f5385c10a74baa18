// The haproxy process of one router: started in the foreground (-db) on a listening socket slipway
// bound itself (inherited as fd 3, so port 0 and "address in use" behave as for the Node router),
// soft-stopped on close, and never left behind: its Lua watchdog exits when slipway's process is gone
// (even after a SIGKILL), and a process 'exit' hook kills it when slipway exits normally.
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runtimeRequest } from "./runtime.js";

export type HaproxyProcess = {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  /** The last lines haproxy wrote to stderr (for error messages). */
  stderrTail(): string;
  /** SIGUSR1 (stop listening, finish what is in flight), then SIGTERM after timeoutMs, SIGKILL 2 s later. */
  stop(timeoutMs: number): Promise<void>;
};

const running = new Set<ChildProcess>();
let exitHook = false;

function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const c of running) {
      try {
        c.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
  });
}

/** "haproxy" from PATH, else from the sbin directories a non-root PATH may lack (Debian installs it in /usr/sbin). */
export function findHaproxy(): string {
  return locateHaproxy() ?? "haproxy";
}

/** Where findHaproxy's lookup finds an executable haproxy; undefined when it finds none. */
export function locateHaproxy(path: string = process.env.PATH ?? ""): string | undefined {
  const dirs = [...path.split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    if (d === "") continue;
    try {
      accessSync(join(d, "haproxy"), constants.X_OK);
      return join(d, "haproxy");
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function startHaproxy(options: {
  bin: string;
  config: string;
  socket: string;
  /** The listening socket's file descriptor, handed to haproxy as its fd 3. */
  listenFd: number;
  timeoutMs?: number;
}): Promise<HaproxyProcess> {
  const child = spawn(options.bin, ["-db", "-f", options.config], {
    stdio: ["ignore", "ignore", "pipe", options.listenFd],
  });
  killAllOnExit();
  running.add(child);
  let tail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (t: string) => {
    // Lua's core.log also echoes the log markers (config.ts) here; they would crowd out what matters.
    const kept = t.includes("slw-mark") ? t.replace(/^.*slw-mark.*(\n|$)/gm, "") : t;
    tail = (tail + kept).slice(-4000);
  });
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => {
      running.delete(child);
      resolve(`failed to start: ${err.message}`);
    });
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  const proc: HaproxyProcess = {
    child,
    pid: child.pid ?? 0,
    exited,
    stderrTail: () => tail.trim(),
    async stop(timeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) return;
      child.kill("SIGUSR1");
      if ((await Promise.race([exited, sleep(timeoutMs, "timeout")])) !== "timeout") return;
      child.kill("SIGTERM");
      if ((await Promise.race([exited, sleep(2000, "timeout")])) !== "timeout") return;
      child.kill("SIGKILL");
      await exited;
    },
  };
  // Ready when the admin socket answers (the listener is already bound by then).
  const until = Date.now() + (options.timeoutMs ?? 10_000);
  let state = "";
  const gone = exited.then((s) => (state = s));
  for (;;) {
    if (state) throw new Error(`haproxy ${state}: ${tail.trim() || "no output"}`);
    if (existsSync(options.socket)) {
      try {
        await runtimeRequest(options.socket, "show info", 1000);
        void gone;
        return proc;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > until) {
      await proc.stop(0);
      throw new Error(`haproxy did not start within ${options.timeoutMs ?? 10_000} ms: ${tail.trim()}`);
    }
    await sleep(20);
  }
}
