// The log writer and reader against real processes and files: a writer rotating under continuous output
// loses no line (the kept files hold a contiguous run ending with the last line), a follower that reads
// while the files rotate sees every line once and in order, and --since/--tail read across rotated files.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../../test/support/wait.js";
import { tempDir } from "../testing.js";
import { startLogWriter } from "./log-writer.js";
import { type LogLine, parseLogLine, readLog, successor } from "./logs.js";

/** A shell loop printing `line N` for N = 1…count as fast as it can, through a log writer. */
async function writeLines(dir: string, count: number, rotation: { maxBytes: number; keep: number }) {
  const path = join(dir, "i.log");
  const writer = await startLogWriter(dir, { path, ...rotation });
  const child = spawn("sh", ["-c", `i=1; while [ $i -le ${count} ]; do echo "line $i"; i=$((i+1)); done`], {
    stdio: ["ignore", writer.stdin as never, writer.stdin as never],
  });
  writer.stdin.destroy();
  const writerGone = () => {
    try {
      process.kill(writer.pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  return { path, child, writerGone };
}

/** Every line of a log's files, oldest first, without prefixes. */
function allLines(path: string): string[] {
  const dir = join(path, "..");
  const rotated = readdirSync(dir)
    .filter((n) => /^i\.log\.\d+$/.test(n))
    .sort((a, b) => Number(b.split(".").pop()) - Number(a.split(".").pop()));
  const text = [...rotated.map((n) => join(dir, n)), path].map((p) => readFileSync(p, "utf8")).join("");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => parseLogLine(l).line);
}

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

describe("the log writer", () => {
  it("rotates by size, keeps the configured count, and loses no line under continuous output", async () => {
    const dir = tempDir();
    const count = 20_000;
    const { path, writerGone } = await writeLines(dir, count, { maxBytes: 64 * 1024, keep: 100 });
    await waitFor("the writer to finish", writerGone, 60_000);
    const files = readdirSync(dir).filter((n) => n.startsWith("i.log"));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(64 * 1024);
    expect(allLines(path)).toEqual(Array.from({ length: count }, (_, i) => `line ${i + 1}`));
    // Every line carries its time.
    expect(readFileSync(path, "utf8").split("\n")[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z line \d+$/,
    );
  }, 90_000);

  it("drops the oldest files beyond `keep`; what is kept is the newest lines, contiguous", async () => {
    const dir = tempDir();
    const count = 20_000;
    const { path, writerGone } = await writeLines(dir, count, { maxBytes: 16 * 1024, keep: 2 });
    await waitFor("the writer to finish", writerGone, 60_000);
    expect(
      readdirSync(dir)
        .filter((n) => n.startsWith("i.log"))
        .sort(),
    ).toEqual(["i.log", "i.log.1", "i.log.2"]);
    const lines = allLines(path);
    const first = Number(lines[0].split(" ")[1]);
    expect(first).toBeGreaterThan(1);
    expect(lines).toEqual(Array.from({ length: count - first + 1 }, (_, i) => `line ${first + i}`));
  }, 90_000);

  it("outlives a SIGTERM to the instance's group and writes what the instance wrote before dying", async () => {
    const dir = tempDir();
    const path = join(dir, "i.log");
    const writer = await startLogWriter(dir, { path, maxBytes: 1 << 20, keep: 1 });
    const child = spawn("sh", ["-c", "echo before; sleep 30"], {
      detached: true,
      stdio: ["ignore", writer.stdin as never, writer.stdin as never],
    });
    writer.stdin.destroy();
    await waitFor("the first line", () => readFileSync(path, "utf8").includes("before"));
    process.kill(-child.pid!, "SIGTERM");
    process.kill(writer.pid, "SIGTERM"); // ignored: the writer ends with the pipe
    await waitFor("the writer to leave with the pipe", () => {
      try {
        process.kill(writer.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(allLines(path)).toEqual(["before"]);
  });
});

describe("readLog", () => {
  it("follows across rotations: every line once, in order", async () => {
    const dir = tempDir();
    const count = 20_000;
    const stop = new AbortController();
    stops.push(stop);
    const seen: string[] = [];
    const path = join(dir, "i.log");
    // The follower starts before the file exists, like `slipway logs -f` right after a start.
    const following = readLog(path, { follow: true, signal: stop.signal, onLine: (l) => seen.push(l.line) });
    const { writerGone } = await writeLines(dir, count, { maxBytes: 32 * 1024, keep: 1000 });
    await waitFor("the writer to finish", writerGone, 60_000);
    await waitFor("the follower to see the last line", () => seen.at(-1) === `line ${count}`, 30_000);
    stop.abort();
    await following;
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => `line ${i + 1}`));
  }, 90_000);

  it("reads the tail and --since across rotated files, times parsed", async () => {
    const dir = tempDir();
    const path = join(dir, "i.log");
    writeFileSync(`${path}.2`, "2026-01-01T00:00:00.000Z old 1\n2026-01-01T00:00:01.000Z old 2\n");
    writeFileSync(`${path}.1`, "2026-01-01T00:01:00.000Z mid 1\n");
    writeFileSync(path, "2026-01-01T00:02:00.000Z new 1\n2026-01-01T00:02:01.000Z new 2\n");
    const read = async (o: { tail?: number; since?: number }) => {
      const out: LogLine[] = [];
      await readLog(path, { ...o, onLine: (l) => out.push(l) });
      return out;
    };
    expect((await read({ tail: 3 })).map((l) => l.line)).toEqual(["mid 1", "new 1", "new 2"]);
    expect((await read({})).map((l) => l.line)).toEqual(["old 1", "old 2", "mid 1", "new 1", "new 2"]);
    const since = await read({ since: Date.parse("2026-01-01T00:00:30Z") });
    expect(since).toEqual([
      { at: Date.parse("2026-01-01T00:01:00Z"), line: "mid 1" },
      { at: Date.parse("2026-01-01T00:02:00Z"), line: "new 1" },
      { at: Date.parse("2026-01-01T00:02:01Z"), line: "new 2" },
    ]);
  });

  it("finds the file after the one it read even when a rotation comes in the middle of its look", async () => {
    const dir = tempDir();
    const path = join(dir, "i.log");
    writeFileSync(`${path}.2`, "W\n");
    writeFileSync(`${path}.1`, "X\n");
    writeFileSync(path, "Y\n");
    const x = statSync(`${path}.1`);
    // The writer rotates right after the look has seen X at `.1`: X becomes `.2`, Y `.1`, a new Z the log.
    // A look that went on to the log would take Z for X's successor and skip Y's lines.
    let rotated = false;
    const ops = {
      readdir: (d: string) => readdir(d),
      stat: async (p: string) => {
        const s = await stat(p).catch(() => undefined);
        if (!rotated && p.endsWith("i.log.1")) {
          rotated = true;
          renameSync(`${path}.2`, `${path}.3`);
          renameSync(`${path}.1`, `${path}.2`);
          renameSync(path, `${path}.1`);
          writeFileSync(path, "Z\n");
        }
        return s;
      },
    };
    const next = await successor(path, x, ops);
    expect(rotated).toBe(true);
    expect(next).toBeDefined();
    try {
      expect((await next!.readFile()).toString()).toBe("Y\n");
    } finally {
      await next!.close();
    }
  });
});
