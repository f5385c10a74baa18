// What the kernel says about a recorded process (/proc): whether it still runs as the one we started (pid
// and start time both match, since pids are reused), whether its group is still ours to signal, and the
// environment it started with.
import { readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import type { ProcessRecord } from "./record.js";

type ProcStat = { state: string; pgid: number; start: string };

/** /proc/<pid>/stat, split after the command name (which may hold spaces and parentheses). */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields from 3 (state) on; field N is at index N - 3.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], pgid: Number(fields[2]), start: fields[19] };
}

const hasProc = (() => {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The record's process is alive: same pid and start time, and not a zombie (it has exited). */
export function isRunning(record: ProcessRecord): boolean {
  if (!hasProc || !record.procStart) return pidExists(record.pid);
  const s = readProcStat(record.pid);
  return s !== undefined && s.start === record.procStart && s.state !== "Z";
}

/**
 * Whether signalling the record's process group can only reach its processes. The kernel does not hand
 * out a pid that is still a process group's id, so while the pid is free, or still ours, the group is
 * ours (or empty); a pid now held by another process means the group is gone and the id may be someone
 * else's.
 */
export function groupIsOurs(record: ProcessRecord): boolean {
  if (!hasProc || !record.procStart) return pidExists(record.pid);
  const s = readProcStat(record.pid);
  return s === undefined || s.start === record.procStart;
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

/** The environment a running process started with (/proc/<pid>/environ), or undefined when unreadable. */
export function readProcEnviron(pid: number): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
