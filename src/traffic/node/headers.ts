// Header rewriting between client and instance, on flat raw header arrays (no per-request objects):
// hop-by-hop headers dropped both ways (RFC 9110 §7.6.1), X-Forwarded-* added, the version named.
import type { IncomingMessage } from "node:http";

/** Request headers for the instance: hop-by-hop ones dropped, X-Forwarded-* added. */
export function forwardHeaders(
  req: IncomingMessage,
  authority: string,
  trust: boolean,
  upgrade: boolean,
): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  let proto: string | undefined;
  let fwdHost: string | undefined;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const n = name.length;
    // Lowercase only names that could be one of those below (all have these lengths).
    if (
      n === 2 ||
      n === 4 ||
      n === 6 ||
      n === 7 ||
      n === 10 ||
      n === 15 ||
      n === 16 ||
      n === 17 ||
      n === 19
    ) {
      const lower = name.toLowerCase();
      switch (lower) {
        case "connection":
          connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        case "keep-alive":
        case "proxy-connection":
        case "proxy-authorization":
        case "te":
        case "trailer":
        case "upgrade":
        case "expect": // the router's own server answered any 100-continue
          continue;
        case "x-forwarded-for":
          xff = xff === undefined ? value : `${xff}, ${value}`;
          continue;
        case "x-forwarded-proto":
          if (trust) proto ??= value;
          continue;
        case "x-forwarded-host":
          if (trust) fwdHost ??= value;
          continue;
        case "host":
          host = value;
          break;
      }
    }
    out.push(name, value);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  if (host === undefined) {
    host = authority;
    out.push("Host", authority);
  }
  const client = req.socket.remoteAddress ?? "";
  out.push("X-Forwarded-For", xff === undefined ? client : `${xff}, ${client}`);
  out.push("X-Forwarded-Proto", proto ?? "http");
  out.push("X-Forwarded-Host", fwdHost ?? host);
  if (upgrade) out.push("Connection", "Upgrade", "Upgrade", req.headers.upgrade ?? "websocket");
  return out;
}

/** Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function dropConnectionListed(headers: string[], connection: string): void {
  if (connection.length <= 10 && /^\s*(keep-alive|close|upgrade)\s*$/i.test(connection)) return;
  const listed = new Set(
    connection
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== "" && t !== "close" && t !== "keep-alive" && t !== "upgrade"),
  );
  if (listed.size === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (listed.has(headers[i].toLowerCase())) headers.splice(i, 2);
  }
}

/** Response headers for the client: the connection management ones are the router's own. */
export function responseHeaders(raw: string[], versionHeader: string | false, version: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const n = name.length;
    if (n === 7 || n === 10 || n === 16) {
      const lower = name.toLowerCase();
      if (
        lower === "connection" ||
        lower === "keep-alive" ||
        lower === "proxy-connection" ||
        lower === "trailer" ||
        lower === "upgrade"
      )
        continue;
    }
    out.push(name, raw[i + 1]);
  }
  if (versionHeader) out.push(versionHeader, version);
  return out;
}
