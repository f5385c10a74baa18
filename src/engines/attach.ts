// An interactive exec in a running container (`slipway exec`, like `docker exec -i [-t]`): the command's
// stdin is fed from a stream and its end closes the command's input; with a TTY the output is one raw
// stream and the terminal's size follows the client's, without one stdout and stderr come demultiplexed.
import type Dockerode from "dockerode";
import { frameReader } from "./demux.js";
import type { Engine } from "./engine.js";
import { EngineError } from "./errors.js";

export type AttachOptions = {
  tty: boolean;
  stdin: NodeJS.ReadableStream;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  onResize?: (listener: (size: { rows: number; cols: number }) => void) => void;
  signal: AbortSignal;
};

/** Runs `cmd` in the container with its input and output attached; resolves with its exit code. */
export async function attachExec(
  engine: Engine,
  containerId: string,
  cmd: string[],
  o: AttachOptions,
): Promise<number> {
  const what = `exec in container ${containerId}`;
  const wrap = (err: unknown): never => {
    if ((err as Error)?.name === "AbortError") throw err;
    throw new EngineError(
      `${what}: ${(err as { json?: { message?: string } }).json?.message ?? (err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    );
  };
  const exec = await engine.docker
    .getContainer(containerId)
    .exec({
      Cmd: cmd,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: o.tty,
    } as Dockerode.ExecCreateOptions)
    .catch(wrap);
  const stream = (await exec
    .start({ hijack: true, stdin: true, Tty: o.tty } as Dockerode.ExecStartOptions)
    .catch(wrap)) as NodeJS.ReadWriteStream & { destroy(): void };
  o.onResize?.((size) => {
    if (o.tty) void exec.resize({ h: size.rows, w: size.cols }).catch(() => {});
  });
  const done = new Promise<void>((resolve, reject) => {
    if (o.tty) stream.on("data", (b: Buffer) => o.onStdout(Buffer.from(b)));
    else {
      const frames = frameReader(o.onStdout, o.onStderr);
      stream.on("data", (b: Buffer) => frames(Buffer.from(b)));
    }
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", (err: Error) => (o.signal.aborted ? resolve() : reject(err)));
  });
  // The client's end of input is the command's (the engine half-closes the hijacked connection).
  o.stdin.on("data", (b: Buffer) => stream.write(b));
  o.stdin.on("end", () => stream.end());
  const abort = () => stream.destroy();
  o.signal.addEventListener("abort", abort, { once: true });
  try {
    await done.catch(wrap);
  } finally {
    o.signal.removeEventListener("abort", abort);
  }
  o.signal.throwIfAborted();
  const info = await exec.inspect().catch(wrap);
  return info.ExitCode ?? -1;
}
