// Webhook secrets sealed at rest, and rotating the master key: every sealed value (secrets, webhook
// secrets, secrets inside queued job specs) re-encrypted in one transaction, on SQLite and PostgreSQL.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OperationError } from "../lib/errors.js";
import { openStore } from "../store/index.js";
import { createTestDatabase, testBackends, useStore } from "../../test/support/store.js";
import {
  createSecretStore,
  encryptSecret,
  isSealedWebhookSecret,
  loadMasterKey,
  openWebhookSecret,
  rotateMasterKeyFile,
  sealClearWebhookSecrets,
  sealWebhookSecret,
} from "./index.js";

const backends = await testBackends();

describe.each(backends)("webhook secrets and key rotation on %s", (backend) => {
  const ctx = useStore(backend);

  it("a webhook secret is sealed, bound to its repository, and clear ones are sealed in place", async () => {
    const key = loadMasterKey({ dataDir: ctx.database.dataDir, env: {} });
    const sealed = sealWebhookSecret(key, "acme/one", "hmac-key-1");
    expect(sealed).not.toContain("hmac-key-1");
    expect(isSealedWebhookSecret(sealed)).toBe(true);
    expect(openWebhookSecret(key, "acme/one", sealed)).toBe("hmac-key-1");
    // Copied onto another repository's row it does not open.
    expect(() => openWebhookSecret(key, "acme/two", sealed)).toThrow(OperationError);
    expect(() => openWebhookSecret(undefined, "acme/one", sealed)).toThrow(OperationError);

    const legacy = await ctx.store.repos.create({
      name: "acme/legacy",
      url: "/x",
      webhookSecret: "clear-one",
    });
    expect(await sealClearWebhookSecrets(ctx.store, key)).toContain("acme/legacy");
    const stored = (await ctx.store.repos.webhookSecret(legacy.id)) ?? "";
    expect(isSealedWebhookSecret(stored)).toBe(true);
    expect(openWebhookSecret(key, "acme/legacy", stored)).toBe("clear-one");
    expect(await sealClearWebhookSecrets(ctx.store, key)).toEqual([]);
  });

  it("rotate-key re-encrypts every sealed value in one go and keeps the old key as master.key.old", async () => {
    const dataDir = ctx.database.dataDir;
    const old = loadMasterKey({ dataDir, env: {} });
    const secrets = createSecretStore(ctx.store, old);
    await secrets.set({ name: "API_TOKEN", value: "tok-123", actor: "test" });
    await secrets.set({ name: "DB_PASS", value: "pw-456", scope: { repo: "acme/rot" }, actor: "test" });
    const repo = await ctx.store.repos.create({
      name: "acme/rot",
      url: "/y",
      webhookSecret: sealWebhookSecret(old, "acme/rot", "hook-789"),
    });
    const run = await ctx.store.runs.create({
      repoId: repo.id,
      workflowFile: "ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: {},
      sha: "a".repeat(40),
      ref: "refs/heads/main",
      trigger: "webhook",
    });
    const sealedSecrets = encryptSecret(old, Buffer.from(JSON.stringify({ X: "job-secret" })), {
      name: "job-spec:build",
      repo: String(run.id),
      env: null,
    });
    const [job] = await ctx.store.jobs.insertMany(run.id, 1, [
      {
        jobKey: "build",
        jobId: "build",
        name: "build",
        labels: [],
        spec: { steps: [], secrets: {}, sealedSecrets },
      },
    ]);
    const before = await ctx.store.secrets.all();
    const beforeHook = await ctx.store.repos.webhookSecret(repo.id);

    const r = await rotateMasterKeyFile(ctx.store, dataDir, old, "test");
    expect(r.from).toBe(old.fingerprint);
    expect(r.to).not.toBe(old.fingerprint);
    expect(r.secrets).toBeGreaterThanOrEqual(2);
    expect(r.webhookSecrets).toBeGreaterThanOrEqual(1);
    expect(r.jobSpecs).toBe(1);

    // The key files: the new one in place, the old one kept, both private.
    const next = loadMasterKey({ dataDir, env: {} });
    expect(next.fingerprint).toBe(r.to);
    expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "master.key.old")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, "master.key.old"), "utf8")).not.toBe(
      readFileSync(join(dataDir, "master.key"), "utf8"),
    );
    expect(existsSync(join(dataDir, "master.key.new"))).toBe(false);

    // Every value opens with the new key; none of the old ciphertexts is left.
    const reopened = createSecretStore(ctx.store, next);
    await reopened.checkKey();
    expect((await reopened.lookup("API_TOKEN"))?.reveal()).toBe("tok-123");
    expect((await reopened.lookup("DB_PASS", { repo: "acme/rot" }))?.reveal()).toBe("pw-456");
    const hook = (await ctx.store.repos.webhookSecret(repo.id)) ?? "";
    expect(openWebhookSecret(next, "acme/rot", hook)).toBe("hook-789");
    expect(hook).not.toBe(beforeHook);
    const after = await ctx.store.secrets.all();
    for (const b of before) expect(after.map((a) => a.ciphertext)).not.toContain(b.ciphertext);
    expect(new Set(after.map((a) => a.keyId))).toEqual(new Set([r.to]));
    const spec = (await ctx.store.jobs.get(job.id))?.spec as {
      sealedSecrets: { keyId: string; ciphertext: string };
    };
    expect(spec.sealedSecrets.keyId).toBe(r.to);
    expect(spec.sealedSecrets.ciphertext).not.toBe(sealedSecrets.ciphertext);
    expect((await ctx.store.audit.list({ action: "secret.rotate-key" }))[0]).toMatchObject({
      detail: { from: r.from, to: r.to },
    });

    // A second rotation waits until the operator removed master.key.old.
    await expect(rotateMasterKeyFile(ctx.store, dataDir, next, "test")).rejects.toThrow(
      /master\.key\.old exists/,
    );
  });

  it("a value that does not open under the current key stops the rotation and changes nothing", async () => {
    const own = await createTestDatabase("sqlite");
    const dataDir = own.dataDir;
    const key = loadMasterKey({ dataDir, env: {} });
    const other = loadMasterKey({ dataDir: "/nonexistent", env: { SLIPWAY_MASTER_KEY: "c".repeat(64) } });
    const local = await openStore({ dataDir });
    try {
      await createSecretStore(local, key).set({ name: "GOOD", value: "g", actor: "t" });
      const bad = await local.repos.create({
        name: "acme/bad",
        url: "/z",
        webhookSecret: sealWebhookSecret(other, "acme/bad", "x"),
      });
      const before = await local.secrets.all();
      const keyText = readFileSync(join(dataDir, "master.key"), "utf8");
      await expect(rotateMasterKeyFile(local, dataDir, key, "t")).rejects.toThrow(OperationError);
      expect(await local.secrets.all()).toEqual(before);
      expect(readFileSync(join(dataDir, "master.key"), "utf8")).toBe(keyText);
      expect(existsSync(join(dataDir, "master.key.new"))).toBe(false);
      expect(existsSync(join(dataDir, "master.key.old"))).toBe(false);
      expect(await local.repos.webhookSecret(bad.id)).toMatch(/^sealed:/);
    } finally {
      await local.close();
      await own.drop();
    }
  });
});
