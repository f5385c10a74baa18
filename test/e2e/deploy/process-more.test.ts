// More of slipway deploy with the process runtime: bad input, secrets, volumes, depends_on order,
// hooks, partial deploys, and the deploy events sent to a real local webhook receiver.
import { writeFileSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startReceiver, type Receiver } from "../../../src/notify/testing.js";
import { signatureHeader, timestampHeader, verifyWebhookSignature } from "../../../src/notify/index.js";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir } from "./helpers.js";

const json = (s: string) => JSON.parse(s) as Record<string, any>;

describe("slipway deploy: bad input, secrets, volumes, order, hooks, notifications", () => {
  let app: AppDir;
  let port: number;
  let _dbPort: number;
  let receiver: Receiver;
  const api = (extra: Record<string, unknown> = {}) => ({
    command: "node server.mjs",
    cwd: "./app",
    replicas: 1,
    publish: port,
    env: { APP_VERSION: "v1" },
    health: { http: "/healthz", interval: "100ms", deadline: "10s" },
    ...extra,
  });
  const notify = () => ({
    channels: { hooks: { webhook: { url: `${receiver.url}/deploys`, secret_name: "HOOK_KEY" } } },
    rules: [
      {
        on: ["deploy.started", "deploy.succeeded", "deploy.failed", "deploy.rolled_back"],
        channels: ["hooks"],
      },
    ],
  });

  beforeAll(async () => {
    app = makeAppDir("more");
    port = await freePort();
    _dbPort = await freePort();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await app?.cleanup();
    await receiver?.close();
  });

  it("an invalid spec is an error at file:line:col and starts nothing", async () => {
    app.writeSpec({
      app: "more",
      services: { api: { command: "node server.mjs", replicas: -1, depends_on: ["nope"] } },
    });
    const r = await app.cli(["deploy"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/slipway\.yaml:\d+:\d+: .*replicas/);
    expect(r.stderr).toMatch(/slipway\.yaml:\d+:\d+: .*nope/);
    const status = await app.cli(["status", "--json"]);
    expect(json(status.stdout).agent).toBeNull();
  });

  it("a missing secret fails the deploy before anything runs", async () => {
    app.writeSpec({ app: "more", services: { api: api({ secrets: ["DB_PASSWORD"] }) } });
    const r = await app.cli(["deploy", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/secret DB_PASSWORD not found for more\/production/);
    const releases = json((await app.cli(["releases", "--json"])).stdout) as unknown as {
      status: string;
      phase: string;
    }[];
    expect(releases[0]).toMatchObject({ status: "failed", phase: "nothing changed" });
  });

  it("secrets are injected; depends_on waits for the db's health; deploy events reach the webhook, signed", async () => {
    for (const [name, value] of [
      ["DB_PASSWORD", "s3cr3t\nline2"],
      ["HOOK_KEY", "hook-signing-key"],
    ])
      expect((await app.cli(["secret", "set", name], { input: value })).code).toBe(0);
    // notify: is a top-level section of slipway.yaml, next to deploy:.
    writeFileSync(
      `${app.dir}/slipway.yaml`,
      stringify({
        deploy: {
          app: "more",
          services: {
            api: api({ secrets: ["DB_PASSWORD"], depends_on: { db: { condition: "healthy" } } }),
            db: {
              command: `node -e "require('net').createServer(s=>s.end()).listen(process.env.PORT,'127.0.0.1')"`,
              cwd: "./app",
              port: 1,
              health: { tcp: true, interval: "100ms" },
            },
          },
        },
        notify: notify(),
      }),
    );
    const r = await app.cli(["deploy", "--json", "--version", "v1.0.0"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await get(`http://127.0.0.1:${port}/secret`)).body).toBe("s3cr3t\nline2");
    // db ready before api started
    const shown = json((await app.cli(["releases", "show", String(json(r.stdout).number), "--json"])).stdout);
    const msgs = shown.events.map((e: { message: string }) => e.message) as string[];
    const dbReady = msgs.findIndex((m) => /db: db-r\d+-\w+ ready/.test(m));
    const apiStarted = msgs.findIndex((m) => /api: api-r\d+-\w+ started/.test(m));
    expect(dbReady).toBeGreaterThanOrEqual(0);
    expect(apiStarted).toBeGreaterThan(dbReady);
    // The secret's value never appears in the release record.
    expect(JSON.stringify(shown)).not.toContain("s3cr3t");
    const got = await receiver.waitFor(2, 15_000);
    const types = got.map((g) => JSON.parse(g.text).type);
    expect(types).toEqual(["deploy.started", "deploy.succeeded"]);
    const verified = verifyWebhookSignature({
      secret: "hook-signing-key",
      body: got[1].body,
      signature: got[1].headers[signatureHeader.toLowerCase()] as string,
      timestamp: got[1].headers[timestampHeader.toLowerCase()] as string,
    });
    expect(verified.ok).toBe(true);
  });

  it("a failing pre-deploy hook stops the deploy before any instance changes", async () => {
    const before = json((await app.cli(["status", "--json"])).stdout)
      .services.find((s: { name: string }) => s.name === "api")
      .instances.map((i: { id: string }) => i.id);
    writeFileSync(
      `${app.dir}/slipway.yaml`,
      stringify({
        deploy: {
          app: "more",
          services: {
            api: api({
              env: { APP_VERSION: "v2" },
              secrets: ["DB_PASSWORD"],
              hooks: { pre_deploy: "echo migrating; exit 7" },
            }),
          },
        },
        notify: notify(),
      }),
    );
    const n = receiver.requests.length;
    const r = await app.cli(["deploy", "--json", "--service", "api"]);
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release.error).toMatch(/pre-deploy hook exited with 7/);
    expect(release.error).toMatch(/migrating/);
    const after = json((await app.cli(["status", "--json"])).stdout)
      .services.find((s: { name: string }) => s.name === "api")
      .instances.map((i: { id: string }) => i.id);
    expect(after).toEqual(before);
    expect((await get(`http://127.0.0.1:${port}/`)).body).toMatch(/^v1 /);
    const got = await receiver.waitFor(n + 3, 15_000);
    expect(got.slice(n).map((g) => JSON.parse(g.text).type)).toEqual([
      "deploy.started",
      "deploy.failed",
      "deploy.rolled_back",
    ]);
  });

  it("--service deploys one service and keeps the others; a named volume outlives the release", async () => {
    const spec = (v: string) =>
      stringify({
        deploy: {
          app: "more",
          services: {
            api: api({
              env: { APP_VERSION: v },
              secrets: ["DB_PASSWORD"],
              volumes: ["data:/data"],
              depends_on: { db: { condition: "healthy" } },
            }),
            db: {
              command: `node -e "require('net').createServer(s=>s.end()).listen(process.env.PORT,'127.0.0.1')"`,
              cwd: "./app",
              port: 1,
              health: { tcp: true, interval: "100ms" },
            },
          },
        },
      });
    writeFileSync(`${app.dir}/slipway.yaml`, spec("v3"));
    const dbBefore = json((await app.cli(["status", "--json"])).stdout).services.find(
      (s: { name: string }) => s.name === "db",
    ).instances[0].id;
    let r = await app.cli(["deploy", "--json", "--service", "api"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout).changed).toEqual(["api"]);
    writeFileSync(`${app.dir}/slipway.yaml`, spec("v4"));
    r = await app.cli(["deploy", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout).changed).toEqual(["api"]);
    expect((await get(`http://127.0.0.1:${port}/boots`)).body).toBe("v3\nv4\n");
    const dbAfter = json((await app.cli(["status", "--json"])).stdout).services.find(
      (s: { name: string }) => s.name === "db",
    ).instances[0].id;
    expect(dbAfter).toBe(dbBefore);
  });

  it("a published port already in use fails before anything is touched", async () => {
    const blocker = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const taken = (blocker.address() as net.AddressInfo).port;
    writeFileSync(
      `${app.dir}/slipway.yaml`,
      stringify({
        deploy: {
          app: "more",
          services: { web: { command: "node server.mjs", cwd: "./app", publish: taken } },
        },
      }),
    );
    const r = await app.cli(["deploy", "--service", "web"]);
    blocker.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${taken}`));
    expect((await get(`http://127.0.0.1:${port}/`)).body).toMatch(/^v4 /);
  });
});
