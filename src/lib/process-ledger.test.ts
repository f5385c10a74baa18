// The process ledger: groups and directories recorded by an owner that is gone are reaped (SIGTERM,
// then SIGKILL), those of a live owner and reused pids are left alone.
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessLedger, processStartTime, recordSpawn, recordTempDir, withLedger } from "./process-ledger.js";

const dirs: string[] = [];
const pids: number[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "ledger-test-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const p of pids.splice(0)) {
    try {
      process.kill(-p, "SIGKILL");
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A detached shell (its own group) with a child that ignores SIGTERM when asked. */
function group(script: string): number {
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  pids.push(child.pid!);
  return child.pid!;
}

/** Whether any live (non-zombie) process is in the group. */
function groupAlive(pgid: number): boolean {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] !== "Z" && Number(rest[2]) === pgid) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/** Rewrites every entry's owner to a process that is gone (what a kill -9 leaves). */
function orphan(dir: string): void {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const e = JSON.parse(readFileSync(p, "utf8"));
    e.owner = { pid: 999_999_999, start: "1" };
    writeFileSync(p, JSON.stringify(e));
  }
}

describe("ProcessLedger", () => {
  it("reads a process's start time from /proc", () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(999_999_999)).toBeUndefined();
  });

  it("records spawns only inside a ledger's context, in 0600 files of a 0700 directory", () => {
    const dir = join(temp(), "processes");
    const ledger = new ProcessLedger(dir);
    const pid = group("sleep 30");
    expect(recordSpawn(pid)()).toBeUndefined(); // no context: nothing recorded
    expect(existsSync(dir)).toBe(false);
    const forget = withLedger(ledger, () => recordSpawn(pid));
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, files[0])).mode & 0o777).toBe(0o600);
    forget();
    expect(readdirSync(dir)).toHaveLength(0);
  });

  it("stops the groups and removes the leg directories an owner that is gone left behind", async () => {
    const dir = join(temp(), "processes");
    const ledger = new ProcessLedger(dir);
    // The leader exits at once; its background child (same group) ignores SIGTERM: SIGKILL is needed.
    const stubborn = group("(trap '' TERM; while :; do sleep 0.1; done) & sleep 30");
    const plain = group("sleep 30");
    const legDir = mkdtempSync(join(temp(), "slipway-leg-"));
    writeFileSync(join(legDir, "ci.yml"), "x");
    withLedger(ledger, () => {
      recordSpawn(stubborn);
      recordSpawn(plain);
      recordTempDir(legDir);
    });
    // Live owner (this process): nothing is touched.
    expect((await ledger.reap(200)).groups).toEqual([]);
    expect(groupAlive(stubborn) && groupAlive(plain) && existsSync(legDir)).toBe(true);
    orphan(dir);
    const report = await ledger.reap(300);
    expect(report.groups.sort()).toEqual([stubborn, plain].sort());
    expect(report.dirs).toEqual([legDir]);
    await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive(stubborn)).toBe(false);
    expect(groupAlive(plain)).toBe(false);
    expect(existsSync(legDir)).toBe(false);
    expect(readdirSync(dir)).toHaveLength(0);
  });

  it("leaves a pid alone when it now belongs to another process (start time differs)", async () => {
    const dir = join(temp(), "processes");
    mkdirSync(dir, { recursive: true });
    const other = group("sleep 30");
    writeFileSync(
      join(dir, "group-reused.json"),
      JSON.stringify({ kind: "group", pid: other, start: "1", owner: { pid: 999_999_999, start: "1" } }),
    );
    const report = await new ProcessLedger(dir).reap(100);
    expect(report.groups).toEqual([]);
    expect(groupAlive(other)).toBe(true);
  });

  it("never removes a recorded directory that is not a leg directory", async () => {
    const dir = join(temp(), "processes");
    mkdirSync(dir, { recursive: true });
    const precious = temp();
    writeFileSync(
      join(dir, "dir-x.json"),
      JSON.stringify({ kind: "dir", path: precious, owner: { pid: 999_999_999, start: "1" } }),
    );
    await new ProcessLedger(dir).reap(100);
    expect(existsSync(precious)).toBe(true);
  });
});
