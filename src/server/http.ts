// What every route module shares: the request context type, the error body, bearer tokens, bounded
// body reading, and the role and runner checks. Routes are mounted by `createApp` (app.ts).
import { homedir, tmpdir } from "node:os";
import type { Context, MiddlewareHandler } from "hono";
import { problemBody, UserError } from "../lib/errors.js";
import { type Role, roleAllows, type Runner, type Store, type TokenIdentity } from "../store/index.js";
import { WebhookError } from "../triggers/index.js";
import { csrfRefusal, sessionIdOf } from "./session.js";

export type Env = { Variables: { identity: TokenIdentity; runner: Runner } };

/** The role check for API routes and the token check for the runner protocol. */
export type Guards = {
  requireRole: (role: Role) => MiddlewareHandler<Env>;
  requireRunner: MiddlewareHandler<Env>;
};

/** A whole number in [1, max] from a query parameter, or `fallback` when it is absent. */
export function queryInt(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UserError(`'${name}' must be a whole number from 1 to ${max}, got '${value}'`);
  return n;
}

/**
 * An error answer in the one wire encoding (lib/errors.ts `problemBody`): `{error: message}`, with a
 * user error's problems. `err` is the error answered for, or just the message.
 */
export function problem(c: Context, status: number, err: unknown, message?: string) {
  return c.json(problemBody(err, message), status as 400);
}

export function bearer(c: Context): string | undefined {
  const h = c.req.header("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m?.[1]?.trim();
}

/** What `readBody` does with the bytes besides keeping them: e.g. feed an HMAC as they arrive. */
export type BodySink = {
  onChunk?: (chunk: Uint8Array) => void;
  /** False: the bytes are only fed to `onChunk` and dropped (the result is empty). Default true. */
  keep?: boolean;
};

/** The declared Content-Length, or undefined when the body is chunked (or the header is malformed). */
export function declaredLength(c: Context): number | undefined {
  const value = c.req.header("content-length");
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

/**
 * The request body, refused with 413 as soon as it passes `limit` bytes (declared or streamed). With a
 * declared length the buffer is allocated once at that size, so a body never costs twice its size.
 */
export async function readBody(c: Context, limit: number, sink: BodySink = {}): Promise<Buffer> {
  const declared = declaredLength(c);
  if (declared !== undefined && declared > limit)
    throw new WebhookError(413, `the body is larger than ${limit} bytes`);
  const keep = sink.keep ?? true;
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const into = keep && declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit || (into !== undefined && size > into.length)) {
      await reader.cancel();
      throw new WebhookError(413, `the body is larger than ${limit} bytes`);
    }
    sink.onChunk?.(value);
    if (!keep) continue;
    if (into !== undefined) into.set(value, size - value.byteLength);
    else chunks.push(Buffer.from(value));
  }
  if (!keep) return Buffer.alloc(0);
  return into !== undefined ? into.subarray(0, size) : Buffer.concat(chunks);
}

/**
 * Bytes that requests may hold in memory at once, over the whole server: a request takes its share
 * before its body is read and gives it back when it is answered. When the budget is spent the
 * request is refused at once (503 with Retry-After), so concurrent large bodies cannot grow the
 * server's memory past the budget.
 */
export class ByteBudget {
  readonly capacity: number;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get inUse(): number {
    return this.used;
  }

  /** A release function, or undefined when `bytes` do not fit now. */
  tryTake(bytes: number): (() => void) | undefined {
    if (bytes > this.capacity || this.used + bytes > this.capacity) return undefined;
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }
}

export async function jsonBody<T>(c: Context): Promise<T> {
  const text = (await readBody(c, 10 * 1024 * 1024)).toString("utf8");
  if (!text.trim()) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new UserError(`malformed JSON: ${(err as Error).message}`);
  }
}

/**
 * `publicUrl`: the URL the server is reached at behind a proxy, an allowed Origin for the dashboard's
 * cookie-authenticated requests (session.ts).
 */
export function createGuards(store: Store, o: { publicUrl?: string } = {}): Guards {
  /** The caller: by bearer token, else by the dashboard's session cookie (with its CSRF checks). */
  const identify = async (c: Context): Promise<TokenIdentity | Response | null> => {
    const token = bearer(c);
    if (token) return store.tokens.verify(token);
    const session = sessionIdOf(c);
    if (!session) return null;
    const identity = await store.sessions.verify(session);
    if (!identity) return null;
    const refusal = csrfRefusal(c, session, o.publicUrl);
    return refusal ? problem(c, 403, refusal) : identity;
  };

  const requireRole =
    (role: Role): MiddlewareHandler<Env> =>
    async (c, next) => {
      const identity = await identify(c);
      if (identity instanceof Response) return identity;
      if (!identity) return problem(c, 401, "a valid API token is required (Authorization: Bearer …)");
      if (!roleAllows(identity.role, role))
        return problem(c, 403, `this needs the ${role} role; the token has ${identity.role}`);
      c.set("identity", identity);
      await next();
    };

  const requireRunner: MiddlewareHandler<Env> = async (c, next) => {
    const token = bearer(c);
    const runner = token ? await store.runners.getByToken(token) : null;
    // A disabled runner is refused like an unknown one: it must not learn or touch anything.
    if (!runner || runner.disabledAt !== null) return problem(c, 401, "a valid runner token is required");
    c.set("runner", runner);
    await store.runners.heartbeat(runner.id);
    await next();
  };
  return { requireRole, requireRunner };
}

/**
 * An operation's message as a client may see it: the server's data, temporary and home directories
 * named, not spelled out (a git error quotes the mirror's path, for one).
 */
export function withoutLocalPaths(message: string, dataDir: string): string {
  let out = message;
  for (const [dir, name] of [
    [dataDir, "<data-dir>"],
    [tmpdir(), "<tmp>"],
    [homedir(), "<home>"],
  ] as const) {
    if (dir && dir !== "/") out = out.split(dir).join(name);
  }
  return out;
}
