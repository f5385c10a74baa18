// ports and expose: the first TCP port becomes the service's port (published when compose published it);
// other ports, ranges, UDP and well-known non-HTTP ports are warned about.
import { type ImportContext, isRecord, type Json, type Path } from "./context.js";

/** The ports published so far (a second service on the same host port is not published), and the services
 * published on 127.0.0.1 by default (one warning names them all). */
export type PortBook = {
  published: { service: string; host: string; port: number }[];
  loopback: string[];
};

/** Well-known ports of services that do not speak HTTP. */
const nonHttpPorts: Record<number, string> = {
  5432: "PostgreSQL",
  3306: "MySQL",
  6379: "Redis",
  27017: "MongoDB",
  5672: "AMQP",
  9092: "Kafka",
  11211: "memcached",
  1433: "SQL Server",
  9042: "Cassandra",
  2181: "ZooKeeper",
  4222: "NATS",
  25: "SMTP",
  53: "DNS",
};

export function mapPorts(ctx: ImportContext, book: PortBook, name: string, s: Json, out: Json): void {
  const at = (...p: Path): Path => ["services", name, ...p];
  type Port = { container: number; host?: number; hostIp?: string };
  const parsed: { port: Port | undefined; path: Path }[] = [];
  (Array.isArray(s.ports) ? s.ports : []).forEach((p, i) => {
    parsed.push({ port: parsePort(ctx, name, at("ports", i), p), path: at("ports", i) });
  });
  // slipway's router publishes HTTP only: a database's port is noted, not published.
  for (const p of parsed) {
    const known = p.port?.host !== undefined ? nonHttpPorts[p.port.container] : undefined;
    if (known && p.port) {
      ctx.warn(
        p.path,
        `service '${name}': port ${p.port.container} is ${known}, not HTTP: slipway's router publishes HTTP only, so it is not published`,
      );
      delete p.port.host;
    }
  }
  const usable = parsed.filter((p) => p.port);
  const first = usable[0];
  for (const p of usable.slice(1))
    ctx.warn(p.path, `service '${name}': only the first port is routed; this one is ignored`);
  if (first?.port) {
    out.port = first.port.container;
    const host = first.port.hostIp ?? "127.0.0.1";
    const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
    const clash = book.published.find(
      (p) => p.port === first.port?.host && (p.host === host || wildcard(p.host) || wildcard(host)),
    );
    if (clash) {
      ctx.warn(
        first.path,
        `service '${name}': port ${first.port.host} is already published by '${clash.service}', so it is not published`,
      );
    } else if (first.port.host !== undefined) {
      book.published.push({ service: name, host, port: first.port.host });
      const ip = first.port.hostIp;
      if (ip && ip !== "127.0.0.1") out.publish = `${ip.includes(":") ? `[${ip}]` : ip}:${first.port.host}`;
      else out.publish = first.port.host;
      if (!ip) book.loopback.push(name);
    }
    return;
  }
  const expose = Array.isArray(s.expose) ? s.expose : [];
  if (expose.length) {
    const n = Number.parseInt(String(expose[0]), 10);
    if (Number.isInteger(n) && n > 0 && n < 65536) out.port = n;
    if (expose.length > 1)
      ctx.warn(at("expose", 1), `service '${name}': only the first exposed port is kept`);
  }
}

function parsePort(
  ctx: ImportContext,
  name: string,
  path: Path,
  p: unknown,
): { container: number; host?: number; hostIp?: string } | undefined {
  const skip = (why: string) => {
    ctx.warn(
      path,
      `service '${name}': port ${typeof p === "object" ? JSON.stringify(p) : p} ${why} (ignored)`,
    );
    return undefined;
  };
  let container: string | undefined;
  let host: string | undefined;
  let hostIp: string | undefined;
  let protocol = "tcp";
  if (typeof p === "number") container = String(p);
  else if (typeof p === "string") {
    const m = /^(?:(?:(\[[^\]]+\]|[^:[\]]+):)?([\d-]*):)?([\d-]+)(?:\/(\w+))?$/.exec(p.trim());
    if (!m) return skip("is not understood");
    [, hostIp, host, container] = m;
    hostIp = hostIp?.replace(/^\[(.*)\]$/, "$1");
    protocol = m[4] ?? "tcp";
  } else if (isRecord(p)) {
    container = p.target === undefined ? undefined : String(p.target);
    host = p.published === undefined ? undefined : String(p.published);
    hostIp = typeof p.host_ip === "string" ? p.host_ip : undefined;
    protocol = typeof p.protocol === "string" ? p.protocol : "tcp";
  }
  if (!container) return skip("has no container port");
  if (protocol !== "tcp") return skip(`uses ${protocol}: slipway's router is for HTTP over TCP`);
  if (container.includes("-") || host?.includes("-")) return skip("is a range: slipway routes one port");
  if (host === "") {
    ctx.warn(path, `service '${name}': a random host port is not supported; the port is not published`);
    host = undefined;
  }
  return {
    container: Number(container),
    ...(host !== undefined && { host: Number(host) }),
    ...(hostIp !== undefined && { hostIp }),
  };
}
