// Talking to an environment's deploy agent over its Unix socket, and starting it when it is not running.
import { sleep } from "../lib/async.js";
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import http from "node:http";
import { dirname } from "node:path";
import { errorFromProblem, OperationError, streamedError } from "../lib/errors.js";
import type { AgentPaths } from "./agent.js";
import { checkAgentSocket } from "./socket.js";

export type AgentReply = { status: number; body: unknown };

/** One JSON request; undefined when no agent listens on the socket. */
export async function callAgent(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<AgentReply | undefined> {
  // Nothing is sent to a socket that another user could have bound (socket.ts).
  try {
    if (checkAgentSocket(socketPath) === "absent") return undefined;
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method, path, headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // /metrics is text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      // No agent, or one that is going away (it closed the connection before answering).
      if (["ENOENT", "ECONNREFUSED", "ECONNRESET", "EPIPE"].includes(err.code ?? "")) resolve(undefined);
      else reject(err);
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A streaming request (deploy, rollback): each NDJSON line to onLine; resolves with the last line. */
export async function streamAgent(
  socketPath: string,
  path: string,
  body: unknown,
  onLine: (line: Record<string, unknown>) => void,
): Promise<Record<string, unknown>> {
  try {
    if (checkAgentSocket(socketPath) === "absent")
      throw new OperationError(`no deploy agent listens on ${socketPath}`);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: "POST", path, headers: { "content-type": "application/json" } },
      (res) => {
        let buf = "";
        let last: Record<string, unknown> = {};
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buf += chunk;
          for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
            const text = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!text.trim()) continue;
            last = JSON.parse(text) as Record<string, unknown>;
            onLine(last);
          }
        });
        res.on("end", () => {
          if (res.statusCode !== 200) {
            // Refused before the stream began: an error body (read as a line above, or left in buf), whose
            // status says which kind of error it is (a user error: exit 2).
            let body: unknown = last;
            if (!("error" in last))
              try {
                body = JSON.parse(buf);
              } catch {
                body = undefined;
              }
            last = { error: streamedError(agentError(body, res.statusCode)) };
          }
          resolve(last);
        });
        res.on("error", reject);
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      reject(new OperationError(`the deploy agent went away: ${err.message}`, { cause: err })),
    );
    req.end(JSON.stringify(body));
  });
}

/** Starts the agent (detached: it outlives this command) unless one answers; waits until it does. */
export async function ensureAgent(
  paths: AgentPaths,
  command: { file: string; args: string[]; env?: NodeJS.ProcessEnv },
  timeoutMs = 60_000,
): Promise<"running" | "started"> {
  if (await callAgent(paths.socketPath, "GET", "/status")) return "running";
  mkdirSync(dirname(paths.logFile), { recursive: true, mode: 0o700 });
  const log = openSync(paths.logFile, "a", 0o600);
  const child = spawn(command.file, command.args, {
    detached: true,
    stdio: ["ignore", log, log],
    env: command.env ?? process.env,
  });
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    await sleep(100);
    if (await callAgent(paths.socketPath, "GET", "/status").catch(() => undefined)) return "started";
    if (exited !== null) {
      const tail = readFileSync(paths.logFile, "utf8").trimEnd().split("\n").slice(-15).join("\n");
      throw new OperationError(`the deploy agent exited with ${exited} while starting:\n${tail}`);
    }
  }
  throw new OperationError(
    `the deploy agent did not answer within ${timeoutMs / 1000} s (log: ${paths.logFile})`,
  );
}

/**
 * The error class an agent's answer stood for: an {error} line of a stream (by its kind) or an error
 * body with its HTTP status (lib/errors.ts decodes both).
 */
export function agentError(body: unknown, status?: number): Error {
  return errorFromProblem(status, body, { fallback: "the deploy agent failed" });
}
