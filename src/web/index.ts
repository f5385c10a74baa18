// slipway's dashboard, in the browser: one Preact app (htm templates, no build-time JSX) bundled by
// scripts/build.mjs into dist/web/app.js and served by `slipway serve` (server/routes/ui.ts). It reads
// and acts only through the JSON API with the session cookie; the server checks the role of every
// request, the pages only hide what the role cannot do. Invariant: data is rendered as text, or as
// sanitised markup (format.ts safeHtml) — never as raw HTML.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, type Identity, post, setCsrf, whenSignedOut } from "./api.js";
import { html } from "./html.js";
import { AppPage, AppsPage } from "./pages/apps.js";
import { LoginPage } from "./pages/login.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SettingsPage } from "./pages/settings.js";
import { interceptLinks, navigate, useLocation } from "./router.js";

type Session = { identity: Identity; csrf: string };

/** A URL path segment as text; a malformed %-escape stays as it is. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function Page({ path, me }: { path: string; me: Identity }) {
  let m = /^\/runs\/(\d+)(?:\/jobs\/([^/]+))?\/?$/.exec(path);
  if (m) return html`<${RunPage} runId=${Number(m[1])} job=${m[2] ? decode(m[2]) : undefined} me=${me} />`;
  if (path === "/apps" || path === "/apps/") return html`<${AppsPage} />`;
  m = /^\/apps\/([^/]+)\/([^/]+)\/?$/.exec(path);
  if (m) return html`<${AppPage} app=${decode(m[1])} env=${decode(m[2])} me=${me} />`;
  if (path.startsWith("/settings")) return html`<${SettingsPage} path=${path} me=${me} />`;
  if (path === "/" || path === "") return html`<${RunsPage} />`;
  return html`<main><h1>Not found</h1><p>No page at ${path}.</p></main>`;
}

function App() {
  const { path } = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    get<Session>("/api/v1/session")
      .then((s) => {
        setCsrf(s.csrf);
        setSession(s);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setSession(null);
        else throw err;
      });
  }, []);
  useEffect(() => {
    if (session === null && path !== "/login")
      navigate(
        `/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`,
        true,
      );
  }, [session, path]);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null || path === "/login")
    return html`<${LoginPage}
      onSignedIn=${(s: Session) => {
        setCsrf(s.csrf);
        setSession(s);
      }}
    />`;
  const me = session.identity;
  const signOut = async () => {
    await post("/api/v1/session", undefined, "DELETE");
    setSession(null);
  };
  const tab = (href: string, label: string, active: boolean) =>
    html`<a href=${href} class=${active ? "tab active" : "tab"}>${label}</a>`;
  return html`
    <header class="top">
      <a href="/" class="brand">slipway</a>
      <nav>
        ${tab("/", "Runs", path === "/" || path.startsWith("/runs"))}
        ${tab("/apps", "Applications", path.startsWith("/apps"))}
        ${tab("/settings", "Settings", path.startsWith("/settings"))}
      </nav>
      <span class="me" data-testid="me">${me.name} · ${me.role}</span>
      <button type="button" class="link" onClick=${signOut}>Sign out</button>
    </header>
    <${Page} path=${path} me=${me} />
  `;
}

interceptLinks();
render(html`<${App} />`, document.getElementById("app")!);
