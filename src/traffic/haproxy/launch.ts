// Starting and stopping a router's haproxy: its directory (configuration, maps, Lua watchdog, admin
// socket), the listening socket bound here and handed over as fd 3 (so port 0 and "address in use"
// behave as for the Node router), the process, and the request log followed on its admin socket.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../lib/async.js";
import { UserError } from "../../lib/errors.js";
import { files, type HaproxyLayout, haproxyConfig, initialMaps, names, watchdogLua } from "./config.js";
import { followLog } from "./log.js";
import { findHaproxy, type HaproxyProcess, startHaproxy } from "./process.js";
import { openSession } from "./runtime.js";

export type Launched = {
  /** Where its configuration, admin socket and maps are. */
  dir: string;
  /** The directory was made here (and is removed with the router). */
  ownDir: boolean;
  proc: HaproxyProcess;
  log: { stop(): void };
  address: { host: string; port: number };
};

/** Everything up and running, or nothing left behind and an error that says why. */
export async function launchHaproxy(options: {
  name: string;
  listen: { host: string; port: number };
  stateDir: string | undefined;
  bin: string | undefined;
  layout: Omit<HaproxyLayout, "dir" | "bind">;
  onLog: (text: string) => void;
}): Promise<Launched> {
  let dir = "";
  let ownDir = false;
  let proc: HaproxyProcess | undefined;
  try {
    if (options.stateDir) {
      mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
      dir = options.stateDir;
    } else {
      dir = mkdtempSync(join(tmpdir(), "slipway-haproxy-"));
      ownDir = true;
    }
    writeFileSync(files.config(dir), haproxyConfig({ ...options.layout, dir, bind: "fd@3" }));
    for (const [file, text] of Object.entries(initialMaps(dir))) writeFileSync(file, text);
    writeFileSync(files.watchdog(dir), watchdogLua);
    const started = await spawnOnListener(options.name, options.listen, options.bin ?? findHaproxy(), dir);
    proc = started.proc;
    const log = await followLog(files.socket(dir), names.ring, options.onLog);
    return { dir, ownDir, proc, log, address: started.address };
  } catch (cause) {
    await proc?.stop(0);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    if (cause instanceof UserError) throw cause;
    if (/ENOENT|EACCES/.test((cause as Error).message))
      throw new UserError(
        `router ${options.name}: cannot run haproxy (${options.bin ?? "haproxy"}): install it (apt-get install haproxy) or pass haproxyBin`,
        [],
        { cause },
      );
    throw new Error(`router ${options.name}: cannot start haproxy: ${(cause as Error).message}`, { cause });
  }
}

/** Binds the listening socket here (errors as the Node router's), hands it to haproxy as fd 3. */
async function spawnOnListener(
  name: string,
  listen: { host: string; port: number },
  bin: string,
  dir: string,
): Promise<{ proc: HaproxyProcess; address: { host: string; port: number } }> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (cause) {
    throw new Error(`router ${name}: cannot listen on ${listen.host}:${listen.port}`, { cause });
  }
  const a = server.address();
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (a === null || typeof a === "string" || typeof fd !== "number" || fd < 0) {
    server.close();
    throw new Error("router: no listening socket to hand to haproxy");
  }
  // Spawned in the same tick as the listen callback, and closed here right after: this process never
  // accepts a connection on it; haproxy keeps its own copy of the socket.
  const started = startHaproxy({ bin, config: files.config(dir), socket: files.socket(dir), listenFd: fd });
  server.close();
  return { proc: await started, address: { host: a.address, port: a.port } };
}

/**
 * SIGUSR1: haproxy stops listening and closes idle client connections; the log is followed until the
 * frontend has no connection left (or timeoutMs), so the last requests are counted too; then haproxy
 * exits by itself (SIGTERM if it does not).
 */
export async function softStop(launched: Launched, timeoutMs: number): Promise<void> {
  const { proc, log } = launched;
  const until = Date.now() + timeoutMs;
  const session = await openSession(files.socket(launched.dir)).catch(() => undefined);
  proc.child.kill("SIGUSR1");
  if (session) {
    try {
      while (Date.now() < until) {
        const stat = await session.run("show stat -1 1 -1");
        const row = stat.split("\n").find((l) => l.startsWith("service,FRONTEND,"));
        if (row === undefined || Number(row.split(",")[4]) === 0) break;
        await sleep(20);
      }
    } catch {
      // haproxy is gone or closed the session
    }
    session.close();
  }
  log.stop();
  await proc.stop(Math.max(0, until - Date.now()) + 500);
}

/** Stops what is left at once and removes the directory if it was made here. */
export async function teardown(launched: Launched): Promise<void> {
  await launched.proc.stop(0);
  launched.log.stop();
  if (launched.ownDir) rmSync(launched.dir, { recursive: true, force: true });
}
