// Settings → Repositories for an admin: register a repository (POST /api/v1/repos) and rotate its
// webhook secret (POST /api/v1/repos/<name>/webhook-secret). The secret is in those two answers only;
// the page keeps it in component state and nowhere else (not in the URL, not in storage), so leaving
// the section or reloading loses it — as the page says. The server validates everything; the form only
// passes on what was typed and shows the server's refusal.
import { useState } from "preact/hooks";
import { ApiError, post } from "../api.js";
import { html } from "../html.js";

export type Issued = { repo: { name: string; url: string }; webhookSecret: string; rotated?: boolean };

/** Where the forge sends the repository's webhooks (GitHub's form; /hooks/gitea/… and /hooks/gitlab/… too). */
export function webhookUrl(name: string): string {
  return `${location.origin}/hooks/github/${name}`;
}

const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

export function AddRepoForm({ onAdded }: { onAdded: (r: Issued) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const field = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
    const body: Record<string, string> = { url: field("url") };
    if (field("name")) body.name = field("name");
    if (field("branch")) body.branch = field("branch");
    setBusy(true);
    setError("");
    try {
      const r = await post<Issued>("/api/v1/repos", body);
      form.reset();
      onAdded(r);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="add-repo" data-testid="add-repo" onSubmit=${submit}>
    <h2>Add repository</h2>
    <label>Git URL or path <input name="url" type="text" required maxlength="2048" autocomplete="off"
      spellcheck=${false} placeholder="https://git.example.com/acme/app.git" /></label>
    <label>Name <input name="name" type="text" maxlength="201" autocomplete="off" spellcheck=${false}
      placeholder="acme/app (default: from the URL)" /></label>
    <label>Default branch <input name="branch" type="text" maxlength="255" autocomplete="off"
      spellcheck=${false} placeholder="(the remote's HEAD)" /></label>
    <button type="submit" disabled=${busy}>${busy ? "Adding…" : "Add repository"}</button>
    ${error && html`<p class="error" role="alert" data-testid="add-repo-error">${error}</p>`}
  </form>`;
}

/** The webhook URL and secret, once: a copy button, and a plain warning that it will not be shown again. */
export function SecretOnce({ issued, onDone }: { issued: Issued; onDone: () => void }) {
  const [copied, setCopied] = useState("");
  const copy = async (e: Event) => {
    const input = (e.currentTarget as HTMLElement).parentElement!.querySelector("input")!;
    try {
      await navigator.clipboard.writeText(issued.webhookSecret);
      setCopied("Copied.");
    } catch {
      // No clipboard permission (an http:// origin): select it for Ctrl+C instead.
      input.select();
      setCopied("Selected: press Ctrl+C to copy.");
    }
  };
  const { name } = issued.repo;
  return html`<section class="secret-once" data-testid="webhook-secret" role="status">
    <h2>${issued.rotated ? "New webhook secret for" : "Webhook for"} <code>${name}</code></h2>
    <p class="warning"><strong>Copy the secret now: you will not see it again.</strong> It is not shown
      anywhere else and is lost when you leave or reload this page${issued.rotated ? "; the old secret no longer verifies" : ""}.</p>
    <dl>
      <dt>Payload URL</dt><dd><code data-testid="webhook-url">${webhookUrl(name)}</code></dd>
      <dt>Content type</dt><dd><code>application/json</code></dd>
      <dt>Secret</dt>
      <dd class="secret">
        <input type="text" readonly value=${issued.webhookSecret} data-testid="secret-value" autocomplete="off"
          spellcheck=${false} aria-label="webhook secret" />
        <button type="button" data-action="copy-secret" onClick=${copy}>Copy</button>
        ${copied && html`<span class="hint" data-testid="copied">${copied}</span>`}
      </dd>
    </dl>
    <button type="button" data-action="secret-done" onClick=${onDone}>I have copied it</button>
  </section>`;
}

/** Rotating takes a second click: the old secret stops verifying at once, so deliveries fail until the forge has the new one. */
export function RotateSecret({ name, onRotated }: { name: string; onRotated: (r: Issued) => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const rotate = async () => {
    setBusy(true);
    setError("");
    try {
      const r = await post<Issued>(`/api/v1/repos/${name}/webhook-secret`, {});
      setAsking(false);
      onRotated({ ...r, rotated: true });
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action rotate" data-rotate=${name}>
    ${
      asking
        ? html`<span class="hint">The old secret stops working at once.</span>
          <button type="button" class="danger" data-action="confirm-rotate" disabled=${busy} onClick=${rotate}>
            Rotate</button>
          <button type="button" data-action="cancel-rotate" onClick=${() => setAsking(false)}>Cancel</button>`
        : html`<button type="button" data-action="rotate-secret" onClick=${() => setAsking(true)}>
            Rotate webhook secret</button>`
    }
    ${error && html`<span class="error" role="alert">${error}</span>`}
  </span>`;
}
