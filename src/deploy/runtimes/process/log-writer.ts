// The log writer of a process instance: a small process of its own that reads the instance's stdout and
// stderr from a pipe and appends them, one timestamped line at a time, to `<id>.log`, rotating it by size
// (`<id>.log.1` … `<id>.log.<keep>`, the oldest dropped). The instance cannot write the file itself: a
// file it holds open cannot be rotated without losing lines (copytruncate drops what comes between the
// copy and the truncation; a rename leaves it writing to the renamed file). Nor can the agent read the
// pipe: instances outlive the agent, and a pipe whose reader died kills its writer with SIGPIPE. So, as
// containerd's shim or conmon do for containers, one writer per instance, in a process group of its own,
// deaf to the signals that stop the instance: it leaves when the pipe ends (the instance and whatever it
// started have exited) after writing everything it read.
//
// The writer runs as `node <script>`: the script is this module's `logWriterMain` written out as plain
// JavaScript (its source is the function's text, so it imports nothing and needs no build step of its own).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type LogRotation = {
  /** A log file is rotated before it would grow past this many bytes. */
  maxBytes: number;
  /** How many rotated files are kept besides the current one. */
  keep: number;
};

export const defaultLogRotation: LogRotation = { maxBytes: 10 * 1024 * 1024, keep: 5 };

/** A line's prefix in the log file: its time, as `2026-01-02T03:04:05.678Z ` (what `--since` reads). */
export const timestampPattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /;

export type LogWriterOptions = LogRotation & { path: string };

/**
 * The writer's whole program: reads stdin to its end. Self-contained (no imports, no closures), since its
 * text is what runs. A line is written when its newline comes, or when 16 KiB of it have (docker's json-file
 * splits long lines the same way), or after a second without more of it (a prompt with no newline).
 */
export function logWriterMain(req: NodeJS.Require, o: LogWriterOptions): void {
  const fs = req("node:fs") as typeof import("node:fs");
  // The instance's stop signals reach only its own group; a Ctrl-C in a foreground agent's terminal must not
  // end the writer before the pipe does either.
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(s, () => {});
  let fd = fs.openSync(o.path, "a", 0o600);
  let size = fs.fstatSync(fd).size;
  let partial = "";
  let timer: NodeJS.Timeout | undefined;
  const rotate = () => {
    fs.closeSync(fd);
    for (let i = o.keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${o.path}.${i}`, `${o.path}.${i + 1}`);
      } catch {}
    }
    if (o.keep >= 1) fs.renameSync(o.path, `${o.path}.1`);
    else fs.unlinkSync(o.path);
    try {
      fs.unlinkSync(`${o.path}.${o.keep + 1}`);
    } catch {}
    fd = fs.openSync(o.path, "a", 0o600);
    size = 0;
  };
  const write = (lines: string[]) => {
    if (lines.length === 0) return;
    const at = `${new Date().toISOString()} `;
    // Whole lines only: a file never ends in the middle of one, so a rotation never splits a line.
    for (const line of lines) {
      const text = Buffer.from(`${at}${line}\n`);
      if (size > 0 && size + text.length > o.maxBytes) rotate();
      fs.writeSync(fd, text);
      size += text.length;
    }
  };
  const flushPartial = () => {
    timer = undefined;
    if (partial) write([partial]);
    partial = "";
  };
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    if (timer) clearTimeout(timer);
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    while (partial.length >= 16384) {
      parts.push(partial.slice(0, 16384));
      partial = partial.slice(16384);
    }
    write(parts);
    if (partial) timer = setTimeout(flushPartial, 1000);
  });
  process.stdin.on("end", () => {
    if (timer) clearTimeout(timer);
    flushPartial();
    fs.closeSync(fd);
  });
}

/** The writer's script in `dir` (written once per content). */
function writerScript(dir: string): string {
  // A transpiler that keeps function names (esbuild's keepNames, as tsx runs it) wraps them in __name():
  // the function's text then needs that helper, which here names nothing.
  const source = `"use strict";\nvar __name = (f) => f;\n(${logWriterMain.toString()})(require, JSON.parse(process.argv[2]));\n`;
  const path = join(dir, `log-writer-${createHash("sha256").update(source).digest("hex").slice(0, 12)}.cjs`);
  if (!existsSync(path)) writeFileSync(path, source, { mode: 0o600 });
  return path;
}

/**
 * Starts a writer for `options.path`; its stdin is the pipe to give the instance as stdout and stderr
 * (the caller closes its own end once the instance has it). Resolves once the writer runs.
 */
export async function startLogWriter(
  scriptDir: string,
  options: LogWriterOptions,
): Promise<{ pid: number; stdin: NodeJS.WritableStream & { destroy(): void } }> {
  const child = spawn(process.execPath, [writerScript(scriptDir), JSON.stringify(options)], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
    // Nothing of the agent's environment (keys, database URL) is needed to write a file.
    env: { PATH: process.env.PATH ?? "" },
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  child.unref();
  return { pid: child.pid!, stdin: child.stdin! };
}
