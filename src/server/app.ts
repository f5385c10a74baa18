// The HTTP face of the CI service: webhooks (checked by signature), the REST API under /api/v1 (checked
// by role), the runner protocol (checked by runner token), Server-Sent Events, health and metrics, the
// notification delivery log and test messages. Each feature's routes live in routes/<feature>.ts; this
// file only assembles them and maps errors to responses.
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import type { CiService } from "../ci/index.js";
import { httpStatusFor, OperationError, RefusalError } from "../lib/errors.js";
import type { ForgeReporter } from "../forge/index.js";
import type { Notifier, NotifyConfig } from "../notify/index.js";
import type { MasterKey, SecretStore } from "../secrets/index.js";
import { createGuards, type Env, jsonBody, problem, withoutLocalPaths } from "./http.js";
import type { Metrics } from "./metrics.js";
import { mountAdminRoutes } from "./routes/admin.js";
import { mountAuditRoutes } from "./routes/audit.js";
import { mountArtifactRoutes } from "./routes/artifacts.js";
import { mountDeployRoutes } from "./routes/deploys.js";
import { mountForgeRoutes } from "./routes/forge.js";
import { mountNotificationRoutes } from "./routes/notifications.js";
import { mountOpsRoutes } from "./routes/ops.js";
import { mountEnvironmentRoutes } from "./routes/environments.js";
import { mountRepoRoutes } from "./routes/repos.js";
import { mountRunnerProtocolRoutes } from "./routes/runner-protocol.js";
import { mountRunRoutes } from "./routes/runs.js";
import { mountSecretRoutes } from "./routes/secrets.js";
import { mountUiRoutes } from "./routes/ui.js";
import { mountWebhookRoutes } from "./routes/webhooks.js";

export type { Env } from "./http.js";
export { withoutLocalPaths } from "./http.js";

export type AppOptions = {
  ci: CiService;
  metrics: Metrics;
  secrets?: SecretStore;
  /** The delivery log and `notify test` need it; without it those routes are absent. */
  notifier?: Notifier;
  /** The server's own notification rules and channels. */
  notifyConfig?: NotifyConfig;
  /** Reports deploys to the forge (runs and jobs are reported through the CI service's events). */
  forge?: ForgeReporter;
  /** Seals forge tokens; without it they cannot be set. */
  masterKey?: MasterKey;
  isReady: () => boolean;
  /** The store's URL (PostgreSQL, or a SQLite file elsewhere than the data directory): deploy agents open it too. */
  database?: string;
  /** Where the detail of 500 answers is logged (default: stderr). */
  log?: (line: string) => void;
  /** Event streams open at once (GET /api/v1/runs/:id/events); more are answered 503. Default 256. */
  maxEventStreams?: number;
  /** The URL people reach the server at (behind a proxy): an allowed Origin for the dashboard. */
  publicUrl?: string;
  /** Where the built dashboard is; default dist/web beside the bundle. */
  webDir?: string;
};

export function createApp(opts: AppOptions): Hono<Env> {
  const { ci, metrics } = opts;
  const store = ci.store;
  const guards = createGuards(store, { publicUrl: opts.publicUrl });
  const app = new Hono<Env>();

  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  app.onError((err, c) => {
    // A refusal (bad input, not found, conflict, or a status of its own) is answered as it is.
    const status = httpStatusFor(err);
    if (status < 500 || err instanceof RefusalError) return problem(c, status, err);
    // The detail of a failure stays in the server's log, under an id the answer gives: a client
    // learns neither the server's paths nor its SQL nor its stack.
    const id = randomBytes(6).toString("hex");
    log(`error ${id} on ${c.req.method} ${c.req.path}: ${(err as Error).stack ?? String(err)}`);
    if (err instanceof OperationError)
      return problem(c, 500, err, `${withoutLocalPaths(err.message, ci.dataDir)} (error id ${id})`);
    return problem(c, 500, err, `internal error (id ${id})`);
  });

  mountOpsRoutes(app, { store, metrics, isReady: opts.isReady, log });
  mountWebhookRoutes(app, { ci });
  // Before the repository routes, whose greedy names would take …/forge.
  mountForgeRoutes(app, { ci, guards, masterKey: opts.masterKey });
  mountRepoRoutes(app, { ci, guards });
  mountRunRoutes(app, { ci, guards, maxEventStreams: opts.maxEventStreams });
  mountEnvironmentRoutes(app, { ci, guards });
  if (opts.secrets) mountSecretRoutes(app, { secrets: opts.secrets, guards });
  if (opts.notifier)
    mountNotificationRoutes(app, { ci, notifier: opts.notifier, notifyConfig: opts.notifyConfig, guards });
  mountDeployRoutes(app, {
    ci,
    requireRole: guards.requireRole,
    jsonBody,
    database: opts.database,
    log,
    forge: opts.forge,
  });
  mountAdminRoutes(app, { store, ci, guards });
  mountAuditRoutes(app, { store, guards });
  mountRunnerProtocolRoutes(app, { ci, guards });
  mountArtifactRoutes(app, { ci, guards });
  mountUiRoutes(app, {
    ci,
    guards,
    publicUrl: opts.publicUrl,
    webDir: opts.webDir,
    maxEventStreams: opts.maxEventStreams,
  });

  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  return app;
}
