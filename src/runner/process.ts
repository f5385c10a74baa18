// Child processes for steps: each in its own process group so that a timeout or cancel stops the whole
// tree (SIGINT first, SIGKILL after a grace period); output is split into lines as it arrives.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { Socket } from "node:net";
import { StringDecoder } from "node:string_decoder";
import { signalGroup } from "../lib/exec.js";
import { recordSpawn } from "../lib/process-ledger.js";
import { nativeSpawner, resolveCommand } from "./native-spawn.js";
import { signalNames, spawnError, spawnHelper } from "./spawn-helper.js";

/** Lines longer than this are cut into pieces, so one huge line cannot grow memory without bound. */
export const maxLine = 64 * 1024;

/**
 * How much of a line is held while waiting to learn where it may be cut (see `SafeCut`); past this it is
 * cut where the masker says, even if a longer pattern might still straddle the cut.
 */
const maxHeld = 16 * maxLine;

export const killGraceMs = Number(process.env.SLIPWAY_KILL_GRACE_MS ?? 5000);

export type ProcessResult = {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when slipway stopped the process. */
  stoppedBy?: "timeout" | "cancel";
  /** Set when the process could not be started (command not found, bad cwd). */
  spawnError?: Error;
  /** The process group, for cleaning up what the step left running when the job ends. */
  pid?: number;
};

/**
 * Where a line too long to hold may be cut (at `at` or elsewhere), so that masking each piece prints
 * what masking the whole line would: no secret straddles the cut. Undefined: cannot tell until more of the
 * line has come (unless `final`). The masker's `safeCut`; without one, lines are cut at `at`.
 */
export type SafeCut = (text: string, at: number, final?: boolean) => number | undefined;

export type RunProcessOptions = {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  onLine: (line: string, stream: "stdout" | "stderr") => void;
  /** Where an over-long line may be cut (the masker's safeCut). */
  safeCut?: SafeCut;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Run as this user and group (an isolated fork leg); the runner must be root. */
  uid?: number;
  gid?: number;
};

/**
 * Splits a byte stream into lines. Chunks are decoded as one UTF-8 stream (a character, or a secret, split
 * across two chunks comes out whole); a line longer than `maxLine` is handed on in pieces, cut where
 * `safeCut` allows.
 */
export class LineSplitter {
  private decoder = new StringDecoder("utf8");
  private buf = "";
  private readonly emit: (line: string) => void;
  private readonly safeCut: SafeCut;
  constructor(emit: (line: string) => void, safeCut?: SafeCut) {
    this.emit = emit;
    this.safeCut = safeCut ?? ((_text, at) => at);
  }
  push(chunk: Buffer): void {
    this.buf += this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf("\n", start);
      if (nl < 0) break;
      let line = this.buf.slice(start, nl);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      // A whole line is here: whatever is too long of it is cut now.
      const rest = this.cutLong(line, true);
      if (rest.length || !line.length) this.emit(rest);
      start = nl + 1;
    }
    this.buf = this.cutLong(this.buf.slice(start), false);
  }
  end(): void {
    this.buf += this.decoder.end();
    const rest = this.cutLong(this.buf, true);
    if (rest.length) this.emit(rest);
    this.buf = "";
  }
  /** Emits pieces of `text` while it is longer than `maxLine`; returns what is left. */
  private cutLong(text: string, final: boolean): string {
    while (text.length > maxLine) {
      // Never between the two halves of a surrogate pair.
      const at = isHighSurrogate(text.charCodeAt(maxLine - 1)) ? maxLine - 1 : maxLine;
      const cut = this.safeCut(text, at, final || text.length > maxHeld);
      if (cut === undefined) break;
      this.emit(text.slice(0, cut));
      text = text.slice(cut);
    }
    return text;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** A started process as runProcess sees it, from Node's spawn or from the spawn helper. */
type Started = { pid: number | undefined; stopReading: () => void };

type StartCallbacks = {
  onStdout: (c: Buffer) => void;
  onStderr: (c: Buffer) => void;
  onExit: (exitCode: number | null, signal: NodeJS.Signals | null) => void;
  onClose: (exitCode: number | null, signal: NodeJS.Signals | null) => void;
  /** Set when the process could not be started (possibly after onExit with no pid). */
  onError: (err: Error) => void;
};

/** Node's own spawn: a fork of this process; the way for another user's processes. */
function startWithNode(opts: RunProcessOptions, cb: StartCallbacks): Started | Error {
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // libuv drops the supplementary groups too when it switches user.
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    });
  } catch (err) {
    return err as Error;
  }
  child.stdout!.on("data", cb.onStdout);
  child.stderr!.on("data", cb.onStderr);
  child.on("error", cb.onError);
  child.on("close", (exitCode, signal) => cb.onClose(exitCode, signal));
  child.on("exit", (exitCode, signal) => cb.onExit(exitCode, signal));
  return {
    pid: child.pid,
    stopReading: () => {
      child.stdout!.destroy();
      child.stderr!.destroy();
    },
  };
}

/** How steps are started: SLIPWAY_SPAWN_HELPER=node (or 0) forces Node's spawn, =perl the Perl helper. */
function spawnChoice(): "native" | "perl" | "node" {
  const v = process.env.SLIPWAY_SPAWN_HELPER;
  return v === "0" || v === "node" ? "node" : v === "perl" ? "perl" : "native";
}

/** Which way a process of slipway's own user is started here and now (for tests and `--debug`). */
export function spawnMethod(): "native" | "perl" | "node" {
  const choice = spawnChoice();
  if (choice === "native" && nativeSpawner()) return "native";
  if (choice !== "node" && spawnHelper()) return "perl";
  return "node";
}

/** With posix_spawn from this thread (native-spawn.ts); undefined when it cannot be used here. */
function startWithNative(opts: RunProcessOptions, cb: StartCallbacks): Started | Error | undefined {
  const native = opts.uid === undefined && spawnChoice() === "native" ? nativeSpawner() : null;
  if (!native) return undefined;
  const envList = Object.entries(opts.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  // Node's spawn refuses NUL in any of them, the same way.
  for (const f of [opts.command, opts.cwd, ...opts.args, ...envList]) {
    if (f.includes("\0"))
      return Object.assign(new TypeError("The argument must be a string without null bytes"), {
        code: "ERR_INVALID_ARG_VALUE",
      });
  }
  const path = resolveCommand(opts.command, opts.env.PATH ?? process.env.PATH, opts.cwd);
  if (typeof path !== "string")
    return spawnError(opts.command, `${constants.errno[path.errno]} ${path.errno}`);
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  let open = 2;
  const closed = () => {
    if (exit && open === 0) cb.onClose(...exit);
  };
  let fds: [number, number, number];
  try {
    fds = native.spawn(path, [opts.command, ...opts.args], envList, opts.cwd, (code, sig) => {
      exit = [code >= 0 ? code : null, sig >= 0 ? (signalNames.get(sig) ?? null) : null];
      cb.onExit(...exit);
      closed();
    });
  } catch (err) {
    const errno = Number((err as { code?: string }).code);
    return spawnError(opts.command, `${errno} ${(err as Error).message}`);
  }
  const [pid, outFd, errFd] = fds;
  const streams = [outFd, errFd].map((fd, i) => {
    const s = new Socket({ fd, readable: true, writable: false });
    s.on("data", i === 0 ? cb.onStdout : cb.onStderr);
    s.on("error", () => {});
    s.once("close", () => {
      open--;
      closed();
    });
    return s;
  });
  return {
    pid,
    stopReading: () => {
      for (const s of streams) s.destroy();
    },
  };
}

/** Through the spawn helper (no fork of Node); undefined when it cannot be used for this process. */
async function startWithHelper(
  opts: RunProcessOptions,
  cb: StartCallbacks,
): Promise<Started | Error | undefined> {
  const helper = opts.uid === undefined ? spawnHelper() : null;
  if (!helper) return undefined;
  let exit: [number | null, NodeJS.Signals | null] = [null, null];
  try {
    return await helper.spawn(opts.command, opts.args, opts.cwd, opts.env, {
      onStdout: cb.onStdout,
      onStderr: cb.onStderr,
      onExit: (code, signal) => {
        exit = [code, signal];
        cb.onExit(code, signal);
      },
      onClose: () => cb.onClose(...exit),
    });
  } catch (err) {
    return err as Error;
  }
}

export async function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
  const out = new LineSplitter((l) => opts.onLine(l, "stdout"), opts.safeCut);
  const err = new LineSplitter((l) => opts.onLine(l, "stderr"), opts.safeCut);
  let spawnError: Error | undefined;
  let exited = false;
  let finish: (exitCode: number | null, signal: NodeJS.Signals | null) => void = () => {};
  let drainTimer: NodeJS.Timeout | undefined;
  let early: [number | null, NodeJS.Signals | null] | undefined;
  let started: Started | undefined;
  const cb: StartCallbacks = {
    onStdout: (c) => out.push(c),
    onStderr: (c) => err.push(c),
    onError: (e) => {
      spawnError = e;
      if (started?.pid === undefined) finish(null, null);
    },
    onClose: (exitCode, signal) => {
      if (started) finish(exitCode, signal);
      else early = [exitCode, signal];
    },
    onExit: (exitCode, signal) => {
      exited = true;
      // A background process started by the step (`server &`) may keep the pipes open; the step is
      // over when its shell exits. Give the pipes a moment to drain, then stop reading.
      drainTimer = setTimeout(() => {
        started?.stopReading();
        finish(exitCode, signal);
      }, 200);
    },
  };
  const s = startWithNative(opts, cb) ?? (await startWithHelper(opts, cb)) ?? startWithNode(opts, cb);
  if (s instanceof Error) return { exitCode: null, signal: null, spawnError: s };
  started = s;
  const pid = s.pid;
  return new Promise((resolve) => {
    let stoppedBy: ProcessResult["stoppedBy"];
    let killTimer: NodeJS.Timeout | undefined;
    if (pid) activeGroups.add(pid);
    // A server or runner killed with -9 finds the group in its ledger at its next start and stops it.
    const forget = recordSpawn(pid);
    const stop = (reason: "timeout" | "cancel") => {
      if (stoppedBy || exited) return;
      stoppedBy = reason;
      signalGroup(pid, "SIGINT");
      killTimer = setTimeout(() => signalGroup(pid, "SIGKILL"), killGraceMs);
      killTimer.unref();
    };
    const timeout =
      opts.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), opts.timeoutMs) : undefined;
    const onAbort = () => stop("cancel");
    if (opts.signal?.aborted) queueMicrotask(onAbort);
    else opts.signal?.addEventListener("abort", onAbort, { once: true });

    let finished = false;
    finish = (exitCode, signal) => {
      if (finished) return;
      finished = true;
      if (drainTimer) clearTimeout(drainTimer);
      out.end();
      err.end();
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      // A stopped step takes everything it started with it.
      if (stoppedBy) signalGroup(pid, "SIGKILL");
      if (pid) activeGroups.delete(pid);
      forget();
      resolve({ exitCode, signal, stoppedBy, spawnError, pid });
    };
    if (early) finish(...early);
    else if (spawnError && pid === undefined) finish(null, null);
  });
}

/** Process groups of steps still running, so a forced exit (second Ctrl-C) can stop them all. */
export const activeGroups = new Set<number>();

export function killAllGroups(): void {
  for (const pid of activeGroups) signalGroup(pid, "SIGKILL");
}
