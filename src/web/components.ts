// Small pieces shared by the pages.
import { useState } from "preact/hooks";
import { ApiError } from "./api.js";
import { html } from "./html.js";

const icons: Record<string, string> = {
  success: "✓",
  failure: "✗",
  cancelled: "⊘",
  skipped: "–",
  running: "●",
  queued: "○",
  waiting: "◌",
  succeeded: "✓",
  failed: "✗",
  "rolled-back": "↺",
};

export function StateBadge({ state }: { state: string }) {
  return html`<span class=${`state state-${state.replace(/[^a-z-]/g, "")}`} title=${state} data-state=${state}
    >${icons[state] ?? "·"} ${state}</span
  >`;
}

/** A button for an action: disabled while it runs, its error shown beside it. */
export function ActionButton({
  label,
  action,
  name,
  kind,
}: {
  label: string;
  action: () => Promise<unknown>;
  name?: string;
  kind?: "danger";
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const click = async () => {
    setBusy(true);
    setError("");
    try {
      await action();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    <button type="button" class=${kind ?? ""} data-action=${name ?? label} disabled=${busy} onClick=${click}>
      ${label}
    </button>
    ${error && html`<span class="error" role="alert">${error}</span>`}
  </span>`;
}
