// The API client of the CLI: server URL and token from flags, then SLIPWAY_SERVER / SLIPWAY_TOKEN,
// then the config file written by `slipway login` (~/.config/slipway/config.json, mode 0600). Every
// request has a deadline (30 s, SLIPWAY_HTTP_TIMEOUT_MS): a server that stops answering is an error
// naming it, not a hang.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { errorFromProblem, OperationError, UserError } from "../lib/errors.js";
import { fetchWithDeadline, HttpTimeoutError, httpTimeoutMs } from "../lib/http.js";

/** A failed request, with the HTTP status the server answered (401: the token is refused). */
export type ApiFailure = Error & { status?: number };

/**
 * The server's error answer as the error it stood for (lib/errors.ts decodes the one encoding): bad
 * input, not found and conflicts are UserErrors (exit 2); a refused token and the server's own
 * failures are OperationErrors naming the request (exit 1).
 */
export function apiError(method: string, path: string, res: Response, text: string): ApiFailure {
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text };
  }
  return errorFromProblem(res.status, data, {
    fallback: `${res.status} ${res.statusText}`,
    prefix: `${method} ${path}`,
  });
}

export type ClientFlags = { server?: string; token?: string };

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "slipway", "config.json");
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): { server?: string; token?: string } {
  const p = configPath(env);
  if (!existsSync(p)) return {};
  try {
    return JSON.parse(readFileSync(p, "utf8"));
  } catch (err) {
    throw new UserError(`cannot read ${p}: ${(err as Error).message}`);
  }
}

export function writeConfig(config: { server?: string; token?: string }): string {
  const p = configPath();
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(p, 0o600);
  return p;
}

/**
 * The server the CLI would talk to (flag, SLIPWAY_SERVER, then `slipway login`), or undefined: for
 * commands that also work on a local data directory, to pick which.
 */
export function configuredServer(
  flags: ClientFlags,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return flags.server || env.SLIPWAY_SERVER || readConfig(env).server || undefined;
}

export class ApiClient {
  readonly server: string;
  private readonly token?: string;
  readonly timeoutMs: number;
  constructor(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env) {
    this.timeoutMs = httpTimeoutMs(env);
    const config = readConfig(env);
    const server = flags.server ?? env.SLIPWAY_SERVER ?? config.server;
    if (!server)
      throw new UserError("no server: pass --server URL, set SLIPWAY_SERVER or run `slipway login`");
    this.server = server.replace(/\/+$/, "");
    this.token = flags.token ?? env.SLIPWAY_TOKEN ?? config.token;
  }

  /**
   * One request and its JSON answer, within the deadline (plus `extraMs` for a long poll that the
   * server holds on purpose).
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { extraMs?: number } = {},
  ): Promise<T> {
    const url = `${this.server}${path}`;
    const timeoutMs = this.timeoutMs + (opts.extraMs ?? 0);
    // The whole exchange, body included: the answers are small JSON documents.
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw new HttpTimeoutError(url, timeoutMs);
      throw new OperationError(
        `cannot reach the slipway server at ${this.server}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`,
      );
    }
    if (!res.ok) throw apiError(method, path, res, text);
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { error: text };
    }
    return data as T;
  }

  /**
   * A request whose body or answer is a byte stream (artifacts): the deadline is for the answer to
   * start, not for the transfer. Throws as request() does for an error status.
   */
  async stream(
    method: string,
    path: string,
    body?: Readable,
    opts: { contentType?: string; timeoutMs?: number } = {},
  ): Promise<Response> {
    const url = `${this.server}${path}`;
    let res: Response;
    try {
      res = await fetchWithDeadline(
        url,
        {
          method,
          headers: {
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
            ...(opts.contentType ? { "content-type": opts.contentType } : {}),
          },
          ...(body ? { body: Readable.toWeb(body) as unknown as ReadableStream, duplex: "half" } : {}),
        } as RequestInit,
        opts.timeoutMs ?? this.timeoutMs,
      );
    } catch (err) {
      if (err instanceof HttpTimeoutError) throw err;
      throw new OperationError(
        `cannot reach the slipway server at ${this.server}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`,
      );
    }
    if (!res.ok) throw apiError(method, path, res, await res.text());
    return res;
  }

  /** Server-Sent Events of a path, one parsed event at a time, until the stream ends. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<{ event: string; data: unknown }> {
    let res: Response;
    try {
      // The deadline is for the stream to start; a quiet stream then is normal (pings every 15 s).
      res = await fetchWithDeadline(
        `${this.server}${path}`,
        {
          headers: {
            accept: "text/event-stream",
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
          signal,
        },
        this.timeoutMs,
      );
    } catch (err) {
      if (err instanceof HttpTimeoutError) throw err;
      throw new OperationError(
        `cannot reach the slipway server at ${this.server}: ${(err as Error).message}`,
      );
    }
    if (!res.ok || !res.body) throw new OperationError(`${path}: ${res.status} ${await res.text()}`);
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let sep = buf.indexOf("\n\n");
      while (sep >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
        sep = buf.indexOf("\n\n");
      }
    }
  }
}
