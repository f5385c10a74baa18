// Starting and stopping the CI server: the store (SQLite by default, PostgreSQL with a URL), the first
// admin token, the HTTP listener, the background loops, the Notifier (its pending deliveries resume at
// the next start), and a graceful stop.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { type ArtifactSettings, CiService, runBackground, type WebhookIntakeOptions } from "../ci/index.js";
import type { ActionSourceSettings, UntrustedPolicy } from "../runner/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { makeDataDirPrivate } from "../lib/file-modes.js";
import { ForgeReporter, forgeDeliverer } from "../forge/index.js";
import { loadNotifyFile, Notifier, type NotifyConfig } from "../notify/index.js";
import {
  createSecretStore,
  loadMasterKey,
  scrubReplacedValues,
  sealClearWebhookSecrets,
} from "../secrets/index.js";
import { openStore, type Store } from "../store/index.js";
import { createApp } from "./app.js";
import { createMetrics } from "./metrics.js";

export type ServeOptions = {
  /** host:port; default 127.0.0.1:8420. */
  listen?: string;
  dataDir: string;
  database?: string;
  maxJobs?: number;
  maxJobsPerRepo?: number;
  /** Legs the server's own runner runs at once; 0 = none (remote runners only). */
  localRunners?: number;
  localLabels?: string[];
  /** What the server's own runner does with forks' legs (default: from SLIPWAY_UNTRUSTED*, see runner/isolation.ts). */
  untrusted?: UntrustedPolicy;
  leaseMs?: number;
  pollEveryMs?: number;
  /** Event streams open at once; more are answered 503 (default 256). */
  maxEventStreams?: number;
  /** A job's stored log stops here with one truncation marker (default 64 MiB). */
  maxJobLogBytes?: number;
  /** Artifact retention (days) and the per-run size cap. */
  artifacts?: ArtifactSettings;
  /**
   * The server's notification rules and channels: a YAML file shaped like slipway.yaml's `notify:`
   * section. Validated at start: a bad file is a UserError with file:line:col and the server does not start.
   */
  notifyConfig?: string;
  /** The URL people reach the server at (behind a proxy), for links in notifications; default: the listen URL. */
  publicUrl?: string;
  /** Delivery tuning (tests, slow receivers): per attempt, first retry delay, attempts. */
  notifyTimeoutMs?: number;
  notifyRetryMs?: number;
  notifyMaxAttempts?: number;
  /** Webhook intake limits (bytes in flight, the legacy URL's body cap, the replay window). */
  webhooks?: WebhookIntakeOptions;
  /** Where runs fetch remote actions from (default: the SLIPWAY_ACTIONS_URL and SLIPWAY_ACTIONS_OFFLINE variables, else github.com), and whether offline. */
  actions?: ActionSourceSettings;
  log?: (line: string) => void;
};

export type RunningServer = {
  url: string;
  ci: CiService;
  store: Store;
  notifier: Notifier;
  /** The first admin token, when this start created it. */
  adminToken?: string;
  /** Stops claiming, lets running steps finish for up to graceMs, then cancels the rest. */
  stop(graceMs?: number): Promise<void>;
};

/** `<dataDir>/admin-token`, mode 0600 (also when the file existed with another mode). */
function writeAdminToken(dataDir: string, token: string): string {
  const file = join(dataDir, "admin-token");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/**
 * The way back in when no admin token is known (lost, or every other one revoked): a new admin token,
 * written to `<dataDir>/admin-token` (0600) and returned. Nothing is revoked. It needs only the data
 * directory (and database), so it works with the server stopped — and, the store being shared safely
 * between processes, also while it runs.
 */
export async function resetAdminToken(opts: {
  dataDir: string;
  database?: string;
}): Promise<{ token: string; file: string; id: number }> {
  if (!existsSync(opts.dataDir))
    throw new UserError(`no data directory ${opts.dataDir}: pass the server's --data-dir`);
  const store = await openStore({ url: opts.database, dataDir: opts.dataDir });
  try {
    // Whoever can run this on the server's machine holds its data directory; the log still says it happened.
    const issued = await store.transaction(async (tx) => {
      const t = await tx.tokens.resetAdmin();
      await tx.audit.append({
        actor: "slipway serve --reset-admin-token",
        action: "token.reset-admin",
        subject: t.name,
        detail: { id: t.id, role: t.role },
      });
      return t;
    });
    return { token: issued.token, id: issued.id, file: writeAdminToken(opts.dataDir, issued.token) };
  } finally {
    await store.close();
  }
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  if (!m) throw new UserError(`--listen '${listen}': expected host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new UserError(`--listen '${listen}': port out of range`);
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

/** The base of links to the server: an http(s) URL without a trailing slash. */
export function parsePublicUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(`--public-url '${value}': expected an http:// or https:// URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new UserError(`--public-url '${value}': expected an http:// or https:// URL`);
  return u.toString().replace(/\/+$/, "");
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen ?? "127.0.0.1:8420");
  // Configuration first: a mistake in it stops the start before anything is opened or created.
  const notifyConfig: NotifyConfig | undefined = opts.notifyConfig
    ? loadNotifyFile(opts.notifyConfig)
    : undefined;
  const publicUrl = opts.publicUrl ? parsePublicUrl(opts.publicUrl) : undefined;
  try {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new OperationError(`cannot use the data directory ${opts.dataDir}: ${(err as Error).message}`);
  }
  const store = await openStore({ url: opts.database, dataDir: opts.dataDir });
  let adminToken: string | undefined;
  if ((await store.tokens.list()).length === 0) {
    adminToken = (await store.tokens.create("admin", "admin")).token;
    writeAdminToken(opts.dataDir, adminToken);
  }
  const masterKey = loadMasterKey({ dataDir: opts.dataDir, env: process.env });
  if (masterKey.created)
    opts.log?.(`created the master key ${join(opts.dataDir, "master.key")} (mode 0600): back it up`);
  const secrets = createSecretStore(store, masterKey);
  await secrets.checkKey();
  // The data directory holds the database (webhook secrets, tokens' hashes), the master key and the
  // admin token: private to this user, also when an older slipway or a loose umask made it open.
  const opened = makeDataDirPrivate(opts.dataDir);
  if (opened.length > 0)
    opts.log?.(
      `warning: the data directory was readable by other users; narrowed to 0700 (files 0600): ${opened.join(", ")}`,
    );
  const sealed = await sealClearWebhookSecrets(store, masterKey);
  if (sealed.length > 0) {
    // The clear values must not linger in the database file's free pages.
    await scrubReplacedValues(store);
    opts.log?.(`sealed the webhook secrets of ${sealed.length} repositories under the master key`);
  }
  const notifier = new Notifier({
    store,
    // A channel's secrets are looked up as its repository sees them (the server's channels: global ones).
    secret: (name, repo) => secrets.lookup(name, { repo }),
    timeoutMs: opts.notifyTimeoutMs,
    baseDelayMs: opts.notifyRetryMs,
    maxAttempts: opts.notifyMaxAttempts,
    log: opts.log,
    // Forge reports (commit statuses, deployments) share the queue, its retries and the delivery log.
    targets: { forge: forgeDeliverer({ store, masterKey }) },
  });
  // Set once listening; a run cannot finish before then (runs start from requests or from `ci.start`,
  // whose notifications are built after this is set or fall back to no link).
  let baseUrl: string | undefined = publicUrl;
  const forge = new ForgeReporter({ store, notifier, publicUrl: () => baseUrl, log: opts.log });
  const ci = new CiService({
    store,
    secrets,
    masterKey,
    dataDir: opts.dataDir,
    maxJobs: opts.maxJobs,
    maxJobsPerRepo: opts.maxJobsPerRepo,
    leaseMs: opts.leaseMs,
    maxJobLogBytes: opts.maxJobLogBytes,
    ...(opts.actions ? { actions: opts.actions } : {}),
    artifacts: opts.artifacts,
    notify: {
      notifier,
      config: notifyConfig,
      runUrl: (id) => (baseUrl ? `${baseUrl}/api/v1/runs/${id}` : undefined),
    },
    webhooks: opts.webhooks,
    forge,
    log: opts.log,
  });
  await notifier.start();
  await ci.start();
  // Deliveries received before a crash but without their runs: finished now (they need git, so in
  // the background; a redelivery meanwhile is recognised and not run twice).
  void ci
    .resumePendingDeliveries()
    .catch((err: unknown) =>
      opts.log?.(`resuming pending webhook deliveries failed: ${(err as Error).message}`),
    );
  const metrics = createMetrics(ci);
  let ready = true;
  const app = createApp({
    ci,
    metrics,
    secrets,
    notifier,
    notifyConfig,
    forge,
    masterKey,
    isReady: () => ready,
    database: opts.database,
    log: opts.log,
    maxEventStreams: opts.maxEventStreams,
    publicUrl,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once("error", (err) =>
      reject(new UserError(`cannot listen on ${host}:${port}: ${(err as Error).message}`)),
    );
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  baseUrl ??= url;
  const stopClaiming = new AbortController();
  const abortLegs = new AbortController();
  const background = runBackground(ci, {
    localConcurrency: opts.localRunners,
    localLabels: opts.localLabels,
    untrusted: opts.untrusted,
    pollEveryMs: opts.pollEveryMs,
    signal: stopClaiming.signal,
    abortLegs: abortLegs.signal,
  });
  let stopped: Promise<void> | undefined;
  return {
    url,
    ci,
    store,
    notifier,
    adminToken,
    stop(graceMs = 30_000) {
      stopped ??= (async () => {
        ready = false;
        stopClaiming.abort();
        const timer = setTimeout(() => abortLegs.abort(new Error("the server is shutting down")), graceMs);
        await Promise.all([ci.stop(graceMs), background]);
        clearTimeout(timer);
        // The last statuses (a run's success) are queued before the notifier stops; sent now or at the next start.
        await forge.drain();
        // Deliveries in progress get the grace period; what is left stays pending for the next start.
        let notifierTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          notifier.stop(),
          new Promise<void>((resolve) => {
            notifierTimer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(notifierTimer);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await store.close();
      })();
      return stopped;
    },
  };
}
