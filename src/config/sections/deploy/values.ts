// The deploy section's values written as text — durations, sizes, publish addresses, volumes — and their
// parsers: the schema checks them with these, and deploy/spec.ts reads them with the same functions so
// both agree on what a value means.

/** A docker named volume: what `docker volume create` accepts. */
export const volumeNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const durationHelp =
  "a duration: seconds as a number, or a number with a unit (500ms, 10s, 5m, 1h, 1m30s)";

/**
 * Milliseconds from "500ms", "10s", "1.5m", "1h", "1m30s", "30" (seconds) or a number of seconds.
 * Throws an Error naming the accepted forms.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`invalid duration ${value}: expected ${durationHelp}`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new Error(`invalid duration "${value}": expected ${durationHelp}`);
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * durationUnits[p[2]], 0));
}

const sizeUnits: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
export const sizeHelp =
  "a size: bytes as a number, or a number with a unit (512k, 256m, 1g; binary multiples)";

/** Bytes from "256m", "1g", "1.5GiB", "512kb", "1024" or a number of bytes (k/m/g/t are powers of 1024, as in Docker). */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid size ${value}: expected ${sizeHelp}`);
    return Math.round(value);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new Error(`invalid size "${value}": expected ${sizeHelp}`);
  return Math.round(Number(m[1]) * sizeUnits[m[2].toLowerCase()]);
}

/** `8080`, `"8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"` → host and port; the host defaults to 127.0.0.1. */
export function parsePublish(value: string | number): { host: string; port: number } {
  const text = String(value).trim();
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]+):)?(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`invalid publish "${text}": expected a port (8080) or host:port (127.0.0.1:8080)`);
  const host = m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

export type VolumeConfig = { source: string; kind: "named" | "bind"; target: string; readOnly: boolean };

/**
 * `name:/target`, `./dir:/target:ro`, `/abs:/target` → its parts; a bind's source stays as written (relative
 * to slipway.yaml's directory, resolved by deploy/spec.ts).
 */
export function parseVolume(text: string): VolumeConfig {
  const parts = text.split(":");
  const [source, target, mode, ...rest] = parts;
  const help = "expected SOURCE:TARGET[:ro|rw] with a named volume or a path (./dir, /abs) as SOURCE";
  if (parts.length < 2 || rest.length > 0 || !source || !target)
    throw new Error(`invalid volume "${text}": ${help}`);
  if (mode !== undefined && mode !== "ro" && mode !== "rw")
    throw new Error(`invalid volume "${text}": the mode is ro or rw, not "${mode}"`);
  if (!target.startsWith("/"))
    throw new Error(`invalid volume "${text}": the target must be an absolute path`);
  const bind = source.startsWith("/") || source === "." || source === ".." || /^\.\.?\//.test(source);
  if (!bind && source.startsWith("~"))
    throw new Error(
      `invalid volume "${text}": ~ is not expanded; use a path relative to slipway.yaml or absolute`,
    );
  if (!bind && !volumeNamePattern.test(source))
    throw new Error(
      `invalid volume "${text}": a named volume uses a-z, A-Z, 0-9, '.', '_' and '-' (a path starts with ./ or /)`,
    );
  return { source, kind: bind ? "bind" : "named", target, readOnly: mode === "ro" };
}
