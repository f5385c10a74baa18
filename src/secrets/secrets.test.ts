// The secret store on SQLite and PostgreSQL: encryption at rest, the master key, scopes and precedence,
// names, metadata-only listings, the audit log, and values that never show up where they should not.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format, inspect } from "node:util";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../lib/errors.js";
import { testBackends, useStore } from "../../test/support/store.js";
import {
  createSecretStore,
  decryptSecret,
  encryptSecret,
  generateMasterKey,
  listSecretsRequest,
  loadMasterKey,
  MasterKey,
  removeSecretRequest,
  revealSecrets,
  SecretValue,
  setSecretRequest,
  validateSecretName,
} from "./index.js";

const tmpRoot = mkdtempSync(join(tmpdir(), "slipway-secrets-"));
let tmpCount = 0;
const tmp = () => mkdtempSync(join(tmpRoot, `${++tmpCount}-`));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const keyA = () => loadMasterKey({ dataDir: "/nonexistent", env: { SLIPWAY_MASTER_KEY: "a".repeat(64) } });
const keyB = () => loadMasterKey({ dataDir: "/nonexistent", env: { SLIPWAY_MASTER_KEY: "b".repeat(64) } });

const multiLine = "-----BEGIN KEY-----\nline one\r\nline two\n-----END KEY-----\n";
const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0, 10, 13, 0x80, 0]);

describe("SecretValue", () => {
  it("prints [REDACTED] everywhere and reveals text and bytes on request", () => {
    const v = new SecretValue("hunter2");
    expect(String(v)).toBe("[REDACTED]");
    expect(`${v}`).toBe("[REDACTED]");
    expect(JSON.stringify({ token: v })).toBe('{"token":"[REDACTED]"}');
    expect(inspect({ token: v })).not.toContain("hunter2");
    expect(format("%s %o %O %j", v, v, { v }, { v })).not.toContain("hunter2");
    expect(v.reveal()).toBe("hunter2");
    const b = new SecretValue(binary);
    expect(b.revealBytes().equals(binary)).toBe(true);
    expect(b.byteLength).toBe(binary.length);
  });
});

describe("master key", () => {
  it("comes from SLIPWAY_MASTER_KEY as hex or base64; anything else is a clear error", () => {
    const raw = Buffer.alloc(32, 7);
    const hex = loadMasterKey({ dataDir: "/nonexistent", env: { SLIPWAY_MASTER_KEY: raw.toString("hex") } });
    const b64 = loadMasterKey({
      dataDir: "/nonexistent",
      env: { SLIPWAY_MASTER_KEY: raw.toString("base64") },
    });
    expect(hex.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(b64.fingerprint).toBe(hex.fingerprint);
    expect(hex.source).toBe("SLIPWAY_MASTER_KEY");
    expect(inspect(hex)).toBe(`MasterKey(${hex.fingerprint})`);
    expect(JSON.stringify(hex)).not.toContain(raw.toString("base64"));
    for (const bad of ["short", Buffer.alloc(16).toString("base64"), "z".repeat(64)]) {
      expect(() => loadMasterKey({ dataDir: "/x", env: { SLIPWAY_MASTER_KEY: bad } })).toThrow(UserError);
      expect(() => loadMasterKey({ dataDir: "/x", env: { SLIPWAY_MASTER_KEY: bad } })).toThrow(
        /SLIPWAY_MASTER_KEY must be 32 bytes/,
      );
    }
  });

  it("is created in <dataDir>/master.key with mode 0600 at first start and read back after", () => {
    const dir = join(tmp(), "data");
    const first = loadMasterKey({ dataDir: dir, env: {} });
    expect(first.created).toBe(true);
    const file = join(dir, "master.key");
    expect(first.source).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, "utf8").trim(), "base64")).toHaveLength(32);
    const again = loadMasterKey({ dataDir: dir, env: {} });
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(first.fingerprint);
    // The variable wins over the file.
    expect(
      loadMasterKey({ dataDir: dir, env: { SLIPWAY_MASTER_KEY: generateMasterKey() } }).fingerprint,
    ).not.toBe(first.fingerprint);
  });

  it("refuses a key file others can read, one of the wrong length, and a missing one when not creating", () => {
    const dir = tmp();
    const file = join(dir, "master.key");
    writeFileSync(file, `${generateMasterKey()}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => loadMasterKey({ dataDir: dir, env: {} })).toThrow(UserError);
    expect(() => loadMasterKey({ dataDir: dir, env: {} })).toThrow(/mode 0644.*chmod 600/);
    chmodSync(file, 0o600);
    expect(loadMasterKey({ dataDir: dir, env: {} }).created).toBe(false);

    writeFileSync(file, Buffer.alloc(20).toString("base64"));
    expect(() => loadMasterKey({ dataDir: dir, env: {} })).toThrow(/does not hold a 32-byte key/);

    expect(() => loadMasterKey({ dataDir: tmp(), env: {}, create: false })).toThrow(/no master key/);
  });
});

describe("encryption", () => {
  const binding = { name: "TOKEN", repo: "acme/api", env: null };

  it("round-trips text, multi-line and binary values (NUL bytes included), with a fresh IV each time", () => {
    const key = keyA();
    for (const value of [Buffer.from("hunter2"), Buffer.from(multiLine), binary, Buffer.from("ünïcødé ✓")]) {
      const enc = encryptSecret(key, value, binding);
      expect(enc.ciphertext).toMatch(/^v1:[A-Za-z0-9+/]+=*$/);
      expect(enc.keyId).toBe(key.fingerprint);
      expect(decryptSecret(key, enc, binding).equals(value)).toBe(true);
    }
    expect(encryptSecret(key, Buffer.from("x"), binding).ciphertext).not.toBe(
      encryptSecret(key, Buffer.from("x"), binding).ciphertext,
    );
  });

  it("names a wrong key by its fingerprint, and refuses altered or moved ciphertexts", () => {
    const a = keyA();
    const b = keyB();
    const enc = encryptSecret(a, Buffer.from("hunter2"), binding);
    const wrong = (() => {
      try {
        decryptSecret(b, enc, binding);
      } catch (err) {
        return err as Error;
      }
    })();
    expect(wrong).toBeInstanceOf(OperationError);
    expect(wrong?.message).toContain(
      `the secret store was written with another master key (fingerprint ${a.fingerprint})`,
    );
    expect(wrong?.message).toContain(b.fingerprint);
    // Same fingerprint, different bytes (a forged key id): authentication still fails, clearly.
    expect(() => decryptSecret(b, { ...enc, keyId: b.fingerprint }, binding)).toThrow(
      /does not authenticate/,
    );

    const raw = Buffer.from(enc.ciphertext.slice(3), "base64");
    raw[raw.length - 1] ^= 1;
    expect(() => decryptSecret(a, { ...enc, ciphertext: `v1:${raw.toString("base64")}` }, binding)).toThrow(
      /does not authenticate/,
    );
    expect(() => decryptSecret(a, enc, { ...binding, name: "OTHER" })).toThrow(/does not authenticate/);
    expect(() => decryptSecret(a, enc, { ...binding, env: "production" })).toThrow(/does not authenticate/);
  });
});

describe("secret names", () => {
  it("accept [A-Z_][A-Z0-9_]* except the GITHUB_ prefix", () => {
    for (const ok of ["A", "_X", "DEPLOY_TOKEN", "NPM_TOKEN2", "GITHUBX"])
      expect(validateSecretName(ok)).toBe(ok);
    for (const bad of ["", "1ABC", "lower", "A-B", "A B", "A.B", "ÄÖ", "GITHUB_TOKEN", "X\n"]) {
      expect(() => validateSecretName(bad)).toThrow(UserError);
    }
    expect(() => validateSecretName("GITHUB_TOKEN")).toThrow(/reserved/);
    expect(() => validateSecretName("A".repeat(256))).toThrow(/longer than 255/);
  });
});

const backends = await testBackends();

describe.each(backends)("secret store on %s", (backend) => {
  const ctx = useStore(backend);

  it("stores only ciphertext, lists only metadata, and round-trips every kind of value", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    await secrets.set({ name: "PLAIN", value: "hunter2-plain", actor: "alice", now: 1000 });
    await secrets.set({ name: "PEM", value: multiLine, actor: "alice", now: 1001 });
    await secrets.set({ name: "BLOB", value: binary, actor: "alice", now: 1002 });
    await secrets.set({ name: "WRAPPED", value: new SecretValue("wrapped-value"), actor: "alice" });

    const resolved = await secrets.resolve();
    expect(resolved.PLAIN.reveal()).toBe("hunter2-plain");
    expect(resolved.PEM.reveal()).toBe(multiLine);
    expect(resolved.BLOB.revealBytes().equals(binary)).toBe(true);
    expect(resolved.WRAPPED.reveal()).toBe("wrapped-value");
    expect(JSON.stringify(resolved)).not.toMatch(/hunter2|BEGIN KEY|wrapped-value/);

    const listed = await secrets.list();
    expect(listed.map((s) => s.name)).toEqual(["BLOB", "PEM", "PLAIN", "WRAPPED"]);
    expect(listed.find((s) => s.name === "PLAIN")).toEqual({
      name: "PLAIN",
      repo: null,
      env: null,
      scope: "global",
      createdAt: 1000,
      createdBy: "alice",
      updatedAt: 1000,
      updatedBy: "alice",
    });
    expect(JSON.stringify(listed)).not.toMatch(/hunter2|BEGIN KEY|wrapped|ciphertext|v1:/);

    // The raw rows: no clear value, in any encoding the store might have used.
    const rows = await sql<Record<string, unknown>>`select * from secrets`.execute(ctx.store.db);
    const dump = JSON.stringify(rows.rows);
    for (const clear of ["hunter2-plain", "line one", "wrapped-value"]) {
      expect(dump).not.toContain(clear);
      expect(dump).not.toContain(Buffer.from(clear).toString("base64"));
      expect(dump).not.toContain(Buffer.from(clear).toString("hex"));
    }
    expect(dump).not.toContain(binary.toString("base64"));
  });

  it("resolves each name from the narrowest scope: global < repo < env < repo + env", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    const set = (value: string, repo?: string, env?: string) =>
      secrets.set({ name: "PREC_TOKEN", value, scope: { repo, env }, actor: "alice" });
    await set("global");
    await set("repo", "acme/api");
    await set("env", undefined, "production");
    await set("repo+env", "acme/api", "production");
    await set("other-repo", "acme/web");
    await secrets.set({ name: "PREC_ONLY_GLOBAL", value: "g", actor: "alice" });

    const values = async (repo?: string, env?: string) => revealSecrets(await secrets.resolve({ repo, env }));
    expect((await values()).PREC_TOKEN).toBe("global");
    expect((await values("acme/api")).PREC_TOKEN).toBe("repo");
    expect((await values("acme/web")).PREC_TOKEN).toBe("other-repo");
    expect((await values("acme/docs")).PREC_TOKEN).toBe("global");
    expect((await values("acme/docs", "production")).PREC_TOKEN).toBe("env");
    expect((await values("acme/api", "production")).PREC_TOKEN).toBe("repo+env");
    expect((await values("acme/api", "staging")).PREC_TOKEN).toBe("repo");
    expect((await values("acme/api", "production")).PREC_ONLY_GLOBAL).toBe("g");
    expect((await secrets.lookup("PREC_TOKEN", { repo: "acme/web", env: "production" }))?.reveal()).toBe(
      "env",
    );
    expect(await secrets.lookup("NOPE", { repo: "acme/api" })).toBeUndefined();

    expect((await secrets.list({ repo: "acme/api" })).map((s) => [s.name, s.scope])).toEqual([
      ["PREC_TOKEN", "repo acme/api"],
      ["PREC_TOKEN", "repo acme/api, env production"],
    ]);
    expect((await secrets.list({ repo: "acme/api", env: "production" })).map((s) => s.scope)).toEqual([
      "repo acme/api, env production",
    ]);
    expect((await secrets.list({ repo: null, env: "production" })).map((s) => s.scope)).toEqual([
      "env production",
    ]);

    expect(
      await secrets.remove({
        name: "PREC_TOKEN",
        scope: { repo: "acme/api", env: "production" },
        actor: "bob",
      }),
    ).toBe(true);
    expect((await values("acme/api", "production")).PREC_TOKEN).toBe("env");
    expect(
      await secrets.remove({
        name: "PREC_TOKEN",
        scope: { repo: "acme/api", env: "production" },
        actor: "bob",
      }),
    ).toBe(false);
  });

  it("rejects bad names, empty and oversized values, and bad scopes before writing anything", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    const before = (await ctx.store.audit.list({ actionPrefix: "secret." })).length;
    await expect(secrets.set({ name: "bad-name", value: "x", actor: "a" })).rejects.toThrow(
      /invalid secret name/,
    );
    await expect(secrets.set({ name: "GITHUB_TOKEN", value: "x", actor: "a" })).rejects.toThrow(/reserved/);
    await expect(secrets.set({ name: "EMPTY", value: "", actor: "a" })).rejects.toThrow(/empty/);
    await expect(
      secrets.set({ name: "HUGE", value: Buffer.alloc(64 * 1024 + 1), actor: "a" }),
    ).rejects.toThrow(/limit/);
    await expect(
      secrets.set({ name: "SCOPED", value: "x", scope: { repo: " " }, actor: "a" }),
    ).rejects.toThrow(UserError);
    expect(await secrets.list({ repo: " " }).catch((e) => e)).toBeInstanceOf(UserError);
    expect((await ctx.store.audit.list({ actionPrefix: "secret." })).length).toBe(before);
  });

  it("audits every change (who, what, when, scope) and never the value", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    await secrets.set({
      name: "AUDITED",
      value: "audit-value-1",
      scope: { repo: "acme/api" },
      actor: "alice",
      now: 5000,
    });
    await secrets.set({
      name: "AUDITED",
      value: "audit-value-2",
      scope: { repo: "acme/api" },
      actor: "bob",
      now: 6000,
    });
    await secrets.remove({ name: "AUDITED", scope: { repo: "acme/api" }, actor: "carol", now: 7000 });
    await secrets.remove({ name: "AUDITED", scope: { repo: "acme/api" }, actor: "dave", now: 8000 });
    const entries = await secrets.audit({ name: "AUDITED" });
    expect(entries.map(({ id: _, ...e }) => e)).toEqual([
      {
        at: 7000,
        actor: "carol",
        action: "secret.remove",
        subject: "AUDITED",
        repo: "acme/api",
        env: null,
        detail: null,
      },
      {
        at: 6000,
        actor: "bob",
        action: "secret.set",
        subject: "AUDITED",
        repo: "acme/api",
        env: null,
        detail: { created: false },
      },
      {
        at: 5000,
        actor: "alice",
        action: "secret.set",
        subject: "AUDITED",
        repo: "acme/api",
        env: null,
        detail: { created: true },
      },
    ]);
    const raw = await sql<Record<string, unknown>>`select * from audit_log`.execute(ctx.store.db);
    expect(JSON.stringify(raw.rows)).not.toContain("audit-value");
  });

  it("a change and its audit entry commit together: a failed audit write leaves the secret unchanged", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    await secrets.set({ name: "ATOMIC", value: "before", actor: "alice" });
    // An actor the audit table refuses (NOT NULL) makes the audit insert fail inside the transaction.
    await expect(
      secrets.set({ name: "ATOMIC", value: "after", actor: null as unknown as string }),
    ).rejects.toThrow();
    expect((await secrets.lookup("ATOMIC"))?.reveal()).toBe("before");
  });

  it("reports a store written under another master key, by fingerprint, instead of returning garbage", async () => {
    const a = createSecretStore(ctx.store, keyA());
    await a.set({ name: "KEYED", value: "keyed-value", actor: "alice" });
    await a.checkKey();
    const b = createSecretStore(ctx.store, keyB());
    const err = await b.resolve().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toContain(
      `the secret store was written with another master key (fingerprint ${keyA().fingerprint})`,
    );
    expect((err as Error).message).not.toContain("keyed-value");
    await expect(b.checkKey()).rejects.toThrow(/another master key/);
    // Listing needs no key.
    expect((await b.list()).some((s) => s.name === "KEYED")).toBe(true);
  });

  it("the API functions return metadata only and validate their input", async () => {
    const secrets = createSecretStore(ctx.store, keyA());
    const created = await setSecretRequest(secrets, "admin-token", {
      name: "API_SECRET",
      value: "api-clear-value",
      repo: "acme/cli",
    });
    expect(created.created).toBe(true);
    expect(created.secret).toMatchObject({
      name: "API_SECRET",
      repo: "acme/cli",
      env: null,
      updatedBy: "admin-token",
    });
    const bin = await setSecretRequest(secrets, "admin-token", {
      name: "API_BINARY",
      value_base64: binary.toString("base64"),
    });
    expect(bin.created).toBe(true);
    expect((await secrets.lookup("API_BINARY"))?.revealBytes().equals(binary)).toBe(true);

    const listed = await listSecretsRequest(secrets, { repo: "acme/cli" });
    expect(listed.secrets.map((s) => s.name)).toEqual(["API_SECRET"]);
    const all = JSON.stringify([created, bin, listed, await listSecretsRequest(secrets)]);
    expect(all).not.toContain("api-clear-value");
    expect(all).not.toContain(binary.toString("base64"));

    await expect(
      setSecretRequest(secrets, "a", { name: "X", value: "1", value_base64: "MQ==" }),
    ).rejects.toThrow(/exactly one of value and value_base64/);
    await expect(setSecretRequest(secrets, "a", { name: "X", value: "1", extra: 1 })).rejects.toThrow(
      UserError,
    );
    await expect(setSecretRequest(secrets, "a", { name: "x-y", value: "1" })).rejects.toThrow(
      /invalid secret name/,
    );
    expect(await removeSecretRequest(secrets, "admin-token", "API_SECRET", { repo: "acme/cli" })).toEqual({
      removed: true,
    });
    expect(await removeSecretRequest(secrets, "admin-token", "API_SECRET", { repo: "acme/cli" })).toEqual({
      removed: false,
    });
  });
});

describe("MasterKey", () => {
  it("cannot be made from a key of the wrong length", () => {
    expect(() => new MasterKey(Buffer.alloc(31), "test")).toThrow(/32 bytes/);
  });
});
