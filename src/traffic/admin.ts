// The routers' admin interface as a plain node:http handler, for the server to mount:
//   GET /routes               every router: backends, routes, instances
//   GET /routes/:service      one router
//   PUT /routes/:service      new routes {weights, rules} for one router (PUT /routes when there is one router,
//                             or with "service" in the body)
//   GET /stats/:service       per-version stats (counts, window p50/p90/p99)
//   GET /metrics              Prometheus text of all routers
import type { IncomingMessage, ServerResponse } from "node:http";
import { AggregatorRegistry, type Registry } from "prom-client";
import { httpStatusFor, problemBody, RefusalError } from "../lib/errors.js";
import type { Router } from "./types.js";

export type RouterAdminHandler = (req: IncomingMessage, res: ServerResponse) => void;

const MAX_BODY = 1 << 20;

class HttpError extends RefusalError {
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(status, message);
    this.headers = headers;
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, "body too large");
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (cause) {
    throw new HttpError(400, `body is not JSON: ${(cause as Error).message}`);
  }
}

function describeRouter(r: Router) {
  return { service: r.name, url: r.url, ...r.config(), instances: r.instances() };
}

/** Prometheus text for routers that may each have their own registry (series differ by `service`). */
export async function routerMetricsText(
  routers: Iterable<Router>,
): Promise<{ contentType: string; text: string }> {
  const registries = [...new Set([...routers].map((r) => r.registry))];
  if (registries.length === 1) {
    return { contentType: registries[0].contentType, text: await registries[0].metrics() };
  }
  const merged: Registry = AggregatorRegistry.aggregate(
    await Promise.all(registries.map((r) => r.getMetricsAsJSON())),
  );
  return { contentType: merged.contentType, text: await merged.metrics() };
}

/**
 * `routers` is read on every request (give a function or a live collection when routers come and go).
 * `prefix` is stripped from the path first (e.g. "/api/traffic").
 */
export function createRouterAdmin(
  routers: Iterable<Router> | (() => Iterable<Router>),
  options: { prefix?: string } = {},
): RouterAdminHandler {
  const list = (): Router[] => [...(typeof routers === "function" ? routers() : routers)];
  const find = (service: string): Router => {
    const r = list().find((x) => x.name === service);
    if (!r) throw new HttpError(404, `no router for service ${JSON.stringify(service)}`);
    return r;
  };
  const prefix = options.prefix?.replace(/\/+$/, "") ?? "";

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path = new URL(req.url ?? "/", "http://admin").pathname;
    if (prefix) {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) throw new HttpError(404, "not found");
      path = path.slice(prefix.length) || "/";
    }
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? "GET";
    const only = (...allowed: string[]) => {
      if (!allowed.includes(method))
        throw new HttpError(405, `method ${method} not allowed`, { allow: allowed.join(", ") });
    };
    if (parts[0] === "metrics" && parts.length === 1) {
      only("GET");
      const { contentType, text } = await routerMetricsText(list());
      res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (parts[0] === "routes" && parts.length <= 2) {
      only("GET", "PUT");
      if (method === "GET") {
        if (parts.length === 2) send(res, 200, describeRouter(find(parts[1])));
        else send(res, 200, { routers: list().map(describeRouter) });
        return;
      }
      const body = await readJson(req);
      let service = parts[1];
      let routes = body;
      if (service === undefined) {
        if (typeof body === "object" && body !== null && "service" in body) {
          const { service: s, ...rest } = body as { service: unknown };
          if (typeof s !== "string") throw new HttpError(400, "service must be a string");
          service = s;
          routes = rest;
        } else {
          const all = list();
          if (all.length !== 1)
            throw new HttpError(
              400,
              `give the service: PUT /routes/:service (there are ${all.length} routers)`,
            );
          service = all[0].name;
        }
      }
      const router = find(service);
      router.setRoutes(routes as Parameters<Router["setRoutes"]>[0]);
      send(res, 200, describeRouter(router));
      return;
    }
    if (parts[0] === "stats" && parts.length === 2) {
      only("GET");
      const router = find(parts[1]);
      send(res, 200, { service: router.name, versions: router.versions().map((v) => router.stats(v)) });
      return;
    }
    throw new HttpError(404, "not found");
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = httpStatusFor(err);
      const failed = status >= 500 && !(err instanceof RefusalError);
      const message = failed ? `internal error: ${(err as Error)?.message ?? String(err)}` : undefined;
      send(res, status, problemBody(err, message), err instanceof HttpError ? err.headers : {});
    });
  };
}
