// Starting step processes without forking Node. child_process.spawn forks the whole Node process (its
// page tables, however large the heap has grown) for every step; a small long-lived helper process
// (spawn-helper-script.ts, one per slipway process) forks itself instead, on request over a pipe, and
// relays each process's output and exit back. What a step sees is what child_process.spawn gives it
// (`detached: true`, stdin /dev/null, stdout and stderr pipes, exactly the env asked for, default signal
// dispositions): it leads its own session and process group, so timeouts and cancels still signal the
// whole group directly, by pid, as before.
//
// Used only for processes of slipway's own user: an isolated fork leg's steps (another user) are spawned
// by Node as that user, so no helper is ever shared with code that could take it over. Where the
// helper cannot run (no perl on the machine, SLIPWAY_SPAWN_HELPER=0), steps are spawned by Node.
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { delimiter, join } from "node:path";
import { existsSync } from "node:fs";
import { signalGroup } from "../lib/exec.js";
import { spawnHelperScript } from "./spawn-helper-script.js";

export type HelperCallbacks = {
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** The process exited (its pipes may still be open: a background child can hold them). */
  onExit: (exitCode: number | null, signal: NodeJS.Signals | null) => void;
  /** Both pipes closed after the exit, or the helper was told to stop reading them: nothing more comes. */
  onClose: () => void;
};

export type HelperProcess = {
  pid: number;
  /** Stop reading the process's pipes (what is still written to them then fails with EPIPE). */
  stopReading: () => void;
};

type Pending = HelperCallbacks & {
  started: (pid: number) => void;
  failed: (err: Error) => void;
  pid?: number;
  exited?: boolean;
};

export const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);
const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The error Node's spawn gives for the same failure (`spawn bash ENOENT`), with its code and errno. */
export function spawnError(command: string, payload: string): Error {
  const errno = Number(payload.split(" ", 1)[0]);
  const code = errnoNames.get(errno) ?? "EUNKNOWN";
  return Object.assign(new Error(`spawn ${command} ${code}`), {
    code,
    errno: -errno,
    syscall: `spawn ${command}`,
  });
}

/** The helper lost while a process of it ran: its exit cannot be known any more. */
export class HelperLostError extends Error {}

export class SpawnHelper {
  private child: ChildProcess | undefined;
  private ready: Promise<boolean> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** spawn() calls waiting for the helper to say it is ready. */
  private waiting = 0;
  private buf: Buffer = Buffer.alloc(0);
  private readonly perl: string;

  constructor(perl: string) {
    this.perl = perl;
  }

  /** Starts the helper (once); false when it cannot run here. */
  private start(): Promise<boolean> {
    this.ready ??= new Promise<boolean>((resolve) => {
      let child: ChildProcess;
      try {
        // Its own session: a Ctrl-C at the terminal reaches slipway, which stops its steps itself; the
        // helper must outlive that to report their exits. It has no environment of its own to pass on.
        child = spawn(this.perl, ["-e", spawnHelperScript], {
          env: {},
          detached: true,
          stdio: ["pipe", "pipe", "ignore"],
        });
      } catch {
        resolve(false);
        return;
      }
      this.child = child;
      let hello = false;
      child.on("error", () => {
        if (!hello) resolve(false);
      });
      child.stdin!.on("error", () => {});
      child.stdout!.on("data", (chunk: Buffer) => {
        this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
        for (;;) {
          if (this.buf.length < 9) break;
          const len = this.buf.readUInt32BE(5);
          if (this.buf.length < 9 + len) break;
          const type = String.fromCharCode(this.buf[0]);
          const id = this.buf.readUInt32BE(1);
          const payload = this.buf.subarray(9, 9 + len);
          this.buf = this.buf.subarray(9 + len);
          if (type === "H") {
            hello = true;
            resolve(true);
          } else this.dispatch(type, id, payload);
        }
      });
      child.on("exit", () => {
        this.child = undefined;
        this.ready = undefined;
        this.buf = Buffer.alloc(0);
        if (!hello) resolve(false);
        const lost = [...this.pending.values()];
        this.pending.clear();
        for (const p of lost) {
          if (p.pid === undefined) p.failed(new HelperLostError("the spawn helper exited"));
          else {
            // Its exit can no longer be known: it is stopped rather than left running unwatched.
            if (!p.exited) signalGroup(p.pid, "SIGKILL");
            if (!p.exited) p.onExit(null, "SIGKILL");
            p.onClose();
          }
        }
      });
      this.refresh();
    });
    return this.ready;
  }

  private dispatch(type: string, id: number, payload: Buffer): void {
    const p = this.pending.get(id);
    if (!p) return;
    switch (type) {
      case "S":
        p.pid = Number(payload.toString());
        p.started(p.pid);
        break;
      case "E":
        this.pending.delete(id);
        this.refresh();
        p.failed(new Error(payload.toString()));
        break;
      case "O":
        p.onStdout(payload);
        break;
      case "R":
        p.onStderr(payload);
        break;
      case "X": {
        const [code, sig] = payload.toString().split(" ").map(Number);
        p.exited = true;
        p.onExit(code >= 0 ? code : null, sig >= 0 ? (signalNames.get(sig) ?? null) : null);
        break;
      }
      case "C":
        this.pending.delete(id);
        this.refresh();
        p.onClose();
        break;
    }
  }

  /** The helper keeps slipway running only while a process of it runs. */
  private refresh(): void {
    const c = this.child;
    if (!c) return;
    const busy = this.pending.size > 0 || this.waiting > 0;
    for (const s of [c, c.stdout, c.stdin] as { ref(): void; unref(): void }[]) {
      if (busy) s.ref();
      else s.unref();
    }
  }

  /**
   * Starts `command` with `args` in `cwd` with exactly `env`. Resolves when it runs; rejects with the
   * error Node's spawn would give when it cannot start, or undefined when the helper cannot run here
   * (the caller spawns the process itself then).
   */
  async spawn(
    command: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    cb: HelperCallbacks,
  ): Promise<HelperProcess | undefined> {
    this.waiting++;
    let ready: boolean;
    try {
      ready = await this.start();
    } finally {
      this.waiting--;
    }
    const child = this.child;
    if (!ready || !child) return undefined;
    const fields = [String(args.length + 1), command, ...args];
    const envList = Object.entries(env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    // NUL ends every field, so no field may hold one; Node's spawn refuses them the same way.
    for (const f of [cwd, ...fields, ...envList]) {
      if (f.includes("\0"))
        throw Object.assign(new TypeError("The argument must be a string without null bytes"), {
          code: "ERR_INVALID_ARG_VALUE",
        });
    }
    const id = this.nextId++;
    const started = new Promise<number>((resolve, reject) => {
      this.pending.set(id, { ...cb, started: resolve, failed: reject });
    });
    this.refresh();
    const request = ["R", String(id), cwd, ...fields, String(envList.length), ...envList].join("\0");
    child.stdin!.write(`${request}\0`);
    let pid: number;
    try {
      pid = await started;
    } catch (err) {
      // Lost after the request went out: the process may have started, so it is not started again.
      if (err instanceof HelperLostError) throw err;
      throw spawnError(command, (err as Error).message);
    }
    return { pid, stopReading: () => this.stopReading(id) };
  }

  private stopReading(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.refresh();
    this.child?.stdin?.write(`K\0${id}\0`);
    p.onClose();
  }
}

let shared: SpawnHelper | null | undefined;

/** This process's spawn helper, or null when steps are spawned by Node (no perl, or turned off). */
export function spawnHelper(): SpawnHelper | null {
  if (process.env.SLIPWAY_SPAWN_HELPER === "0" || process.env.SLIPWAY_SPAWN_HELPER === "node") return null;
  if (shared !== undefined) return shared;
  const perl = [
    "/usr/bin/perl",
    ...(process.env.PATH ?? "").split(delimiter).map((d) => d && join(d, "perl")),
  ].find((p) => p && existsSync(p));
  shared = perl ? new SpawnHelper(perl) : null;
  return shared;
}
