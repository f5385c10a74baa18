// What a server or runner leaves behind when it is killed with -9: step processes (each the leader of
// its own process group) that go on unsupervised, and the legs' temporary directories. The ledger
// writes one small file (0600, in a 0700 directory) per live process group and per temporary directory,
// naming its owner (this process's pid and start time), and removes it when the step or leg ends. At
// the next start, entries whose owner is gone are reaped: a group whose leader still has the recorded
// start time (so the pid was not reused) — or whose members outlived it — gets SIGTERM, then SIGKILL
// after a grace period; a directory is removed.
//
// Which ledger a spawn is recorded in comes from the async context (`withLedger`), so the step code
// needs only a call to `recordSpawn` and several services in one process keep apart.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { sleep } from "./async.js";
import { signalGroup } from "./exec.js";

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined when gone. */
export function processStartTime(pid: number): string | undefined {
  const s = procStat(pid);
  return s?.start;
}

/** The fields of /proc/<pid>/stat this needs; undefined when the process is gone (or a zombie). */
function procStat(pid: number): { pgrp: number; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  if (rest[0] === "Z" || rest[0] === "X") return undefined;
  return { pgrp: Number(rest[2]), start: rest[19] };
}

type Owner = { pid: number; start: string };
type Entry =
  | { kind: "group"; pid: number; start: string; owner: Owner }
  | { kind: "dir"; path: string; owner: Owner };

let self: Owner | undefined;
function me(): Owner {
  self ??= { pid: process.pid, start: processStartTime(process.pid) ?? "unknown" };
  return self;
}

function ownerAlive(o: Owner): boolean {
  return processStartTime(o.pid) === o.start;
}

/** Pids whose process group is `pgid` and which started no earlier than `start` (ticks). */
function groupMembers(pgid: number, start: string): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.pgrp === pgid && BigInt(s.start) >= BigInt(start)) out.push(Number(name));
  }
  return out;
}

export type ReapReport = { groups: number[]; dirs: string[] };

export class ProcessLedger {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  private write(entry: Entry): () => void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const file = join(this.dir, `${entry.kind}-${randomBytes(8).toString("hex")}.json`);
    writeFileSync(file, JSON.stringify(entry), { mode: 0o600 });
    return () => {
      try {
        unlinkSync(file);
      } catch {
        // Reaped meanwhile, or never written.
      }
    };
  }

  /** Records a process group this process started; the function returned forgets it (call at its end). */
  recordGroup(pid: number): () => void {
    const start = processStartTime(pid);
    // Gone already (or not on Linux): nothing could be found again later.
    if (start === undefined) return () => {};
    return this.write({ kind: "group", pid, start, owner: me() });
  }

  /** Records a temporary directory this process made; the function returned forgets it. */
  recordDir(path: string): () => void {
    if (!isAbsolute(path)) return () => {};
    return this.write({ kind: "dir", path, owner: me() });
  }

  /**
   * Stops the process groups and removes the directories recorded by owners that are gone (a process
   * killed with -9); entries of live owners (another process on the same directory) are left alone.
   * Waits up to `graceMs` after SIGTERM before SIGKILL.
   */
  async reap(graceMs: number): Promise<ReapReport> {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith(".json"));
    } catch {
      return { groups: [], dirs: [] };
    }
    const groups: { pgid: number; start: string; file: string }[] = [];
    const report: ReapReport = { groups: [], dirs: [] };
    for (const name of names) {
      const file = join(this.dir, name);
      let entry: Entry;
      try {
        entry = JSON.parse(readFileSync(file, "utf8")) as Entry;
      } catch {
        rmSync(file, { force: true });
        continue;
      }
      if (ownerAlive(entry.owner)) continue;
      if (entry.kind === "dir") {
        // Only what a leg made under a temporary-directory prefix of slipway's, never an arbitrary path.
        if (/\/slipway-leg-[^/]+$/.test(entry.path)) rmSync(entry.path, { recursive: true, force: true });
        report.dirs.push(entry.path);
        rmSync(file, { force: true });
      } else {
        groups.push({ pgid: entry.pid, start: entry.start, file });
      }
    }
    const live = groups.filter((g) => {
      const leader = procStat(g.pgid);
      // The leader with another start time: the pid was reused; not ours.
      if (leader) return leader.start === g.start;
      // The leader is gone; members it left in its group are still the step's.
      return groupMembers(g.pgid, g.start).length > 0;
    });
    for (const g of live) signalGroup(g.pgid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (live.some((g) => groupMembers(g.pgid, g.start).length > 0) && Date.now() < deadline)
      await sleep(100);
    for (const g of live) if (groupMembers(g.pgid, g.start).length > 0) signalGroup(g.pgid, "SIGKILL");
    for (const g of groups) rmSync(g.file, { force: true });
    report.groups = live.map((g) => g.pgid);
    return report;
  }
}

const current = new AsyncLocalStorage<ProcessLedger>();

/** Runs `fn` with spawns and temporary directories recorded in `ledger`. */
export function withLedger<T>(ledger: ProcessLedger, fn: () => T): T {
  return current.run(ledger, fn);
}

/** Records a started process group in the ledger of the current context (none: nothing to do). */
export function recordSpawn(pid: number | undefined): () => void {
  const ledger = current.getStore();
  return ledger && pid ? ledger.recordGroup(pid) : () => {};
}

/** Records a temporary directory in the ledger of the current context (none: nothing to do). */
export function recordTempDir(path: string): () => void {
  return current.getStore()?.recordDir(path) ?? (() => {});
}
