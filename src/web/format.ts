// Formatting helpers, and the one way markup from data reaches the page: safeHtml (DOMPurify).
import DOMPurify from "dompurify";

export function duration(start: number | null | undefined, end: number | null | undefined): string {
  if (!start) return "";
  const ms = (end ?? Date.now()) - start;
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function ago(at: number | null | undefined): string {
  if (!at) return "";
  const s = Math.round((Date.now() - at) / 1000);
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(at).toISOString().slice(0, 10);
}

export function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** A URL that may be a link: http(s) only (no javascript:, data:, …), else undefined. */
export function safeUrl(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

// Links keep only http(s)/relative targets and open without an opener.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href");
    if (href !== null && safeUrl(href) === undefined) node.removeAttribute("href");
    node.setAttribute("rel", "noopener noreferrer");
    node.setAttribute("target", "_blank");
  }
});

/** Markup from data (rendered Markdown, ANSI-coloured log lines), sanitised: no script, handler or style. */
export function safeHtml(markup: string): string {
  return DOMPurify.sanitize(markup, {
    ALLOWED_URI_REGEXP: /^(?:https?:|#|\/)/i,
    // No images either: a summary's <img> would make the browser fetch what a workflow chose, with the
    // session cookie when it points at this server.
    FORBID_TAGS: [
      "style",
      "form",
      "input",
      "textarea",
      "button",
      "iframe",
      "object",
      "embed",
      "svg",
      "math",
      "img",
      "picture",
      "source",
      "video",
      "audio",
    ],
    FORBID_ATTR: ["style"],
  });
}

export type Status = string | null | undefined;
/** One word for a run's or job's state: its conclusion when it finished, else its status. */
export function stateOf(status: Status, conclusion?: Status): string {
  if (status === "completed") return conclusion ?? "completed";
  return status ?? "unknown";
}
