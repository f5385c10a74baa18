// The notification routes of the API on a real store, with a real receiver: the delivery log (read by any
// role, filtered, no bodies or channel URLs) and test messages to the server's channels.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CiService } from "../ci/index.js";
import { Notifier, parseNotifyFile } from "../notify/index.js";
import { type Receiver, startReceiver } from "../notify/testing.js";
import { openStore, type Store } from "../store/index.js";
import { createApp } from "./app.js";
import { createMetrics } from "./metrics.js";

describe("notification routes", () => {
  let dir: string;
  let store: Store;
  let receiver: Receiver;
  let app: ReturnType<typeof createApp>;
  let admin: string;
  let viewer: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-notify-routes-"));
    store = await openStore({ dataDir: dir });
    receiver = await startReceiver((r) =>
      r.path === "/down" ? { status: 500, body: "down" } : { status: 204 },
    );
    const notifyConfig = parseNotifyFile(
      `channels:\n  ok: { webhook: { url: "${receiver.url}/ok" } }\n  down: { webhook: { url: "${receiver.url}/down" } }\n`,
      "notify.yaml",
    );
    const notifier = new Notifier({ store, secret: async () => undefined, timeoutMs: 2000 });
    const ci = new CiService({ store, dataDir: dir });
    app = createApp({ ci, metrics: createMetrics(ci), notifier, notifyConfig, isReady: () => true });
    admin = (await store.tokens.create("admin", "admin")).token;
    viewer = (await store.tokens.create("watcher", "viewer")).token;
  });
  afterAll(async () => {
    await receiver?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, token: string | null, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it("sends test messages to the server's channels and logs them; viewers cannot send", async () => {
    const ok = await call("POST", "/api/v1/notifications/test", admin, { channel: "ok" });
    expect(ok.status).toBe(200);
    expect(ok.body.delivery).toMatchObject({ channel: "ok", status: "delivered", attempts: 1, scope: null });
    expect(receiver.requests.at(-1)?.path).toBe("/ok");
    const down = await call("POST", "/api/v1/notifications/test", admin, { channel: "down" });
    expect(down.body.delivery).toMatchObject({ status: "failed", lastError: "HTTP 500: down" });
    const unknown = await call("POST", "/api/v1/notifications/test", admin, { channel: "nope" });
    expect(unknown).toEqual({
      status: 400,
      body: expect.objectContaining({ error: "no channel 'nope' in notify.channels (channels: ok, down)" }),
    });
    expect((await call("POST", "/api/v1/notifications/test", admin, {})).status).toBe(400);
    expect((await call("POST", "/api/v1/notifications/test", viewer, { channel: "ok" })).status).toBe(403);
    const noRepo = await call("POST", "/api/v1/notifications/test", admin, { channel: "ok", repo: "x/y" });
    expect(noRepo).toEqual({
      status: 404,
      body: expect.objectContaining({ error: "no repository named 'x/y'" }),
    });
  });

  it("lists deliveries to any role, newest first, filtered; never bodies or URLs", async () => {
    expect((await call("GET", "/api/v1/notifications/deliveries", null)).status).toBe(401);
    const all = await call("GET", "/api/v1/notifications/deliveries", viewer);
    expect(all.status).toBe(200);
    expect(all.body.deliveries.map((d: { channel: string }) => d.channel)).toEqual(["down", "ok"]);
    expect(JSON.stringify(all.body)).not.toContain(receiver.url);
    expect(Object.keys(all.body.deliveries[0])).not.toContain("payload");
    const failed = await call("GET", "/api/v1/notifications/deliveries?status=failed", viewer);
    expect(failed.body.deliveries.map((d: { channel: string }) => d.channel)).toEqual(["down"]);
    const byChannel = await call("GET", "/api/v1/notifications/deliveries?channel=ok&limit=1", viewer);
    expect(byChannel.body.deliveries).toHaveLength(1);
    expect(byChannel.body.deliveries[0].channel).toBe("ok");
    expect((await call("GET", "/api/v1/notifications/deliveries?status=lost", viewer)).status).toBe(400);
    expect((await call("GET", "/api/v1/notifications/deliveries?limit=0", viewer)).status).toBe(400);
  });

  it("are in the OpenAPI document", async () => {
    const doc = await call("GET", "/api/v1/openapi.json", null);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/notifications/deliveries",
        "/api/v1/notifications/test",
        "/api/v1/secrets",
      ]),
    );
  });
});
