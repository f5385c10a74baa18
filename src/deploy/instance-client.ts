// The CLI's side of `slipway logs` and `slipway exec` on an agent's socket (instance-io.ts is the agent's).
import http from "node:http";
import { errorFromProblem, OperationError } from "../lib/errors.js";
import { agentError } from "./client.js";
import { encodeFrame, frameDecoder, frameTypes } from "./exec-frames.js";
import type { LogRecord } from "./instance-io.js";
import { checkAgentSocket } from "./socket.js";

export type LogsRequest = {
  service: string;
  instance?: string;
  follow?: boolean;
  /** ms since the epoch */
  since?: number;
  tail?: number;
};

function trusted(socketPath: string): void {
  if (checkAgentSocket(socketPath) === "absent")
    throw new OperationError(`no deploy agent listens on ${socketPath}`);
}

/** Reads an error answer's body into the error it stands for. */
function answerError(res: http.IncomingMessage): Promise<Error> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      let body: unknown = Buffer.concat(chunks).toString();
      try {
        body = JSON.parse(body as string);
      } catch {}
      resolve(agentError(body, res.statusCode));
    });
  });
}

/** Streams an instance's output lines to onRecord; resolves at the end (never, with follow, until aborted). */
export async function streamInstanceLogs(
  socketPath: string,
  r: LogsRequest,
  onRecord: (record: LogRecord) => void,
  signal?: AbortSignal,
): Promise<void> {
  trusted(socketPath);
  const q = new URLSearchParams({ service: r.service });
  if (r.instance) q.set("instance", r.instance);
  if (r.follow) q.set("follow", "1");
  if (r.since !== undefined) q.set("since", String(r.since));
  if (r.tail !== undefined) q.set("tail", String(r.tail));
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath, method: "GET", path: `/logs?${q}`, signal }, (res) => {
      if (res.statusCode !== 200) return void answerError(res).then(reject);
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
          const text = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!text.trim()) continue;
          const line = JSON.parse(text) as LogRecord & { error?: unknown };
          if (line.error) return reject(agentError(line));
          onRecord(line);
        }
      });
      res.on("end", () => resolve());
      res.on("error", (err) => (signal?.aborted ? resolve() : reject(err)));
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (signal?.aborted) resolve();
      else reject(new OperationError(`the deploy agent went away: ${err.message}`, { cause: err }));
    });
    req.end();
  });
}

export type ExecRequest = {
  service: string;
  instance?: string;
  command: string[];
  tty: boolean;
};

export type ExecIo = {
  stdin: NodeJS.ReadableStream;
  stdout: (b: Buffer) => void;
  stderr: (b: Buffer) => void;
  /** The terminal's size now and whenever it changes. */
  size?: () => { rows: number; cols: number } | undefined;
  onResize?: (listener: () => void) => void;
  /** Told which instance the command runs in, and whether it has a terminal, once the agent has chosen. */
  onAttached?: (attached: { instance: string; tty: boolean }) => void;
};

/** Runs a command attached to an instance through the agent; resolves with its exit code. */
export async function execInInstance(socketPath: string, r: ExecRequest, io: ExecIo): Promise<number> {
  trusted(socketPath);
  const q = new URLSearchParams({ service: r.service, tty: r.tty ? "1" : "0" });
  if (r.instance) q.set("instance", r.instance);
  for (const a of r.command) q.append("arg", a);
  return new Promise<number>((resolve, reject) => {
    const req = http.request({
      socketPath,
      method: "POST",
      path: `/exec?${q}`,
      headers: { connection: "Upgrade", upgrade: "slipway-exec" },
    });
    req.on("response", (res) => void answerError(res).then(reject));
    req.on("error", (err) =>
      reject(new OperationError(`the deploy agent went away: ${err.message}`, { cause: err })),
    );
    req.on("upgrade", (res, socket, head) => {
      io.onAttached?.({
        instance: String(res.headers["x-slipway-instance"] ?? ""),
        tty: res.headers["x-slipway-tty"] === "1",
      });
      let result: { exitCode?: number; error?: unknown } | undefined;
      const decode = frameDecoder((type, payload) => {
        if (type === frameTypes.stdout) io.stdout(payload);
        else if (type === frameTypes.stderr) io.stderr(payload);
        else if (type === frameTypes.exit) result = JSON.parse(payload.toString());
      });
      socket.on("data", (b: Buffer) => decode(b));
      if (head.length) decode(head);
      const sendSize = () => {
        const size = io.size?.();
        if (size && !socket.destroyed) socket.write(encodeFrame(frameTypes.resize, JSON.stringify(size)));
      };
      sendSize();
      io.onResize?.(sendSize);
      const onData = (b: Buffer | string) => {
        if (!socket.destroyed) socket.write(encodeFrame(frameTypes.stdin, Buffer.from(b)));
      };
      const onEnd = () => {
        if (!socket.destroyed) socket.write(encodeFrame(frameTypes.stdinEnd, ""));
      };
      io.stdin.on("data", onData);
      io.stdin.on("end", onEnd);
      socket.on("close", () => {
        io.stdin.off("data", onData);
        io.stdin.off("end", onEnd);
        if (!result)
          return reject(new OperationError("the deploy agent closed the exec without an exit code"));
        if (result.error) return reject(errorFromProblem(undefined, result, { fallback: "exec failed" }));
        resolve(result.exitCode ?? 1);
      });
      socket.on("error", () => {});
    });
    req.end();
  });
}
