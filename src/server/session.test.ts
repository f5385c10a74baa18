// Dashboard sessions on a real store (SQLite and PostgreSQL): a token becomes an HttpOnly SameSite=Strict
// cookie whose session is the token's identity and role; a state-changing request with the cookie needs
// the session's CSRF token and this server's Origin; revoking the token or signing out ends the session.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";
import { CiService } from "../ci/index.js";
import { createApp } from "./app.js";
import { createMetrics } from "./metrics.js";

const origin = "http://dash.test";

describe.each(await testBackends())("dashboard sessions (%s)", (backend) => {
  const db = useStore(backend);
  const appOf = () => {
    const ci = new CiService({ store: db.store, dataDir: db.database.dataDir });
    return createApp({ ci, metrics: createMetrics(ci), isReady: () => true, log: () => {} });
  };

  async function signIn(app: ReturnType<typeof appOf>, token: string) {
    const res = await app.request("http://dash.test/api/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json", origin, host: "dash.test" },
      body: JSON.stringify({ token }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toMatch(/Secure/);
    const body = (await res.json()) as { csrf: string; identity: { role: string } };
    return { cookie: cookie.split(";")[0], csrf: body.csrf, role: body.identity.role };
  }

  const call = (
    app: ReturnType<typeof appOf>,
    method: string,
    path: string,
    headers: Record<string, string>,
  ) => app.request(`http://dash.test${path}`, { method, headers: { host: "dash.test", ...headers } });

  it("maps the cookie to the token's role and checks CSRF token and Origin on changes", async () => {
    const app = appOf();
    const viewer = await db.store.tokens.create("viewer-web", "viewer");
    const admin = await db.store.tokens.create("admin-web", "admin");
    const v = await signIn(app, viewer.token);
    const a = await signIn(app, admin.token);
    expect(v.role).toBe("viewer");
    // Reading works with the cookie alone.
    expect((await call(app, "GET", "/api/v1/repos", { cookie: v.cookie })).status).toBe(200);
    expect((await call(app, "GET", "/api/v1/tokens", { cookie: v.cookie })).status).toBe(403);
    expect((await call(app, "GET", "/api/v1/tokens", { cookie: a.cookie })).status).toBe(200);
    // A change: refused without the CSRF token, with another session's, and from another origin.
    const revoke = `/api/v1/tokens/${viewer.id}`;
    expect((await call(app, "DELETE", revoke, { cookie: a.cookie, origin })).status).toBe(403);
    expect(
      (await call(app, "DELETE", revoke, { cookie: a.cookie, origin, "x-csrf-token": v.csrf })).status,
    ).toBe(403);
    expect(
      (
        await call(app, "DELETE", revoke, {
          cookie: a.cookie,
          origin: "http://evil.test",
          "x-csrf-token": a.csrf,
        })
      ).status,
    ).toBe(403);
    expect((await call(app, "DELETE", revoke, { cookie: a.cookie, "x-csrf-token": a.csrf })).status).toBe(
      403,
    );
    // A viewer with every check passed still lacks the role.
    expect(
      (
        await call(app, "DELETE", `/api/v1/tokens/${admin.id}`, {
          cookie: v.cookie,
          origin,
          "x-csrf-token": v.csrf,
        })
      ).status,
    ).toBe(403);
    expect((await db.store.tokens.list()).find((t) => t.id === viewer.id)?.revokedAt).toBeNull();
    // All checks passed by an admin: done — and the revoked token's session ends with it.
    expect(
      (await call(app, "DELETE", revoke, { cookie: a.cookie, origin, "x-csrf-token": a.csrf })).status,
    ).toBe(200);
    expect((await call(app, "GET", "/api/v1/repos", { cookie: v.cookie })).status).toBe(401);
  });

  it("refuses a sign-in from another origin, an unknown token, and ends a session on sign-out", async () => {
    const app = appOf();
    const t = await db.store.tokens.create("dev-web", "developer");
    const cross = await app.request("http://dash.test/api/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.test", host: "dash.test" },
      body: JSON.stringify({ token: t.token }),
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get("set-cookie")).toBeNull();
    const bad = await app.request("http://dash.test/api/v1/session", {
      method: "POST",
      headers: { "content-type": "application/json", origin, host: "dash.test" },
      body: JSON.stringify({ token: "slw_not-a-token" }),
    });
    expect(bad.status).toBe(401);
    const s = await signIn(app, t.token);
    // Only the session id's hash is stored.
    const rows = await db.store.db.selectFrom("sessions").select("hash").execute();
    expect(rows.some((r) => s.cookie.includes(r.hash))).toBe(false);
    expect((await call(app, "GET", "/api/v1/session", { cookie: s.cookie })).status).toBe(200);
    expect((await call(app, "DELETE", "/api/v1/session", { cookie: s.cookie, origin })).status).toBe(403);
    expect(
      (await call(app, "DELETE", "/api/v1/session", { cookie: s.cookie, origin, "x-csrf-token": s.csrf }))
        .status,
    ).toBe(204);
    expect((await call(app, "GET", "/api/v1/session", { cookie: s.cookie })).status).toBe(401);
    expect((await call(app, "GET", "/api/v1/repos", { cookie: s.cookie })).status).toBe(401);
  });

  it("expires sessions and marks the cookie Secure behind TLS", async () => {
    const t = await db.store.tokens.create("exp-web", "viewer");
    const id = await db.store.sessions.create(t.id, 1000, 1_000);
    expect(await db.store.sessions.verify(id, 1_500)).toMatchObject({ name: "exp-web" });
    expect(await db.store.sessions.verify(id, 2_000)).toBeNull();
    const app = appOf();
    const res = await app.request("http://dash.test/api/v1/session", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin,
        host: "dash.test",
        "x-forwarded-proto": "https",
      },
      body: JSON.stringify({ token: t.token }),
    });
    expect(res.headers.get("set-cookie")).toMatch(/; Secure/);
  });

  it("serves the dashboard's pages with a strict Content-Security-Policy", async () => {
    const res = await appOf().request("http://dash.test/runs/1/jobs/2");
    // Built or not, the page answer carries the headers (the e2e tests load the built page).
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
