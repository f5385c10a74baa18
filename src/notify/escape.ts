// Text for Slack. Slack reads `<…>` as links and mentions (`<!channel>`, `<@U123>`, `<http://x|y>`) and
// `&…;` as entities, so untrusted text has `&`, `<` and `>` replaced by entities (Slack's documented
// escaping) before it goes into any text object; a link is built only from a parsed http(s) URL.
// Formatting characters (`*`, `_`, `~`, `` ` ``) are left alone: at worst they change emphasis.

const maxUrlLength = 1000;

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

export function escapeSlack(text: string): string {
  return text.replace(/[&<>]/g, (c) => entities[c]);
}

/** One line: line breaks and other control characters become spaces. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
}

/**
 * `text` escaped, in at most `max` characters: when it is longer, cut at a character (never inside an
 * entity or a surrogate pair) and ended with "…".
 */
export function escapeClip(text: string, max: number): string {
  const full = escapeSlack(text);
  if (full.length <= max) return full;
  let out = "";
  for (const ch of text) {
    const e = entities[ch] ?? ch;
    if (out.length + e.length > max - 1) break;
    out += e;
  }
  return `${out}…`;
}

/** Plain text clipped to `max` characters (for lengths counted before escaping). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  let out = "";
  for (const ch of chars) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/** An http(s) URL made safe inside `<…|…>`; undefined for anything else. */
export function slackUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  const safe = escapeSlack(u.href.replace(/\|/g, "%7C"));
  // A link longer than this would crowd out the text around it; better none.
  return safe.length <= maxUrlLength ? safe : undefined;
}

/** `<url|label>` with the label escaped, or just the escaped label when the URL is unusable. */
export function slackLink(url: string | undefined, label: string, maxLabel = 200): string {
  const safe = slackUrl(url);
  const text = escapeClip(oneLine(label), maxLabel);
  return safe ? `<${safe}|${text}>` : text;
}
