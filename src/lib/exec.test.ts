import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sleep } from "./async.js";
import { signalGroup, stopGroup } from "./exec.js";

/** Running, not a zombie: an orphan's exit may wait long for a reaper in a container. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** A shell leading its own group, with a grandchild that outlives a signal to the shell alone. */
function shellWithChild(script: string) {
  const child = spawn("sh", ["-c", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  const grandchild = new Promise<number>((resolve) =>
    child.stdout.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))),
  );
  return { child, grandchild };
}

describe("signalGroup", () => {
  it("refuses no group, 0 and 1, and says when the group is gone", () => {
    expect(signalGroup(undefined, "SIGTERM")).toBe(false);
    expect(signalGroup(0, "SIGTERM")).toBe(false);
    expect(signalGroup(1, "SIGTERM")).toBe(false);
    expect(signalGroup(2 ** 22 + 12345, "SIGTERM")).toBe(false);
  });
});

describe("stopGroup", () => {
  it("ends the whole group with the first signal", async () => {
    const { child, grandchild } = shellWithChild("sleep 30 & echo $!; wait");
    const pid = await grandchild;
    expect(alive(pid)).toBe(true);
    await stopGroup(child, { graceMs: 5000 });
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
    expect(alive(pid)).toBe(false);
  });

  it("sends SIGKILL after the grace period to a group that ignores the first signal", async () => {
    const { child, grandchild } = shellWithChild(
      "trap '' TERM; sleep 30 & echo $!; while :; do sleep 1; done",
    );
    const pid = await grandchild;
    const t0 = Date.now();
    await stopGroup(child, { graceMs: 200 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(child.signalCode).toBe("SIGKILL");
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
    expect(alive(pid)).toBe(false);
  });

  it("resolves at once for a child that has exited", async () => {
    const child = spawn("true", [], { detached: true, stdio: "ignore" });
    await new Promise((r) => child.once("exit", r));
    await stopGroup(child);
  });
});
