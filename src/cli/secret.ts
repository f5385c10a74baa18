// `slipway secret set|list|rm|audit|rotate-key`: the secret store of a running server (through /api/v1/secrets, with
// --server or the server of SLIPWAY_SERVER / `slipway login`), or of a local server data directory (or its
// PostgreSQL database) like `slipway serve` opens it (with --data-dir / --database, or when no server is
// configured). The value of `set` comes from stdin, never from the command line (argv is visible in `ps`
// and shell history); no command prints a value, and the server never returns one.
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { UserError } from "../lib/errors.js";
import { defaultDataDir } from "../runner/index.js";
import {
  createSecretStore,
  describeScope,
  loadMasterKey,
  normalizeScope,
  rotateMasterKeyFile,
  type SecretInfo,
  type SecretStore,
} from "../secrets/index.js";
import type { AuditEntry } from "../store/index.js";
import { openStore, type Store } from "../store/index.js";
import { ApiClient, type ClientFlags, configuredServer } from "./client.js";
import { formatTimestamp, textTable } from "../lib/format.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";
import { confirm, type ConfirmFlags, yesOption } from "./confirm.js";

export type SecretIo = {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
};

export const secretProcessIo = (): SecretIo => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: process.stdin,
  env: process.env,
});

export type StoreFlags = { dataDir?: string; database?: string };
export type ScopeFlags = { repo?: string; env?: string };
/** Where a command works: a server (--server, --token) or a local store (--data-dir, --database). */
export type TargetFlags = StoreFlags & ClientFlags;

/**
 * The server a command talks to, or undefined for the local store: --data-dir or --database choose the
 * local store; otherwise --server, SLIPWAY_SERVER or the server of `slipway login`, when there is one.
 */
export function remoteClient(flags: TargetFlags, env: NodeJS.ProcessEnv): ApiClient | undefined {
  if (flags.dataDir !== undefined || flags.database !== undefined) {
    if (flags.server !== undefined)
      throw new UserError(
        "--server works on a running server, --data-dir/--database on a local store: give one of them",
      );
    return undefined;
  }
  return configuredServer(flags, env) ? new ApiClient(flags, env) : undefined;
}

function scopeQuery(scope: { repo?: string | null; env?: string | null }): string {
  const q = new URLSearchParams();
  if (scope.repo) q.set("repo", scope.repo);
  if (scope.env) q.set("env", scope.env);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The server's data directory and database, as `slipway serve` resolves them. */
export function localStoreOptions(
  flags: StoreFlags,
  env: NodeJS.ProcessEnv,
): { dataDir: string; url?: string } {
  const dataDir = resolve(
    flags.dataDir ?? env.SLIPWAY_DATA_DIR_SERVER ?? join(defaultDataDir(env), "server"),
  );
  return { dataDir, url: flags.database ?? env.SLIPWAY_DATABASE };
}

export async function withLocalStore<T>(
  flags: StoreFlags,
  env: NodeJS.ProcessEnv,
  fn: (store: Store, dataDir: string) => Promise<T>,
): Promise<T> {
  const opts = localStoreOptions(flags, env);
  const store = await openStore(opts);
  try {
    return await fn(store, opts.dataDir);
  } finally {
    await store.close();
  }
}

/** Who the audit log names for changes made from this machine's shell. */
export function localActor(env: NodeJS.ProcessEnv): string {
  let name = env.USER ?? env.LOGNAME;
  try {
    name ??= userInfo().username;
  } catch {
    name ??= "unknown";
  }
  return `cli:${name}`;
}

async function readStdin(io: SecretIo): Promise<Buffer> {
  if (io.stdin.isTTY)
    throw new UserError(
      'secret set reads the value from stdin; pipe it in, e.g. `printf %s "$TOKEN" | slipway secret set NAME` or `slipway secret set NAME < key.pem` (a value in argv would show in ps and shell history)',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin)
    chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function openSecrets(store: Store, dataDir: string, env: NodeJS.ProcessEnv): SecretStore {
  return createSecretStore(store, loadMasterKey({ dataDir, env }));
}

export async function runSecretSet(
  name: string,
  flags: TargetFlags & ScopeFlags & { json?: boolean },
  io: SecretIo,
): Promise<number> {
  const scope = normalizeScope({ repo: flags.repo, env: flags.env });
  const client = remoteClient(flags, io.env);
  const value = await readStdin(io);
  try {
    if (client) {
      if (value.length === 0) throw new UserError(`secret ${name}: the value is empty (stdin had nothing)`);
      // Base64: any bytes (binary keys, CRLF, trailing newlines) arrive as they were read.
      const r = await client.request<{ created: boolean }>("POST", "/api/v1/secrets", {
        name,
        value_base64: value.toString("base64"),
        ...(scope.repo ? { repo: scope.repo } : {}),
        ...(scope.env ? { env: scope.env } : {}),
      });
      const where = describeScope(scope);
      if (flags.json) io.stdout(`${JSON.stringify({ name, ...scope, scope: where, created: r.created })}\n`);
      else
        io.stderr(
          `${r.created ? "created" : "updated"} secret ${name} (${where}, ${value.length} bytes) on ${client.server}\n`,
        );
      return 0;
    }
    return await withLocalStore(flags, io.env, async (store, dataDir) => {
      const secrets = openSecrets(store, dataDir, io.env);
      if (secrets.key?.created)
        io.stderr(
          `created the master key ${secrets.key.source} (mode 0600): back it up; without it the secrets cannot be read\n`,
        );
      // Refuse to mix keys: a value under another key would be unreadable by the server.
      await secrets.checkKey();
      const { created } = await secrets.set({ name, value, scope, actor: localActor(io.env) });
      const where = describeScope(scope);
      if (flags.json) io.stdout(`${JSON.stringify({ name, ...scope, scope: where, created })}\n`);
      else io.stderr(`${created ? "created" : "updated"} secret ${name} (${where}, ${value.length} bytes)\n`);
      return 0;
    });
  } finally {
    value.fill(0);
  }
}

export async function runSecretList(
  flags: TargetFlags & ScopeFlags & { json?: boolean },
  io: SecretIo,
): Promise<number> {
  const client = remoteClient(flags, io.env);
  const list = client
    ? (await client.request<{ secrets: SecretInfo[] }>("GET", `/api/v1/secrets${scopeQuery(flags)}`)).secrets
    : await withLocalStore(flags, io.env, async (store, dataDir) => {
        // Listing decrypts nothing; the key is not needed (and not created).
        const secrets = createSecretStore(store, existingMasterKey(dataDir, io.env));
        return secrets.list({ repo: flags.repo, env: flags.env });
      });
  if (flags.json) {
    io.stdout(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  if (list.length === 0) {
    io.stderr("no secrets\n");
    return 0;
  }
  io.stdout(
    textTable([
      ["NAME", "SCOPE", "UPDATED", "BY"],
      ...list.map((s) => [s.name, s.scope, formatTimestamp(s.updatedAt), s.updatedBy]),
    ]),
  );
  return 0;
}

export async function runSecretRemove(
  name: string,
  flags: TargetFlags & ScopeFlags & ConfirmFlags,
  io: SecretIo,
): Promise<number> {
  const scope = normalizeScope({ repo: flags.repo, env: flags.env });
  const client = remoteClient(flags, io.env);
  await confirm(`Remove secret ${name} (${describeScope(scope)})?`, flags, {
    stdin: io.stdin,
    stderr: process.stderr,
    env: io.env,
  });
  if (client) {
    // A 404 (no such secret in that scope) is the client's UserError.
    const r = await client.request<{ removed: boolean }>(
      "DELETE",
      `/api/v1/secrets/${encodeURIComponent(name)}${scopeQuery(scope)}`,
    );
    if (flags.json) io.stdout(`${JSON.stringify({ name, ...scope, removed: r.removed })}\n`);
    else io.stderr(`removed secret ${name} (${describeScope(scope)}) on ${client.server}\n`);
    return 0;
  }
  return withLocalStore(flags, io.env, async (store, dataDir) => {
    const secrets = createSecretStore(store, existingMasterKey(dataDir, io.env));
    const removed = await secrets.remove({ name, scope, actor: localActor(io.env) });
    if (!removed) throw new UserError(`no secret ${name} (${describeScope(scope)})`);
    if (flags.json) io.stdout(`${JSON.stringify({ name, ...scope, removed })}\n`);
    else io.stderr(`removed secret ${name} (${describeScope(scope)})\n`);
    return 0;
  });
}

export async function runSecretAudit(
  name: string | undefined,
  flags: TargetFlags & { json?: boolean; limit?: string },
  io: SecretIo,
): Promise<number> {
  const limit = flags.limit === undefined ? 100 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit must be a positive whole number`);
  const client = remoteClient(flags, io.env);
  const query = new URLSearchParams({ limit: String(limit), ...(name ? { name } : {}) });
  const entries = client
    ? (await client.request<{ audit: AuditEntry[] }>("GET", `/api/v1/secrets/audit?${query}`)).audit
    : await withLocalStore(flags, io.env, async (store, dataDir) =>
        createSecretStore(store, existingMasterKey(dataDir, io.env)).audit({ name, limit }),
      );
  if (flags.json) io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
  else if (entries.length === 0) io.stderr("no changes recorded\n");
  else
    io.stdout(
      textTable([
        ["WHEN", "WHO", "ACTION", "NAME", "SCOPE"],
        ...entries.map((e) => [formatTimestamp(e.at), e.actor, e.action, e.subject, describeScope(e)]),
      ]),
    );
  return 0;
}

/**
 * `secret rotate-key`: a new master key for a local data directory, every sealed value re-encrypted
 * under it in one transaction, the old key kept as master.key.old. Works on the data directory only
 * (the server must be stopped: it holds the old key in memory).
 */
export async function runSecretRotateKey(
  flags: TargetFlags & { json?: boolean },
  io: SecretIo,
): Promise<number> {
  if (flags.server !== undefined)
    throw new UserError(
      "rotate-key works on the server's data directory (--data-dir/--database), with the server stopped, not through --server",
    );
  return withLocalStore(flags, io.env, async (store, dataDir) => {
    const key = loadMasterKey({ dataDir, env: io.env, create: false });
    await createSecretStore(store, key).checkKey();
    const r = await rotateMasterKeyFile(store, dataDir, key, localActor(io.env));
    if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
    else
      io.stderr(
        `rotated the master key ${r.from} → ${r.to}: re-encrypted ${r.secrets} secrets, ${r.webhookSecrets} webhook secrets, ${r.forgeTokens} forge tokens, ${r.jobSpecs} queued job specs\n` +
          `the new key is ${r.keyFile} (back it up); the old one is kept in ${r.oldKeyFile} — remove it once the server has started with the new key\n`,
      );
    return 0;
  });
}

/** The master key when there is one; commands that decrypt nothing work without (and create none). */
export function existingMasterKey(dataDir: string, env: NodeJS.ProcessEnv) {
  try {
    return loadMasterKey({ dataDir, env, create: false });
  } catch (err) {
    if (err instanceof UserError && /^no master key/.test(err.message)) return undefined;
    throw err;
  }
}

// Commander's inferred types cannot follow options added by a helper; the actions declare their flags.
export function storeOptions(cmd: any): any {
  return cmd
    .option(
      "--server <url>",
      "a running server (env SLIPWAY_SERVER; default: the one of `slipway login`, if any)",
    )
    .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option(
      "--data-dir <dir>",
      "instead of a server: its data directory (env SLIPWAY_DATA_DIR; default: as slipway serve)",
    )
    .option(
      "--database <url>",
      "instead of a server: postgres://… when it uses PostgreSQL (env SLIPWAY_DATABASE)",
    )
    .option("--json", "print JSON");
}

function scopeOptions(cmd: any): any {
  return cmd
    .option("--repo <owner/name>", "scope to a repository")
    .option("-E, --env <name>", "scope to a deploy environment");
}

export function registerSecret(program: Command, io: () => SecretIo = secretProcessIo): void {
  const secret = program
    .command("secret")
    .description(
      "encrypted secrets for runs and deploys: global < repository < environment, the narrowest wins",
    );
  storeOptions(
    scopeOptions(
      secret
        .command("set")
        .description("create or replace a secret; the value is read from stdin (never from the command line)")
        .argument("<name>", "A-Z, 0-9 and _, not starting with a digit or GITHUB_"),
    ),
  ).action(async (name: string, flags: TargetFlags & ScopeFlags & { json?: boolean }) => {
    process.exitCode = await runSecretSet(name, flags, io());
  });
  storeOptions(
    scopeOptions(
      secret.command("list").description("names, scopes and who changed them when (never values)"),
    ),
  ).action(async (flags: TargetFlags & ScopeFlags & { json?: boolean }) => {
    process.exitCode = await runSecretList(flags, io());
  });
  yesOption(
    storeOptions(
      scopeOptions(
        secret.command("rm").description("delete a secret of exactly this scope").argument("<name>"),
      ),
    ),
  ).action(async (name: string, flags: TargetFlags & ScopeFlags & ConfirmFlags) => {
    process.exitCode = await runSecretRemove(name, flags, io());
  });
  storeOptions(
    secret
      .command("rotate-key")
      .description(
        "replace the master key of a local data directory (server stopped): re-encrypt every secret, keep the old key as master.key.old",
      ),
  ).action(async (flags: TargetFlags & { json?: boolean }) => {
    process.exitCode = await runSecretRotateKey(flags, io());
  });
  storeOptions(
    secret
      .command("audit")
      .description("the audit log of secret changes: who, what, when (never values)")
      .argument("[name]", "only this secret")
      .option("-L, --limit <n>", "at most this many entries", "100"),
  ).action(async (name: string | undefined, flags: TargetFlags & { json?: boolean; limit?: string }) => {
    process.exitCode = await runSecretAudit(name, flags, io());
  });
}
