// Cookie sessions of the dashboard. A browser signs in once with an API token (POST /api/v1/session);
// it then holds only a random session id in an HttpOnly, SameSite=Strict cookie, stored server-side as a
// hash with an expiry (store/sessions.ts). A session is its token's identity and role, so every route's
// role check applies unchanged.
//
// Cross-site request forgery: a request authenticated by the cookie that changes state must carry
// (1) the session's CSRF token in the X-CSRF-Token header — derived from the session id, which a
// cross-site page cannot read — and (2) an Origin header naming this server. SameSite=Strict already
// keeps the cookie off cross-site requests; the two checks hold when it does not (old browsers, a
// sibling site on the same registrable domain). Bearer-token requests carry no ambient credential and
// are not checked.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";

export const sessionCookie = "slipway_session";
export const csrfHeader = "x-csrf-token";
/** How long a dashboard session lasts (no sliding renewal: sign in again after). */
export const sessionTtlMs = 12 * 60 * 60 * 1000;

export function sessionIdOf(c: Context): string | undefined {
  return getCookie(c, sessionCookie) || undefined;
}

/** The session's CSRF token: a hash of its id under a label, so it is stored nowhere and unguessable. */
export function csrfTokenFor(sessionId: string): string {
  return createHash("sha256").update(`slipway-csrf\0${sessionId}`).digest("base64url");
}

export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}

/**
 * Whether the request's Origin names this server: the host it was addressed to (Host header), or the
 * host of the public URL it is reached at behind a proxy. A request without an Origin is refused: every
 * browser sends one on a cross-origin or non-GET fetch.
 */
export function originAllowed(c: Context, publicUrl: string | undefined): boolean {
  const origin = c.req.header("origin");
  if (!origin || origin === "null") return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const allowed = new Set<string>();
  const own = c.req.header("host");
  if (own) allowed.add(own.toLowerCase());
  if (publicUrl) allowed.add(new URL(publicUrl).host.toLowerCase());
  return allowed.has(host.toLowerCase());
}

/** Why a cookie-authenticated state change is refused, or undefined when its CSRF checks pass. */
export function csrfRefusal(
  c: Context,
  sessionId: string,
  publicUrl: string | undefined,
): string | undefined {
  if (isSafeMethod(c.req.method)) return undefined;
  if (!originAllowed(c, publicUrl))
    return "cross-origin request refused (the Origin header must name this server)";
  const sent = c.req.header(csrfHeader) ?? "";
  const want = csrfTokenFor(sessionId);
  const a = Buffer.from(sent);
  const b = Buffer.from(want);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return "a valid X-CSRF-Token header is required with a session cookie";
  return undefined;
}

/**
 * Whether the browser reached the server over TLS: the request's own scheme, a public URL that is
 * https, or a proxy's X-Forwarded-Proto. The last is trusted from anyone because it only adds the
 * Secure attribute: a client that fakes it merely gets a cookie its plain-http browser will not send.
 */
export function overTls(c: Context, publicUrl: string | undefined): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  if (publicUrl?.startsWith("https:")) return true;
  return (c.req.header("x-forwarded-proto") ?? "").split(",")[0].trim().toLowerCase() === "https";
}
