// What every route module shares: the request context type, the error body, bearer tokens, bounded
// body reading, and the role and runner checks. Routes are mounted by `createApp` (app.ts).
import type { Context, MiddlewareHandler } from "hono";
import { UserError } from "../lib/errors.js";
import { type Role, roleAllows, type Runner, type Store, type TokenIdentity } from "../store/index.js";
import { WebhookError } from "../triggers/index.js";

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

export function problem(c: Context, status: number, message: string) {
  return c.json({ error: message }, status as 400);
}

export function bearer(c: Context): string | undefined {
  const h = c.req.header("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m?.[1]?.trim();
}

/** The request body, refused with 413 as soon as it passes `limit` bytes (declared or streamed). */
export async function readBody(c: Context, limit: number): Promise<Buffer> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw new WebhookError(413, `the body is larger than ${limit} bytes`);
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new WebhookError(413, `the body is larger than ${limit} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
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

export function createGuards(store: Store): Guards {
  const requireRole =
    (role: Role): MiddlewareHandler<Env> =>
    async (c, next) => {
      const token = bearer(c);
      const identity = token ? await store.tokens.verify(token) : null;
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
