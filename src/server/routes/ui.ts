// The dashboard: its pages (one bundled Preact app, dist/web/, served for every page URL), the sign-in
// that turns an API token into a session cookie (session.ts), and one event stream of every run's status
// changes for the runs list. The dashboard reads and acts only through the JSON API (/api/v1/*), so
// every button is checked by the same role guard as the CLI's requests.
//
// Page URLs (linked from notifications and forge statuses — keep them): / (runs), /runs/<id>,
// /runs/<id>/jobs/<jobRowId> (#L<n> for a line), /apps, /apps/<app>/<env>, /settings/..., /login.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import type { CiEvent, CiService } from "../../ci/index.js";
import { NotFoundError, UserError } from "../../lib/errors.js";
import { type Env, type Guards, jsonBody, problem } from "../http.js";
import {
  csrfRefusal,
  csrfTokenFor,
  originAllowed,
  overTls,
  sessionCookie,
  sessionIdOf,
  sessionTtlMs,
} from "../session.js";

export type UiRoutesOptions = {
  ci: CiService;
  guards: Guards;
  publicUrl?: string;
  /** Where the built dashboard is (index.html, app.js, app.css); default: dist/web beside the bundle. */
  webDir?: string;
  /** Status streams open at once (GET /api/v1/events); more are answered 503. */
  maxEventStreams?: number;
};

/**
 * No inline script or style, no eval, nothing from elsewhere: the bundle is the only code that runs,
 * so text that slips into the page as markup still cannot execute.
 */
export const dashboardHeaders: MiddlewareHandler<Env> = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
  xFrameOptions: "DENY",
  strictTransportSecurity: false,
  permissionsPolicy: { camera: [], microphone: [], geolocation: [] },
});

const assetTypes: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};
/** The bundle's files: app.js, app.css, favicon.svg and chunks/<name>-<hash>.js; nothing else is served. */
const assetName = /^(?:chunks\/)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css|svg)$/;

function defaultWebDir(): string {
  // The server's code is in dist/slipway.js or a chunk under dist/chunks/; the dashboard in dist/web/.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [
    join(here, "web"),
    join(here, "..", "web"),
    join(here, "..", "..", "..", "dist", "web"),
  ]) {
    try {
      readFileSync(join(dir, "index.html"));
      return dir;
    } catch {}
  }
  return join(here, "web");
}

export function mountUiRoutes(app: Hono<Env>, o: UiRoutesOptions): void {
  const { ci } = o;
  const store = ci.store;
  const webDir = o.webDir ?? defaultWebDir();
  const files = new Map<string, Buffer>();
  const file = (name: string): Buffer => {
    let body = files.get(name);
    if (!body) {
      try {
        body = readFileSync(join(webDir, name));
      } catch {
        throw new NotFoundError(`the dashboard is not built (no ${name} in ${webDir}): run npm run build`);
      }
      files.set(name, body);
    }
    return body;
  };

  const page = (c: Context) => {
    c.header("Cache-Control", "no-cache");
    return c.body(new Uint8Array(file("index.html")), 200, { "Content-Type": "text/html; charset=utf-8" });
  };
  for (const path of ["/", "/login", "/runs/*", "/apps", "/apps/*", "/settings", "/settings/*"])
    app.get(path, dashboardHeaders, page);
  app.get("/assets/*", dashboardHeaders, (c) => {
    const name = c.req.path.slice("/assets/".length);
    const m = assetName.exec(name);
    if (!m) return problem(c, 404, "no such asset");
    const type = assetTypes[m[1]];
    // Chunks are named by their content's hash: cached for good. The entry points are revalidated.
    c.header(
      "Cache-Control",
      name.startsWith("chunks/") ? "public, max-age=31536000, immutable" : "no-cache",
    );
    return c.body(new Uint8Array(file(name)), 200, { "Content-Type": type });
  });

  // Sign in: an API token in the body (never in a URL), a session cookie back.
  app.post("/api/v1/session", async (c) => {
    // A cross-site page must not sign a visitor in as someone else (login CSRF).
    if (!originAllowed(c, o.publicUrl))
      return problem(c, 403, "cross-origin request refused (the Origin header must name this server)");
    const body = await jsonBody<{ token?: unknown }>(c);
    if (typeof body.token !== "string" || body.token.length > 200)
      throw new UserError("'token' must be an API token (slw_…)");
    const identity = await store.tokens.verify(body.token.trim());
    if (!identity) return problem(c, 401, "this token is unknown or revoked");
    const id = await store.sessions.create(identity.id, sessionTtlMs);
    setCookie(c, sessionCookie, id, {
      httpOnly: true,
      sameSite: "Strict",
      secure: overTls(c, o.publicUrl),
      path: "/",
      maxAge: Math.floor(sessionTtlMs / 1000),
    });
    return c.json({ identity, csrf: csrfTokenFor(id) });
  });
  app.get("/api/v1/session", async (c) => {
    const id = sessionIdOf(c);
    const identity = id ? await store.sessions.verify(id) : null;
    if (!id || !identity) return problem(c, 401, "not signed in");
    return c.json({ identity, csrf: csrfTokenFor(id) });
  });
  app.delete("/api/v1/session", async (c) => {
    const id = sessionIdOf(c);
    if (id) {
      // A cross-site page must not sign a visitor out either.
      const refusal = csrfRefusal(c, id, o.publicUrl);
      if (refusal) return problem(c, 403, refusal);
      await store.sessions.delete(id);
    }
    deleteCookie(c, sessionCookie, { path: "/", secure: overTls(c, o.publicUrl) });
    return c.body(null, 204);
  });

  mountStatusStream(app, o);
}

/**
 * GET /api/v1/events: every run's and job's status changes (no log lines) for the runs list, so one
 * connection serves the page however many runs it shows. A client too slow to keep up gets one
 * `resync` event (re-read the list) instead of a growing queue.
 */
function mountStatusStream(app: Hono<Env>, o: UiRoutesOptions): void {
  const { ci } = o;
  const maxStreams = o.maxEventStreams ?? 256;
  const maxQueued = 1000;
  let open = 0;
  app.get("/api/v1/events", o.guards.requireRole("viewer"), async (c) => {
    if (open >= maxStreams)
      return problem(c, 503, `too many event streams open (${maxStreams}); try again later`);
    open++;
    return streamSSE(c, async (stream) => {
      const queue: CiEvent[] = [];
      let overflowed = false;
      let wake: (() => void) | undefined;
      const onEvent = (e: CiEvent) => {
        if (e.type !== "run" && e.type !== "job") return;
        if (queue.length >= maxQueued) {
          overflowed = true;
          queue.length = 0;
        } else if (!overflowed) queue.push(e);
        wake?.();
      };
      ci.events.on("event", onEvent);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: "hello", data: "{}" });
        while (!closed) {
          if (overflowed) {
            overflowed = false;
            await stream.writeSSE({ event: "resync", data: JSON.stringify({ type: "resync" }) });
          }
          while (queue.length) {
            const e = queue.shift()!;
            await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000);
          });
          wake = undefined;
          if (!queue.length && !closed && !overflowed) await stream.writeSSE({ event: "ping", data: "{}" });
        }
      } finally {
        ci.events.off("event", onEvent);
        open--;
      }
    });
  });
}
