// Text for people: durations, sizes, times and aligned tables, written the same way by every command.

/**
 * How a duration reads:
 * - `clock` (default): "850ms", "42s", "3m07s", "2h05m": whole units, the smaller one padded, for
 *   summaries (a notification, a list);
 * - `tenths`: "850ms", "4.2s", "3m7s": tenths of a second below a minute, for a step's own time;
 * - `exact`: "1m30s", "500ms", "2h": every unit down to milliseconds, the shortest text a Go-style
 *   duration parser reads back as the same number.
 */
export type DurationStyle = "clock" | "tenths" | "exact";

export function formatDuration(ms: number, style: DurationStyle = "clock"): string {
  if (style === "exact") return exactDuration(ms);
  if (ms < 1000) return `${style === "clock" ? Math.round(ms) : ms}ms`;
  if (style === "tenths") {
    if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
    return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  }
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function exactDuration(ms: number): string {
  let rest = Math.round(ms);
  if (rest === 0) return "0s";
  let text = "";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

/** A size in binary units: "512 B", "1.5 KiB", "12.0 MiB", "1.25 GiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** A moment as "2026-01-31 12:00:00" (UTC, to the second); "-" for none. */
export function formatTimestamp(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-";
}

/**
 * Rows as columns aligned on the widest cell, two spaces apart, without trailing blanks; one line per
 * row, each ending in a newline. The first row (the header) sets the columns; a shorter row gets empty cells.
 */
export function textTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "";
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map(
      (r) =>
        `${widths
          .map((w, i) => (r[i] ?? "").padEnd(w))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}
