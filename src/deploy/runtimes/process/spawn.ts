// Running commands in a process group of their own: resolving argv[0] before a deploy starts, turning a
// spawn error into a message, and running a command to completion with its output captured (exec beside an
// instance, tasks), the whole group killed at its end, timeout or abort.
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";
import { sleep } from "../../../lib/async.js";
import { OperationError, UserError } from "../../../lib/errors.js";
import { signalGroup } from "../../../lib/exec.js";
import type { TaskResult } from "../../types.js";
import { outputTail } from "../output.js";
import { exitCodeOf } from "./procfs.js";

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where argv[0] resolves to (a path with a slash: against cwd; else on PATH), or undefined. */
export async function resolveCommand(
  command: string,
  cwd: string,
  path: string,
): Promise<string | undefined> {
  if (command.includes("/")) {
    const abs = resolve(cwd, command);
    return (await isExecutable(abs)) ? abs : undefined;
  }
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(resolve(cwd, dir), command);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function spawnFailure(
  what: string,
  command: string[],
  cwd: string,
  err: NodeJS.ErrnoException,
): Error {
  const name = command[0];
  if (err.code === "ENOENT")
    return new OperationError(`${what}: cannot run '${name}': command not found (cwd ${cwd})`, {
      cause: err,
    });
  if (err.code === "EACCES")
    return new OperationError(`${what}: cannot run '${name}': permission denied`, { cause: err });
  return new OperationError(`${what}: cannot run '${name}': ${err.message}`, { cause: err });
}

/** Resolves once the child runs, rejects when it cannot be spawned (the error comes asynchronously). */
export function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
}

/**
 * Runs argv to completion in its own process group, output captured (stdout and stderr interleaved, last
 * 64 KiB). A timeout kills the group; so does the end of the command (nothing it started in the
 * background outlives it). An abort kills the group and rejects with the signal's reason.
 */
export async function runCaptured(opts: {
  what: string;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<TaskResult> {
  opts.signal?.throwIfAborted();
  if (!opts.command.length) throw new UserError(`${opts.what}: the command is empty`);
  const child = spawn(opts.command[0], opts.command.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = outputTail();
  child.stdout!.on("data", (b: Buffer) => output.push(b));
  child.stderr!.on("data", (b: Buffer) => output.push(b));
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(exitCodeOf(code, signal))),
  );
  try {
    await spawned(child);
  } catch (err) {
    throw spawnFailure(opts.what, opts.command, opts.cwd, err as NodeJS.ErrnoException);
  }
  const pgid = child.pid!;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(pgid, "SIGKILL");
  }, opts.timeoutMs);
  const onAbort = () => signalGroup(pgid, "SIGKILL");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const exitCode = await exited;
    signalGroup(pgid, "SIGKILL");
    // The pipes close once the group is gone; a process that left the group could hold them, so wait briefly.
    await Promise.race([new Promise((r) => child.once("close", r)), sleep(500)]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    opts.signal?.throwIfAborted();
    return { exitCode, output: output.text(), timedOut };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
