// Settings → Repositories in a real Chromium against a real `slipway serve`: an admin adds a repository
// and is shown its webhook URL and secret once (not after a reload, never by GET /api/v1/repos, not in
// the URL or storage), a webhook signed with it is accepted, rotating it gives a new one and the old one
// stops verifying (audited); bad input (git's ext:: helper, a password in the URL, `..`, a bad or taken
// name) is refused on the form and creates nothing; a viewer sees no form and its forged requests are
// refused, as is an admin's request without the CSRF token; hostile text renders inert.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect } from "vitest";
import {
  api,
  cleanupAfterAll,
  makeRepo,
  pingPayload,
  type Server,
  sign,
  tempDir,
  test,
} from "../server/helpers.js";
import { type Session, signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

async function token(server: Server, name: string, role: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name, role });
  expect(r.status).toBe(201);
  return r.body.token;
}

/** A ping to the repository's own webhook URL, signed with `secret`: the server's status. */
async function ping(url: string, secret: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "ping",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": sign(secret, body),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function addThroughForm(s: Session, fields: { url: string; name?: string }): Promise<void> {
  await s.page.fill("[data-testid=add-repo] input[name=url]", fields.url);
  await s.page.fill("[data-testid=add-repo] input[name=name]", fields.name ?? "");
  await s.page.click("[data-testid=add-repo] button[type=submit]");
}

/** The form's refusal after a submit (the previous one is cleared when the request starts). */
async function refusal(s: Session): Promise<string> {
  await s.page.waitForSelector("[data-testid=add-repo] button[type=submit]:not([disabled])");
  return (await s.page.textContent("[data-testid=add-repo-error]")) ?? "";
}

async function repoNames(server: Server): Promise<string[]> {
  return (await api<{ repos: { name: string }[] }>(server, "GET", "/api/v1/repos")).body.repos.map(
    (r) => r.name,
  );
}

/** What could run code on the page: script-like elements and on* attributes. */
async function active(s: Session): Promise<string[]> {
  return (await s.page.evaluate(`[...document.querySelectorAll("body *")].flatMap((e) => [
    ...(["SCRIPT", "IMG", "SVG", "IFRAME", "OBJECT", "EMBED"].includes(e.tagName.toUpperCase()) ? [e.outerHTML] : []),
    ...[...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => e.tagName + " " + a.name),
  ])`)) as string[];
}

describe("settings: repositories", { concurrent: true, timeout: 240_000 }, () => {
  test("an admin adds a repository and sees its webhook secret once; a webhook signed with it is accepted; rotating it retires the old one", async ({
    h,
  }) => {
    const repo = makeRepo({ "README.md": "hello\n" });
    const server = await h.startServer();
    const s = await signIn(browser(), server, server.token);
    await s.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await s.page.goto(`${server.url}/settings/repos`);
    await s.page.waitForSelector("[data-testid=settings-repos]");
    await addThroughForm(s, { url: repo.dir, name: "acme/web" });
    await s.page.waitForSelector("[data-testid=webhook-secret]");
    const secret = await s.page.inputValue("[data-testid=secret-value]");
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const hookUrl = (await s.page.textContent("[data-testid=webhook-url]")) ?? "";
    expect(hookUrl).toBe(`${server.url}/hooks/github/acme/web`);
    expect(await s.page.textContent("[data-testid=webhook-secret]")).toContain("you will not see it again");
    // The copy button puts it on the clipboard.
    await s.page.click("[data-action=copy-secret]");
    await s.page.waitForSelector("[data-testid=copied]:has-text('Copied')");
    expect(await s.page.evaluate("navigator.clipboard.readText()")).toBe(secret);
    // The new repository is listed (from a GET that does not hold the secret).
    await s.page.waitForSelector("[data-testid=settings-repos] td:has-text('acme/web')");
    // Nowhere but the page's memory: not the URL, storage, cookies, nor any GET of the API.
    const kept = (await s.page.evaluate(
      "JSON.stringify([location.href, { ...localStorage }, { ...sessionStorage }, document.cookie, history.state])",
    )) as string;
    expect(kept).not.toContain(secret);
    for (const path of ["/api/v1/repos", "/api/v1/repos/acme/web"]) {
      const r = await api(server, "GET", path);
      expect(r.status).toBe(200);
      expect(JSON.stringify(r.body)).not.toContain(secret);
      expect(JSON.stringify(r.body)).not.toMatch(/webhookSecret/i);
    }
    // The server's stored form is not the secret either (sealed under the master key).
    const db = new Database(join(server.dataDir, "slipway.db"), { readonly: true });
    expect(JSON.stringify(db.prepare("SELECT * FROM repos").all())).not.toContain(secret);

    // A webhook signed with it is accepted; with another key refused.
    const body = JSON.stringify(pingPayload(repo, "acme/web"));
    expect(await ping(hookUrl, secret, body)).toBeLessThan(300);
    expect(await ping(hookUrl, "not-the-secret", body)).toBe(401);

    // A reload loses it: the page shows the repository, not the secret.
    await s.page.reload();
    await s.page.waitForSelector("[data-testid=settings-repos] td:has-text('acme/web')");
    expect(await s.page.locator("[data-testid=webhook-secret]").count()).toBe(0);
    expect(await s.page.content()).not.toContain(secret);

    // Rotating takes a confirmation, then shows the new secret once; the old one stops verifying.
    await s.page.click("[data-rotate='acme/web'] [data-action=rotate-secret]");
    expect(await s.page.locator("[data-testid=webhook-secret]").count()).toBe(0);
    await s.page.click("[data-rotate='acme/web'] [data-action=confirm-rotate]");
    await s.page.waitForSelector("[data-testid=webhook-secret]:has-text('New webhook secret')");
    const rotated = await s.page.inputValue("[data-testid=secret-value]");
    expect(rotated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(rotated).not.toBe(secret);
    expect(await ping(hookUrl, secret, body)).toBe(401);
    expect(await ping(hookUrl, rotated, body)).toBeLessThan(300);
    expect(JSON.stringify((await api(server, "GET", "/api/v1/repos")).body)).not.toContain(rotated);
    const audit = db
      .prepare(
        "SELECT actor, action, subject, detail_json AS detail FROM audit_log WHERE action LIKE 'repo.%' ORDER BY id",
      )
      .all() as { actor: string; action: string; subject: string; detail: string }[];
    // The form's addition and the rotation, each by the signed-in admin; neither secret in either entry.
    expect(audit).toEqual([
      expect.objectContaining({ actor: "admin", action: "repo.add", subject: "acme/web" }),
      expect.objectContaining({ actor: "admin", action: "repo.webhook-secret.rotate", subject: "acme/web" }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(rotated);
    expect(JSON.stringify(audit)).not.toContain(secret);
    db.close();
    // "I have copied it" puts it away.
    await s.page.click("[data-action=secret-done]");
    expect(await s.page.locator("[data-testid=webhook-secret]").count()).toBe(0);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  test("bad input is refused on the form and creates nothing", async ({ h }) => {
    const repo = makeRepo({ "README.md": "hello\n" });
    const server = await h.startServer();
    const marker = join(tempDir("slipway-ext-"), "pwned");
    const s = await signIn(browser(), server, server.token);
    await s.page.goto(`${server.url}/settings/repos`);
    await s.page.waitForSelector("[data-testid=add-repo]");
    const cases: [{ url: string; name?: string }, string][] = [
      [{ url: `ext::sh -c touch% ${marker}`, name: "acme/ext" }, "remote-helper forms"],
      [{ url: `ext::sh -c "touch ${marker}"`, name: "acme/ext2" }, "remote-helper forms"],
      [{ url: "fd::3", name: "acme/fd" }, "remote-helper forms"],
      [{ url: "https://alice:hunter2@git.example.com/acme/app.git" }, "must not hold a password"],
      [{ url: `${repo.dir}/../app`, name: "acme/dots" }, "'..' segments"],
      [{ url: "file:///etc/../etc", name: "acme/file-dots" }, "'..' segments"],
      [{ url: "file://other.example/share/app.git", name: "acme/unc" }, "a path on this server"],
      [{ url: "gopher://example.com/app", name: "acme/gopher" }, "scheme gopher:// is not allowed"],
      [{ url: "relative/app", name: "acme/rel" }, "must be absolute"],
      [{ url: "javascript:alert(1)", name: "acme/js" }, "use user@host:path"],
      [{ url: "--upload-pack=touch /tmp/x", name: "acme/opt" }, "must not be empty, start with '-'"],
      [{ url: repo.dir, name: "../evil" }, "invalid repository name"],
      [{ url: repo.dir, name: "acme/.." }, "invalid repository name"],
      [{ url: repo.dir, name: "a/b/c" }, "invalid repository name"],
      [{ url: join(tempDir("slipway-none-"), "missing"), name: "acme/missing" }, "cannot clone"],
    ];
    for (const [fields, expected] of cases) {
      await addThroughForm(s, fields);
      expect(await refusal(s), JSON.stringify(fields)).toContain(expected);
      expect(await s.page.locator("[data-testid=webhook-secret]").count()).toBe(0);
    }
    expect(await repoNames(server)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    // A taken name: refused, the first one unchanged.
    await addThroughForm(s, { url: repo.dir, name: "acme/app" });
    await s.page.waitForSelector("[data-testid=webhook-secret]");
    await s.page.click("[data-action=secret-done]");
    const other = makeRepo({ "OTHER.md": "x\n" });
    await addThroughForm(s, { url: other.dir, name: "acme/app" });
    expect(await refusal(s)).toContain("repository 'acme/app' already exists");
    expect(await s.page.locator("[data-testid=webhook-secret]").count()).toBe(0);
    const listed = (await api(server, "GET", "/api/v1/repos")).body.repos as { name: string; url: string }[];
    expect(listed.map((r) => [r.name, r.url])).toEqual([["acme/app", repo.dir]]);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  test("a viewer sees no form and its forged requests are refused; an admin's request without the CSRF token too", async ({
    h,
  }) => {
    const repo = makeRepo({ "README.md": "hello\n" });
    const server = await h.startServer();
    const added = await api<{ webhookSecret: string }>(server, "POST", "/api/v1/repos", {
      url: repo.dir,
      name: "acme/ro",
    });
    expect(added.status).toBe(201);
    const hookUrl = `${server.url}/hooks/github/acme/ro`;
    const body = JSON.stringify(pingPayload(repo, "acme/ro"));
    const viewer = await token(server, "watcher", "viewer");
    const developer = await token(server, "dev", "developer");

    for (const [who, t] of [
      ["viewer", viewer],
      ["developer", developer],
    ] as const) {
      const v = await signIn(browser(), server, t);
      await v.page.goto(`${server.url}/settings/repos`);
      await v.page.waitForSelector("[data-testid=settings-repos] td:has-text('acme/ro')");
      expect(await v.page.locator("[data-testid=add-repo]").count(), who).toBe(0);
      expect(await v.page.locator("[data-action=rotate-secret]").count(), who).toBe(0);
      // Forged from the page (right Origin, right CSRF token): the role check refuses both.
      const forged = await v.page.evaluate(async (url) => {
        const s = (await (await fetch("/api/v1/session")).json()) as { csrf: string };
        const post = (path: string, b: unknown) =>
          fetch(path, {
            method: "POST",
            headers: { "content-type": "application/json", "x-csrf-token": s.csrf },
            body: JSON.stringify(b),
          }).then(async (r) => ({ status: r.status, text: await r.text() }));
        return [
          await post("/api/v1/repos", { url, name: "acme/forged" }),
          await post("/api/v1/repos/acme/ro/webhook-secret", {}),
        ];
      }, repo.dir);
      for (const f of forged) {
        expect(f.status, who).toBe(403);
        expect(f.text).toContain("this needs the admin role");
        expect(f.text).not.toMatch(/webhookSecret/);
      }
      await v.context.close();
    }

    // An admin's session cookie alone (no CSRF token, as a cross-site form would send) is refused.
    const a = await signIn(browser(), server, server.token);
    await a.page.goto(`${server.url}/settings/repos`);
    await a.page.waitForSelector("[data-testid=add-repo]");
    const bare = await a.page.evaluate(async (url) => {
      const post = (path: string, b: unknown) =>
        fetch(path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(b),
        }).then((r) => r.status);
      return [
        await post("/api/v1/repos", { url, name: "acme/csrf" }),
        await post("/api/v1/repos/acme/ro/webhook-secret", {}),
      ];
    }, repo.dir);
    expect(bare).toEqual([403, 403]);
    expect(await repoNames(server)).toEqual(["acme/ro"]);
    // Nothing was rotated: the first secret still verifies.
    expect(await ping(hookUrl, added.body.webhookSecret, body)).toBeLessThan(300);
    await a.context.close();
  });

  test("a hostile repository URL and name render inert", async ({ h }) => {
    const repo = makeRepo({ "README.md": "hello\n" });
    // A real repository at a path holding markup: a valid URL, shown in the list.
    const hostile = join(tempDir("slipway-xss-"), "<img src=x onerror=alert('url')>");
    execFileSync("git", ["clone", "-q", "--bare", repo.dir, hostile]);
    const server = await h.startServer();
    const s = await signIn(browser(), server, server.token);
    await s.page.goto(`${server.url}/settings/repos`);
    await s.page.waitForSelector("[data-testid=add-repo]");
    await addThroughForm(s, { url: hostile, name: "acme/xss" });
    await s.page.waitForSelector("[data-testid=webhook-secret]");
    await s.page.waitForSelector("[data-testid=settings-repos] td:has-text(\"onerror=alert('url')\")");
    // A hostile name and a javascript: URL: refused, the refusal shown as text.
    await addThroughForm(s, { url: repo.dir, name: "<img src=x onerror=alert('name')>" });
    expect(await refusal(s)).toContain("<img src=x onerror=alert('name')>");
    await addThroughForm(s, { url: "javascript:alert(document.domain)", name: "acme/js" });
    expect(await refusal(s)).toContain('"javascript:alert(document.domain)"');
    expect(await active(s)).toEqual([]);
    const hrefs = (await s.page.evaluate(
      '[...document.querySelectorAll("a[href]")].map((a) => a.href)',
    )) as string[];
    for (const href of hrefs) expect(href.startsWith(`${server.url}/`)).toBe(true);
    expect(await repoNames(server)).toEqual(["acme/xss"]);
    expect(s.dialogs).toEqual([]);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });
});
