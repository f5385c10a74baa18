// Child processes for steps: each in its own process group so that a timeout or cancel stops the whole
// tree (SIGINT first, SIGKILL after a grace period); output is split into lines as it arrives.
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { signalGroup } from "../lib/exec.js";
import { recordSpawn } from "../lib/process-ledger.js";

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

export function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve) => {
    let stoppedBy: ProcessResult["stoppedBy"];
    let killTimer: NodeJS.Timeout | undefined;
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
      resolve({ exitCode: null, signal: null, spawnError: err as Error });
      return;
    }
    if (child.pid) activeGroups.add(child.pid);
    // A server or runner killed with -9 finds the group in its ledger at its next start and stops it.
    const forget = recordSpawn(child.pid);
    const stop = (reason: "timeout" | "cancel") => {
      if (stoppedBy || child.exitCode !== null) return;
      stoppedBy = reason;
      signalGroup(child.pid, "SIGINT");
      killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), killGraceMs);
      killTimer.unref();
    };
    const timeout =
      opts.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), opts.timeoutMs) : undefined;
    const onAbort = () => stop("cancel");
    if (opts.signal?.aborted) queueMicrotask(onAbort);
    else opts.signal?.addEventListener("abort", onAbort, { once: true });

    const out = new LineSplitter((l) => opts.onLine(l, "stdout"), opts.safeCut);
    const err = new LineSplitter((l) => opts.onLine(l, "stderr"), opts.safeCut);
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr!.on("data", (c: Buffer) => err.push(c));
    let spawnError: Error | undefined;
    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      if (drainTimer) clearTimeout(drainTimer);
      out.end();
      err.end();
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      // A stopped step takes everything it started with it.
      if (stoppedBy) signalGroup(child.pid, "SIGKILL");
      if (child.pid) activeGroups.delete(child.pid);
      forget();
      resolve({ exitCode, signal, stoppedBy, spawnError, pid: child.pid });
    };
    child.on("error", (e) => {
      spawnError = e;
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", (exitCode, signal) => finish(exitCode, signal));
    child.on("exit", (exitCode, signal) => {
      // A background process started by the step (`server &`) may keep the pipes open; the step is
      // over when its shell exits. Give the pipes a moment to drain, then stop reading.
      drainTimer = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish(exitCode, signal);
      }, 200);
    });
  });
}

/** Process groups of steps still running, so a forced exit (second Ctrl-C) can stop them all. */
export const activeGroups = new Set<number>();

export function killAllGroups(): void {
  for (const pid of activeGroups) signalGroup(pid, "SIGKILL");
}
