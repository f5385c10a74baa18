import http from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createNodeRouter, createRouterAdmin, type Router } from "./index.js";
import { request, servedBy, startBackend } from "./testing.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function twoVersions(name: string, registry?: Registry): Promise<Router> {
  const [a, b] = [await startBackend(`${name}-a`), await startBackend(`${name}-b`)];
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  const r = await createNodeRouter({ listen: { host: "127.0.0.1", port: 0 }, name, registry });
  cleanups.push(() => r.close({ timeoutMs: 1000 }));
  r.configure({
    backends: { v1: [{ id: `${name}-a`, url: a.url }], v2: [{ id: `${name}-b`, url: b.url }] },
    routes: { weights: { v1: 100, v2: 0 } },
  });
  return r;
}

describe("router admin", () => {
  it("shows and changes routes, and reports stats", async () => {
    const shop = await twoVersions("shop");
    const admin = await serve(createRouterAdmin([shop], { prefix: "/api/traffic" }));

    const list = JSON.parse((await request(`${admin}/api/traffic/routes`)).body);
    expect(list.routers[0]).toMatchObject({ service: "shop", routes: { weights: { v1: 100, v2: 0 } } });
    expect(list.routers[0].instances).toHaveLength(2);

    const put = await request(`${admin}/api/traffic/routes/shop`, {
      method: "PUT",
      body: JSON.stringify({
        weights: { v1: 0, v2: 100 },
        rules: [{ header: "X-Old", value: "1", version: "v1" }],
      }),
    });
    expect(put.status).toBe(200);
    expect(servedBy(await request(shop.url))).toBe("shop-b");
    expect(servedBy(await request(shop.url, { headers: { "x-old": "1" } }))).toBe("shop-a");

    // One router: PUT /routes needs no service.
    expect(
      (await request(`${admin}/api/traffic/routes`, { method: "PUT", body: '{"weights":{"v1":100}}' }))
        .status,
    ).toBe(200);
    expect(servedBy(await request(shop.url))).toBe("shop-a");

    const bad = await request(`${admin}/api/traffic/routes/shop`, {
      method: "PUT",
      body: '{"weights":{"v1":50}}',
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/add up to 100/);
    expect((await request(`${admin}/api/traffic/routes/shop`, { method: "PUT", body: "{" })).status).toBe(
      400,
    );
    expect((await request(`${admin}/api/traffic/routes/nope`)).status).toBe(404);
    expect((await request(`${admin}/api/traffic/metrics`, { method: "POST" })).status).toBe(405);

    const stats = JSON.parse((await request(`${admin}/api/traffic/stats/shop`)).body);
    expect(stats.versions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ version: "v1", requests: 2 }),
        expect.objectContaining({ version: "v2", requests: 1 }),
      ]),
    );
  });

  it("serves the metrics of routers with separate or shared registries as one Prometheus text", async () => {
    const shared = new Registry();
    const shop = await twoVersions("shop");
    const cart = await twoVersions("cart", shared);
    const blog = await twoVersions("blog", shared);
    for (let i = 0; i < 3; i++) await request(shop.url);
    await request(cart.url);
    const admin = await serve(createRouterAdmin(() => [shop, cart, blog]));
    const reply = await request(`${admin}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^text\/plain/);
    const text = reply.body;
    expect(text).toContain('slipway_router_requests_total{service="shop",version="v1"} 3');
    expect(text).toContain('slipway_router_requests_total{service="cart",version="v1"} 1');
    expect(text).toContain('slipway_router_requests_total{service="blog",version="v2"} 0');
    expect(text).toContain('slipway_router_failed_total{service="shop",version="v1"} 0');
    expect(text).toMatch(
      /slipway_router_request_duration_seconds_bucket\{le="[^"]+",service="shop",version="v1"\} 3/,
    );
    expect(text).toContain('slipway_router_request_duration_seconds_count{service="cart",version="v1"} 1');
    expect(text.match(/^# TYPE slipway_router_requests_total counter$/gm)).toHaveLength(1);
    // A router's own registry has only its series.
    expect(await cart.registry.metrics()).not.toContain('service="shop"');
  });
});
