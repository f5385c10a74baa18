// Sign in with an API token (`slipway token create`, or the admin token the server wrote at its first
// start): the server answers with an HttpOnly session cookie; the token is not kept by the page.
import { useState } from "preact/hooks";
import { ApiError, type Identity, post } from "../api.js";
import { html } from "../html.js";
import { navigate } from "../router.js";

export function LoginPage({ onSignedIn }: { onSignedIn: (s: { identity: Identity; csrf: string }) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const token = (form.elements.namedItem("token") as HTMLInputElement).value.trim();
    setBusy(true);
    setError("");
    try {
      const s = await post<{ identity: Identity; csrf: string }>("/api/v1/session", { token });
      form.reset();
      onSignedIn(s);
      const next = new URLSearchParams(location.search).get("next") ?? "/";
      // Only a path on this server: never an absolute or protocol-relative URL from the query.
      navigate(/^\/(?!\/)/.test(next) && !next.startsWith("/login") ? next : "/", true);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="login">
      <h1>slipway</h1>
      <form onSubmit=${submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" placeholder="slw_…" required />
        <button type="submit" disabled=${busy}>Sign in</button>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <p class="hint">Create one with <code>slipway token create NAME --role viewer</code>.</p>
      </form>
    </main>
  `;
}
