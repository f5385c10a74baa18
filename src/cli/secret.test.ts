// `slipway secret …` and `slipway notify …` on a local data directory (SQLite) and on PostgreSQL, and
// against a running server: values from stdin only, never printed; the delivery log and test messages
// against a real local receiver.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Command } from "@commander-js/extra-typings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../lib/errors.js";
import { type Receiver, startReceiver } from "../notify/testing.js";
import { createSecretStore, loadMasterKey } from "../secrets/index.js";
import { type RunningServer, startServer } from "../server/index.js";
import { openStore } from "../store/index.js";
import { testBackends, useDatabase } from "../../test/support/store.js";
import { registerNotify, runNotifyDeliveries, runNotifyTest } from "./notify.js";
import {
  registerSecret,
  runSecretAudit,
  runSecretList,
  runSecretRemove,
  runSecretSet,
  type SecretIo,
} from "./secret.js";

function io(stdin: string | Buffer | "tty" = "", env: NodeJS.ProcessEnv = {}) {
  let out = "";
  let err = "";
  const input =
    stdin === "tty" ? Object.assign(Readable.from([]), { isTTY: true }) : Readable.from([Buffer.from(stdin)]);
  const value: SecretIo & { out: () => string; err: () => string } = {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    stdin: input,
    env: { USER: "tester", ...env },
    out: () => out,
    err: () => err,
  };
  return value;
}

const backends = await testBackends();
const pem = "-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----\n";
const binary = Buffer.from([0, 255, 10, 0, 13, 1]);

describe.each(backends)("slipway secret on %s", (backend) => {
  const ctx = useDatabase(backend);
  let flags: { dataDir: string; database?: string };
  beforeAll(() => {
    flags = { dataDir: ctx.database.dataDir, database: ctx.database.url };
  });

  it("sets values from stdin byte for byte, lists metadata only, removes, and audits", async () => {
    const first = io(pem);
    expect(await runSecretSet("DEPLOY_KEY", { ...flags, repo: "acme/api" }, first)).toBe(0);
    expect(first.err()).toMatch(/created the master key .*master\.key \(mode 0600\): back it up/);
    expect(first.err()).toContain(`created secret DEPLOY_KEY (repo acme/api, ${pem.length} bytes)`);
    expect(statSync(join(ctx.database.dataDir, "master.key")).mode & 0o777).toBe(0o600);
    expect(await runSecretSet("BLOB", { ...flags, env: "production" }, io(binary))).toBe(0);
    const again = io("rotated\n");
    await runSecretSet("DEPLOY_KEY", { ...flags, repo: "acme/api" }, again);
    expect(again.err()).toContain("updated secret DEPLOY_KEY");

    const store = await openStore({ url: flags.database, dataDir: flags.dataDir });
    try {
      const secrets = createSecretStore(store, loadMasterKey({ dataDir: flags.dataDir }));
      expect((await secrets.lookup("DEPLOY_KEY", { repo: "acme/api" }))?.reveal()).toBe("rotated\n");
      expect((await secrets.lookup("BLOB", { env: "production" }))?.revealBytes().equals(binary)).toBe(true);
    } finally {
      await store.close();
    }

    const human = io();
    await runSecretList(flags, human);
    expect(human.out()).toMatch(/^NAME +SCOPE +UPDATED +BY\n/);
    expect(human.out()).toMatch(/BLOB +env production +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +cli:tester/);
    expect(human.out()).toMatch(/DEPLOY_KEY +repo acme\/api +/);
    const json = io();
    await runSecretList({ ...flags, json: true, repo: "acme/api" }, json);
    expect(JSON.parse(json.out()).map((s: { name: string }) => s.name)).toEqual(["DEPLOY_KEY"]);
    for (const o of [human.out(), json.out(), human.err(), json.err()]) {
      expect(o).not.toContain("rotated");
      expect(o).not.toContain("BEGIN KEY");
    }

    await expect(runSecretRemove("DEPLOY_KEY", { ...flags, yes: true }, io())).rejects.toThrow(
      /no secret DEPLOY_KEY \(global\)/,
    );
    expect(await runSecretRemove("DEPLOY_KEY", { ...flags, repo: "acme/api", yes: true }, io())).toBe(0);

    const audit = io();
    await runSecretAudit("DEPLOY_KEY", { ...flags, json: true }, audit);
    expect(
      JSON.parse(audit.out()).map((e: { action: string; actor: string }) => [e.action, e.actor]),
    ).toEqual([
      ["secret.remove", "cli:tester"],
      ["secret.set", "cli:tester"],
      ["secret.set", "cli:tester"],
    ]);
    expect(audit.out()).not.toContain("rotated");
  });

  it("refuses a terminal on stdin, bad names, and a master key other than the store's", async () => {
    const tty = await runSecretSet("TOKEN", flags, io("tty")).catch((e: unknown) => e);
    expect(tty).toBeInstanceOf(UserError);
    expect((tty as Error).message).toMatch(/reads the value from stdin; pipe it in/);
    await expect(runSecretSet("bad-name", flags, io("x"))).rejects.toThrow(/invalid secret name/);
    await expect(runSecretSet("EMPTY", flags, io(""))).rejects.toThrow(/empty/);
    const other = io("x", { SLIPWAY_MASTER_KEY: "c".repeat(64) });
    await expect(runSecretSet("OTHER", flags, other)).rejects.toThrow(
      /the secret store was written with another master key \(fingerprint [0-9a-f]{16}\)/,
    );
  });

  it("is wired as `slipway secret set NAME --repo R` (no value argument)", async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    const value = io("wired-value");
    registerSecret(program as unknown as Command, () => value);
    await program.parseAsync(
      [
        "secret",
        "set",
        "WIRED",
        "--repo",
        "acme/web",
        "--data-dir",
        flags.dataDir,
        ...(flags.database ? ["--database", flags.database] : []),
      ],
      { from: "user" },
    );
    expect(value.err()).toContain("created secret WIRED (repo acme/web");
    const tooMany = program.parseAsync(["secret", "set", "WIRED", "the-value", "--data-dir", flags.dataDir], {
      from: "user",
    });
    await expect(tooMany).rejects.toThrow(/too many arguments/);
  });
});

describe("slipway notify", () => {
  let dir: string;
  let receiver: Receiver;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-cli-notify-"));
    receiver = await startReceiver((req) =>
      req.path === "/fail" ? { status: 503, body: "maintenance" } : { status: 200 },
    );
    writeFileSync(
      join(dir, "slipway.yaml"),
      [
        "notify:",
        "  channels:",
        `    hook: { webhook: { url: "${receiver.url}/hook", secret_name: HOOK_SECRET } }`,
        `    broken: { webhook: { url: "${receiver.url}/fail" } }`,
        `    team: { slack: { webhook_url_secret: TEAM_SLACK } }`,
        "  rules: []",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("test sends one message, signed with the channel's secret, and the delivery log shows every outcome", async () => {
    const flags = { dataDir: join(dir, "data"), config: join(dir, "slipway.yaml") };
    await runSecretSet("HOOK_SECRET", flags, io("hook-signing-key"));
    await runSecretSet("TEAM_SLACK", flags, io(`${receiver.url}/services/T/B/C`));

    const ok = io();
    expect(await runNotifyTest("hook", flags, ok)).toBe(0);
    expect(ok.err()).toMatch(/test message delivered to hook \(delivery \d+\)/);
    expect(receiver.requests.at(-1)?.headers["x-slipway-signature-256"]).toMatch(/^sha256=/);
    expect(await runNotifyTest("team", flags, io())).toBe(0);
    expect(receiver.requests.at(-1)?.path).toBe("/services/T/B/C");

    const failed = await runNotifyTest("broken", flags, io()).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OperationError);
    expect((failed as Error).message).toBe("test message to broken failed: HTTP 503: maintenance");
    await expect(runNotifyTest("nope", flags, io())).rejects.toThrow(/no channel 'nope'/);

    const table = io();
    await runNotifyDeliveries({ dataDir: flags.dataDir }, table);
    const lines = table.out().trim().split("\n");
    expect(lines[0]).toMatch(/^ID +CREATED +CHANNEL +EVENT +STATUS +ATTEMPTS +LAST ERROR$/);
    expect(lines[1]).toMatch(/broken +test +failed +1 +HTTP 503: maintenance$/);
    expect(lines[2]).toMatch(/team +test +delivered +1$/);
    const json = io();
    await runNotifyDeliveries({ dataDir: flags.dataDir, json: true, status: "delivered" }, json);
    const rows = JSON.parse(json.out());
    expect(rows.map((r: { channel: string }) => r.channel)).toEqual(["team", "hook"]);
    expect(json.out()).not.toContain("services/T/B/C");
    expect(json.out()).not.toContain("hook-signing-key");
    await expect(runNotifyDeliveries({ dataDir: flags.dataDir, status: "lost" }, io())).rejects.toThrow(
      /--status/,
    );
  });

  it("is wired as `slipway notify test <channel>` and `slipway notify deliveries`", async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    const out = io();
    registerNotify(program as unknown as Command, () => out);
    await program.parseAsync(
      ["notify", "deliveries", "--json", "--limit", "1", "--data-dir", join(dir, "data")],
      { from: "user" },
    );
    expect(JSON.parse(out.out())).toHaveLength(1);
  });
});

describe("slipway secret and notify against a running server", () => {
  let dir: string;
  let server: RunningServer;
  let receiver: Receiver;
  let admin: string;
  let viewer: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-cli-remote-"));
    receiver = await startReceiver(() => ({ status: 200 }));
    writeFileSync(
      join(dir, "notify.yaml"),
      `channels:\n  ops: { webhook: { url: "${receiver.url}/ops" } }\n`,
    );
    server = await startServer({
      listen: "127.0.0.1:0",
      dataDir: join(dir, "data"),
      localRunners: 0,
      notifyConfig: join(dir, "notify.yaml"),
    });
    admin = server.adminToken!;
    viewer = (await server.store.tokens.create("watcher", "viewer")).token;
  });
  afterAll(async () => {
    await server?.stop(1000);
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sets from stdin, lists metadata only, removes, and audits through /api/v1/secrets", async () => {
    const flags = { server: server.url, token: admin };
    const set = io(pem);
    expect(await runSecretSet("DEPLOY_KEY", { ...flags, repo: "acme/api" }, set)).toBe(0);
    expect(set.err()).toBe(
      `created secret DEPLOY_KEY (repo acme/api, ${pem.length} bytes) on ${server.url}\n`,
    );
    expect(await runSecretSet("BLOB", flags, io(binary))).toBe(0);
    const secrets = createSecretStore(server.store, loadMasterKey({ dataDir: join(dir, "data") }));
    expect((await secrets.lookup("DEPLOY_KEY", { repo: "acme/api" }))?.reveal()).toBe(pem);
    expect((await secrets.lookup("BLOB"))?.revealBytes().equals(binary)).toBe(true);

    const json = io();
    expect(await runSecretList({ ...flags, json: true }, json)).toBe(0);
    const listed = JSON.parse(json.out());
    expect(
      listed.map((s: { name: string; scope: string; updatedBy: string }) => [s.name, s.scope, s.updatedBy]),
    ).toEqual([
      ["BLOB", "global", "admin"],
      ["DEPLOY_KEY", "repo acme/api", "admin"],
    ]);
    const human = io();
    await runSecretList({ ...flags, repo: "acme/api" }, human);
    expect(human.out()).toMatch(
      /^NAME +SCOPE +UPDATED +BY\nDEPLOY_KEY +repo acme\/api +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +admin\n$/,
    );
    for (const o of [json.out(), human.out()]) expect(o).not.toContain("BEGIN KEY");

    await expect(runSecretRemove("DEPLOY_KEY", { ...flags, yes: true }, io())).rejects.toThrow(
      /no secret DEPLOY_KEY in that scope/,
    );
    expect(await runSecretRemove("DEPLOY_KEY", { ...flags, repo: "acme/api", yes: true }, io())).toBe(0);
    const audit = io();
    await runSecretAudit("DEPLOY_KEY", { ...flags, json: true }, audit);
    expect(JSON.parse(audit.out()).map((e: { action: string }) => e.action)).toEqual([
      "secret.remove",
      "secret.set",
    ]);
  });

  it("refuses tokens without the role, and unknown tokens, and changes nothing", async () => {
    const low = await runSecretSet("NOPE", { server: server.url, token: viewer }, io("x")).catch(
      (e: unknown) => e,
    );
    expect(low).toBeInstanceOf(OperationError);
    expect((low as Error).message).toMatch(/403|needs the admin role; the token has viewer/);
    const bogus = await runSecretList({ server: server.url, token: "slw_bogus" }, io()).catch(
      (e: unknown) => e,
    );
    expect((bogus as Error).message).toMatch(/a valid API token is required/);
    expect((await server.store.secrets.list()).map((s) => s.name)).not.toContain("NOPE");
  });

  it("uses the server of `slipway login`, unless --data-dir says local; not both", async () => {
    const config = mkdtempSync(join(dir, "config-"));
    mkdirSync(join(config, "slipway"));
    writeFileSync(
      join(config, "slipway", "config.json"),
      JSON.stringify({ server: server.url, token: admin }),
    );
    const env = { XDG_CONFIG_HOME: config };
    expect(await runSecretSet("VIA_LOGIN", {}, io("v", env))).toBe(0);
    expect((await server.store.secrets.list()).map((s) => s.name)).toContain("VIA_LOGIN");
    const local = io("", env);
    await runSecretList({ dataDir: join(dir, "local") }, local);
    expect(local.err()).toBe("no secrets\n");
    await expect(runSecretList({ server: server.url, dataDir: join(dir, "local") }, io())).rejects.toThrow(
      /--server works on a running server, --data-dir\/--database on a local store/,
    );
  });

  it("notify test and notify deliveries work on the server's channels and log", async () => {
    const flags = { server: server.url, token: admin };
    const sent = io();
    expect(await runNotifyTest("ops", flags, sent)).toBe(0);
    expect(sent.err()).toMatch(/test message delivered to ops \(delivery \d+\)/);
    expect(receiver.requests.at(-1)?.path).toBe("/ops");
    await expect(runNotifyTest("nope", flags, io())).rejects.toThrow(/no channel 'nope'/);
    const log = io();
    await runNotifyDeliveries({ server: server.url, token: viewer, json: true }, log);
    expect(JSON.parse(log.out())).toEqual([
      expect.objectContaining({ channel: "ops", status: "delivered", eventType: "test" }),
    ]);
    const table = io();
    await runNotifyDeliveries({ server: server.url, token: viewer }, table);
    expect(table.out()).toMatch(/ops +test +delivered +1\n$/);
  });
});
