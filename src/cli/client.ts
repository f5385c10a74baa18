// The API client of the CLI: server URL and token from flags, then SLIPWAY_SERVER / SLIPWAY_TOKEN,
// then the config file written by `slipway login` (~/.config/slipway/config.json, mode 0600).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { OperationError, UserError } from "../lib/errors.js";

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
  constructor(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env) {
    const config = readConfig(env);
    const server = flags.server ?? env.SLIPWAY_SERVER ?? config.server;
    if (!server)
      throw new UserError("no server: pass --server URL, set SLIPWAY_SERVER or run `slipway login`");
    this.server = server.replace(/\/+$/, "");
    this.token = flags.token ?? env.SLIPWAY_TOKEN ?? config.token;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new OperationError(
        `cannot reach the slipway server at ${this.server}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { error: text };
    }
    if (!res.ok) {
      const message = (data as { error?: string }).error ?? `${res.status} ${res.statusText}`;
      if (res.status === 401 || res.status === 403 || res.status >= 500)
        throw new OperationError(`${method} ${path}: ${message}`);
      throw new UserError(message);
    }
    return data as T;
  }

  /** Server-Sent Events of a path, one parsed event at a time, until the stream ends. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<{ event: string; data: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.server}${path}`, {
        headers: {
          accept: "text/event-stream",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        signal,
      });
    } catch (err) {
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
