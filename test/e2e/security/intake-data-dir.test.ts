// Finding 4, against a real `slipway serve` started under a permissive umask (022) in a directory
// others can enter: another local user (`nobody`) reads nothing of the data directory, the database
// file holds no webhook secret in clear, an open data directory from before is narrowed at start with
// a warning and its clear webhook secrets sealed, and `slipway secret rotate-key` re-encrypts every
// sealed value (the server then still verifies webhooks and hands runs their secrets).
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  type Harness,
  listRuns,
  makeRepo,
  pushPayload,
  type Server,
  sendWebhook,
  tempDir,
  test,
  waitForRun,
} from "../server/helpers.js";
import { asNobody } from "./intake-helpers.js";

cleanupAfterAll();

// The server inherits the test's umask: make it the permissive default an operator may well have.
let savedUmask = 0;
beforeAll(() => {
  savedUmask = process.umask(0o022);
});
afterAll(() => {
  process.umask(savedUmask);
});

const fullName = "acme/app";
const workflow = `name: CI
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: test "\${{ secrets.API_TOKEN }}" = "tok-123" && echo secret-ok
`;

const mode = (p: string) => statSync(p).mode & 0o777;

/** A data directory inside a directory every user may enter (as /var/lib or /srv would be). */
function openParentDataDir(): string {
  const parent = tempDir("slipway-intake-data-");
  chmodSync(parent, 0o755);
  return join(parent, "data");
}

/** The bytes of the SQLite database and its write-ahead log. */
function databaseBytes(dataDir: string): Buffer {
  return Buffer.concat(
    ["slipway.db", "slipway.db-wal"]
      .map((f) => join(dataDir, f))
      .filter(existsSync)
      .map((f) => readFileSync(f)),
  );
}

async function stop(server: Server): Promise<void> {
  server.kill("SIGTERM");
  await server.exited;
}

async function start(h: Harness, dataDir: string): Promise<Server> {
  return h.startServer({ dataDir, args: ["--local-runners", "1"] });
}

describe("the server's data directory", () => {
  test("another local user reads nothing of it; webhook secrets are not in the database in clear", async ({
    h,
  }) => {
    const dataDir = openParentDataDir();
    const server = await start(h, dataDir);
    const repo = makeRepo({ ".github/workflows/ci.yml": workflow });
    const secret = await addRepo(server, repo, fullName);

    expect(mode(dataDir)).toBe(0o700);
    for (const f of ["slipway.db", "master.key", "admin-token"]) expect(mode(join(dataDir, f))).toBe(0o600);
    for (const f of ["slipway.db-wal", "slipway.db-shm"])
      if (existsSync(join(dataDir, f))) expect(mode(join(dataDir, f))).toBe(0o600);
    expect(mode(join(dataDir, "mirrors"))).toBe(0o700);

    // The parent is open, so only the data directory's own modes stand in the way.
    expect(asNobody(["ls", join(dataDir, "..")]).code).toBe(0);
    for (const cmd of [
      ["ls", dataDir],
      ["cat", join(dataDir, "slipway.db")],
      ["cat", join(dataDir, "master.key")],
      ["cat", join(dataDir, "admin-token")],
    ]) {
      const r = asNobody(cmd);
      expect(r.code, `${cmd.join(" ")} as nobody`).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
    }

    expect(databaseBytes(dataDir).includes(Buffer.from(secret))).toBe(false);
    // ... and the sealed secret still verifies deliveries.
    const before = repo.head();
    const after = repo.commit({ "a.txt": "a\n" });
    const res = await sendWebhook(server, "push", pushPayload(repo, fullName, { before, after }), secret);
    expect(res.status).toBe(202);
  });

  test("an open data directory from before is narrowed at start with a warning; clear webhook secrets are sealed", async ({
    h,
  }) => {
    const dataDir = openParentDataDir();
    const first = await start(h, dataDir);
    const repo = makeRepo({ ".github/workflows/ci.yml": workflow });
    await addRepo(first, repo, fullName);
    await stop(first);
    // As an older slipway left it: open modes, and the webhook secret in clear.
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "slipway.db"), 0o644);
    const clear = "clear-webhook-secret-from-an-old-server";
    const db = new Database(join(dataDir, "slipway.db"));
    db.prepare("UPDATE repos SET webhook_secret = ? WHERE name = ?").run(clear, fullName);
    db.close();
    expect(databaseBytes(dataDir).includes(Buffer.from(clear))).toBe(true);

    const server = await start(h, dataDir);
    expect(server.stderr()).toMatch(/warning: the data directory was readable by other users/);
    expect(server.stderr()).toContain(`${dataDir} (0755)`);
    expect(server.stderr()).toMatch(/sealed the webhook secrets of 1 repositories/);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, "slipway.db"))).toBe(0o600);
    expect(databaseBytes(dataDir).includes(Buffer.from(clear))).toBe(false);
    // The sealed value is the same secret: the sender's deliveries still verify.
    const before = repo.head();
    const after = repo.commit({ "b.txt": "b\n" });
    const res = await sendWebhook(server, "push", pushPayload(repo, fullName, { before, after }), clear);
    expect(res.status).toBe(202);
  });

  test("secret rotate-key re-encrypts every sealed value; the server still verifies webhooks and hands out secrets", async ({
    h,
  }) => {
    const dataDir = openParentDataDir();
    const first = await start(h, dataDir);
    const repo = makeRepo({ ".github/workflows/ci.yml": workflow });
    const secret = await addRepo(first, repo, fullName);
    const set = await api(first, "POST", "/api/v1/secrets", { name: "API_TOKEN", value: "tok-123" });
    expect(set.status).toBeLessThan(300);
    await stop(first);
    const db = new Database(join(dataDir, "slipway.db"), { readonly: true });
    const oldCiphertexts = [
      ...db.prepare("SELECT ciphertext AS c FROM secrets").all(),
      ...db.prepare("SELECT webhook_secret AS c FROM repos").all(),
    ].map((r) => String((r as { c: string }).c));
    db.close();
    expect(oldCiphertexts).toHaveLength(2);
    const oldKey = readFileSync(join(dataDir, "master.key"), "utf8");

    const rotated = await h.cli(null, ["secret", "rotate-key", "--data-dir", dataDir, "--json"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.json).toMatchObject({ secrets: 1, webhookSecrets: 1 });
    expect(readFileSync(join(dataDir, "master.key.old"), "utf8")).toBe(oldKey);
    expect(readFileSync(join(dataDir, "master.key"), "utf8")).not.toBe(oldKey);
    expect(mode(join(dataDir, "master.key"))).toBe(0o600);
    expect(mode(join(dataDir, "master.key.old"))).toBe(0o600);
    const bytes = databaseBytes(dataDir);
    for (const c of oldCiphertexts) {
      // The base64 body of each old ciphertext is gone from the files (also from free pages and the log).
      const body = c.slice(c.lastIndexOf(":") + 1);
      expect(bytes.includes(Buffer.from(body)), `old ciphertext ${body.slice(0, 12)}…`).toBe(false);
    }

    const server = await start(h, dataDir);
    const before = repo.head();
    const after = repo.commit({ "c.txt": "c\n" });
    const res = await sendWebhook(server, "push", pushPayload(repo, fullName, { before, after }), secret);
    expect(res.status).toBe(202);
    const run = await waitForRun(server, res.body.runs[0]);
    expect(run.run.conclusion).toBe("success");
    const logs = await h.cliOk(server, ["logs", String(run.run.id)]);
    expect(logs.stdout).toContain("secret-ok");
    expect(await listRuns(server)).toHaveLength(1);
  });
});
