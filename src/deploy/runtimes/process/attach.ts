// `slipway exec` beside a process instance: the command runs in the instance's working directory with
// the instance's environment, in a process group of its own, its stdin, stdout and stderr attached to the
// client's. The process runtime has no terminal to give (a pty needs a native module): output is piped.
import { spawn } from "node:child_process";
import { signalGroup } from "../../../lib/exec.js";
import type { AttachIo } from "../../types.js";
import { exitCodeOf } from "./procfs.js";
import { spawnFailure, spawned } from "./spawn.js";

export async function attachProcess(
  what: string,
  command: string[],
  place: { cwd: string; env: Record<string, string> },
  io: AttachIo,
): Promise<number> {
  io.signal.throwIfAborted();
  const child = spawn(command[0], command.slice(1), {
    cwd: place.cwd,
    env: place.env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(exitCodeOf(code, signal))),
  );
  try {
    await spawned(child);
  } catch (err) {
    throw spawnFailure(what, command, place.cwd, err as NodeJS.ErrnoException);
  }
  child.stdout!.on("data", (b: Buffer) => io.onStdout(b));
  child.stderr!.on("data", (b: Buffer) => io.onStderr(b));
  // A command that does not read its input closes the pipe: that is not an error of the exec.
  child.stdin!.on("error", () => {});
  io.stdin.pipe(child.stdin!);
  // The client went away (Ctrl-C, a dropped connection): the whole group goes, as a terminal's hangup would.
  const kill = () => {
    signalGroup(child.pid, "SIGHUP");
    setTimeout(() => signalGroup(child.pid, "SIGKILL"), 2000).unref();
  };
  io.signal.addEventListener("abort", kill, { once: true });
  const code = await exited;
  io.signal.removeEventListener("abort", kill);
  // Wait for the output pipes to be read to their end, so nothing the command wrote is cut.
  await Promise.all(
    [child.stdout!, child.stderr!].map(
      (s) => new Promise<void>((r) => (s.readableEnded || s.destroyed ? r() : s.once("close", () => r()))),
    ),
  );
  io.stdin.unpipe(child.stdin!);
  return code;
}
