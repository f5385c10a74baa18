// The forge routes on a real store: settings read by any role and changed by admins only; the token set
// and removed by admins, stored sealed and never answered; bad input refused with what is wrong and
// nothing changed; badges private unless the repository is public, unknown ones answered like private.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createNetServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CiService } from "../ci/index.js";
import { agentPaths } from "../deploy/index.js";
import { MasterKey } from "../secrets/index.js";
import { openStore, type Store } from "../store/index.js";
import { createApp } from "./app.js";
import { createMetrics } from "./metrics.js";

describe("forge routes", () => {
  let dir: string;
  let store: Store;
  let app: ReturnType<typeof createApp>;
  let admin: string;
  let viewer: string;
  const token = "glpat-routesTestToken-0123456789";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-forge-routes-"));
    store = await openStore({ dataDir: dir });
    const ci = new CiService({ store, dataDir: dir });
    const masterKey = new MasterKey(randomBytes(32), "test");
    app = createApp({ ci, metrics: createMetrics(ci), masterKey, isReady: () => true });
    admin = (await store.tokens.create("admin", "admin")).token;
    viewer = (await store.tokens.create("watcher", "viewer")).token;
    await store.repos.create({ name: "acme/app", url: "https://github.com/acme/app.git" });
    await store.repos.create({ name: "acme/forge", url: "git@gitlab.example:acme/forge.git" });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, auth: string | null, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      text,
      body: res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
    };
  };

  it("derives GitHub from a github.com remote; other hosts must say which forge", async () => {
    const gh = await call("GET", "/api/v1/repos/acme/app/forge", viewer);
    expect(gh.status).toBe(200);
    expect(gh.body.forge).toMatchObject({
      target: { provider: "github", apiUrl: "https://api.github.com", project: "acme/app" },
      hasToken: false,
      token: null,
      reason: "no forge token: nothing is reported",
    });
    // A repository named …/forge is still a repository.
    const gl = await call("GET", "/api/v1/repos/acme/forge/forge", viewer);
    expect(gl.body.forge).toMatchObject({
      target: null,
      reason: expect.stringContaining("gitlab.example is not github.com"),
    });
    const set = await call("PATCH", "/api/v1/repos/acme/forge/forge", admin, { provider: "gitlab" });
    expect(set.body.forge.target).toEqual({
      provider: "gitlab",
      apiUrl: "https://gitlab.example/api/v4",
      project: "acme/forge",
    });
  });

  it("sets the token for admins only and never answers it", async () => {
    expect((await call("PUT", "/api/v1/repos/acme/app/forge/token", viewer, { token })).status).toBe(403);
    expect((await call("PATCH", "/api/v1/repos/acme/app/forge", viewer, { public: true })).status).toBe(403);
    const put = await call("PUT", "/api/v1/repos/acme/app/forge/token", admin, { token });
    expect(put.status).toBe(200);
    expect(put.body.forge).toMatchObject({ hasToken: true, token: "[REDACTED]", reason: null });
    expect(put.text).not.toContain(token);
    const read = await call("GET", "/api/v1/repos/acme/app/forge", viewer);
    expect(read.text).not.toContain(token);
    const rows = await store.db.selectFrom("forge_settings").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token);
    const audit = await store.audit.list({ action: "forge.update" });
    expect(audit.map((a) => a.detail)).toContainEqual({ token: "set" });
    expect(JSON.stringify(audit)).not.toContain(token);
    const removed = await call("DELETE", "/api/v1/repos/acme/app/forge/token", admin);
    expect(removed.body.forge).toMatchObject({ hasToken: false, token: null });
  });

  it.each([
    [{ provider: "bitbucket" }, 'invalid forge "bitbucket"'],
    [{ apiUrl: "ftp://x" }, "invalid forge API URL"],
    [{ apiUrl: "https://user:pw@git.example/api/v1" }, "without credentials"],
    [{ project: "../etc" }, "invalid forge project"],
    [{ public: "yes" }, "'public' must be true or false"],
    [{ token: "x" }, "the token has its own route"],
    [{}, "say what to change"],
  ])("refuses %j with a clear error and changes nothing", async (body, message) => {
    const before = await call("GET", "/api/v1/repos/acme/app/forge", admin);
    const r = await call("PATCH", "/api/v1/repos/acme/app/forge", admin, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toContain(message);
    expect((await call("GET", "/api/v1/repos/acme/app/forge", admin)).body).toEqual(before.body);
  });

  it("refuses an empty token or one with more than the token in it", async () => {
    for (const bad of ["", "a\nb", 42]) {
      const r = await call("PUT", "/api/v1/repos/acme/app/forge/token", admin, { token: bad });
      expect(r.status).toBe(400);
    }
    expect((await call("GET", "/api/v1/repos/acme/app/forge", admin)).body.forge.hasToken).toBe(false);
  });

  it("serves badges to a token holder, to anyone once public, and answers private ones like unknown ones", async () => {
    // Without a token (or with a wrong one) a private repository's badge and a missing one look alike.
    const unknown = await call("GET", "/badges/nobody/nothing/ci.svg", null);
    for (const auth of [null, "not-a-token"]) {
      const hidden = await call("GET", "/badges/acme/app/ci.svg", auth);
      expect([hidden.status, hidden.text]).toEqual([404, unknown.text]);
      expect((await call("GET", "/badges/nobody/nothing/ci.svg", auth)).status).toBe(404);
    }
    expect((await call("GET", "/badges/nobody/nothing/ci.svg", viewer)).status).toBe(404);
    await store.deployApps.claim({ app: "api", env: "staging", repo: "acme/app", actor: "admin" });
    expect((await call("GET", "/badges/apps/api/staging.svg", null)).status).toBe(404);
    expect((await call("GET", "/badges/apps/api/staging.svg", viewer)).status).toBe(200);
    const withToken = await call("GET", "/badges/acme/app/ci.svg", viewer);
    expect(withToken.status).toBe(200);
    expect(withToken.text).toContain(">no runs</text>");
    await call("PATCH", "/api/v1/repos/acme/app/forge", admin, { public: true });
    const open = await call("GET", "/badges/acme/app/ci.svg?branch=dev", null);
    expect(open.status).toBe(200);
    // The app badge follows its owning repository's flag.
    await store.deployApps.claim({ app: "web", env: "production", repo: "acme/app", actor: "admin" });
    const appBadge = await call("GET", "/badges/apps/web/production.svg", null);
    expect(appBadge.status).toBe(200);
    expect(appBadge.text).toContain(">not deployed</text>");
    // A name that cannot be an app's is answered as unknown, public repositories or not.
    for (const bad of [
      "/badges/apps/..%2F..%2Fetc/production.svg",
      "/badges/apps/web/..%2Fx.svg",
      "/badges/apps/WEB/production.svg",
    ])
      expect((await call("GET", bad, viewer)).status).toBe(404);
  });

  it("an app badge does not hang on an agent that never answers: unknown, with the last release", async () => {
    const r = await store.releases.create({
      app: "slow",
      env: "production",
      version: "v9.9.9",
      specHash: "x",
      spec: {},
      images: {},
      trigger: "cli",
      actor: "alice",
    });
    await store.releases.finish(r.id, "succeeded");
    await store.deployApps.claim({ app: "slow", env: "production", repo: "acme/app", actor: "admin" });
    const paths = agentPaths(dir, "slow", "production");
    mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    const held: Socket[] = [];
    // Accepts the connection, reads the request, answers nothing.
    const hung = createNetServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => hung.listen(paths.socketPath, resolve));
    try {
      const started = Date.now();
      const res = await call("GET", "/badges/apps/slow/production.svg", viewer);
      const took = Date.now() - started;
      expect(res.status).toBe(200);
      expect(res.text).toContain(">unknown, last v9.9.9</text>");
      expect(held.length).toBeGreaterThan(0);
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(6000);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});
