// The HTTP face of the CI service: webhooks (checked by signature), the REST API under /api/v1 (checked
// by role), the runner protocol (checked by runner token), Server-Sent Events, health and metrics, the
// notification delivery log and test messages.
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { CiEvent, CiService, RerunRequest } from "../ci/index.js";
import { RunnerApi } from "../ci/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { deliveryView, type Notifier, type NotifyConfig } from "../notify/index.js";
import type { JobResult, StepReport } from "../runner/index.js";
import {
  listSecretsRequest,
  removeSecretRequest,
  type SecretStore,
  setSecretRequest,
} from "../secrets/index.js";
import {
  type NotificationStatus,
  notificationStatuses,
  type Role,
  roleAllows,
  type Runner,
  type TokenIdentity,
} from "../store/index.js";
import { maxWebhookBody, WebhookError, type WebhookProvider, webhookProviders } from "../triggers/index.js";
import { mountDeployRoutes } from "./deploy-routes.js";
import type { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";

export type Env = { Variables: { identity: TokenIdentity; runner: Runner } };

export type AppOptions = {
  ci: CiService;
  metrics: Metrics;
  secrets?: SecretStore;
  /** The delivery log and `notify test` need it; without it those routes are absent. */
  notifier?: Notifier;
  /** The server's own notification rules and channels. */
  notifyConfig?: NotifyConfig;
  isReady: () => boolean;
  /** The store's URL (PostgreSQL, or a SQLite file elsewhere than the data directory): deploy agents open it too. */
  database?: string;
};

/** A whole number in [1, max] from a query parameter, or `fallback` when it is absent. */
function queryInt(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UserError(`'${name}' must be a whole number from 1 to ${max}, got '${value}'`);
  return n;
}

function problem(c: Context, status: number, message: string) {
  return c.json({ error: message }, status as 400);
}

function bearer(c: Context): string | undefined {
  const h = c.req.header("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m?.[1]?.trim();
}

async function readBody(c: Context, limit: number): Promise<Buffer> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw new WebhookError(413, `the body is larger than ${limit} bytes`);
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new WebhookError(413, `the body is larger than ${limit} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

async function jsonBody<T>(c: Context): Promise<T> {
  const text = (await readBody(c, 10 * 1024 * 1024)).toString("utf8");
  if (!text.trim()) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new UserError(`malformed JSON: ${(err as Error).message}`);
  }
}

export function createApp(opts: AppOptions): Hono<Env> {
  const { ci, metrics } = opts;
  const store = ci.store;
  const runnerApi = new RunnerApi(ci);
  const app = new Hono<Env>();

  app.onError((err, c) => {
    if (err instanceof WebhookError) return problem(c, err.status, err.message);
    if (err instanceof UserError) {
      const status = /^no (repository|run|job)\b/.test(err.message) ? 404 : 400;
      return c.json({ error: err.message, problems: err.problems }, status);
    }
    if (err instanceof OperationError) return problem(c, 500, err.message);
    return problem(c, 500, `internal error: ${(err as Error).message}`);
  });

  const requireRole =
    (role: Role): MiddlewareHandler<Env> =>
    async (c, next) => {
      const token = bearer(c);
      const identity = token ? await store.tokens.verify(token) : null;
      if (!identity) return problem(c, 401, "a valid API token is required (Authorization: Bearer …)");
      if (!roleAllows(identity.role, role))
        return problem(c, 403, `this needs the ${role} role; the token has ${identity.role}`);
      c.set("identity", identity);
      await next();
    };

  const requireRunner: MiddlewareHandler<Env> = async (c, next) => {
    const token = bearer(c);
    const runner = token ? await store.runners.getByToken(token) : null;
    if (!runner) return problem(c, 401, "a valid runner token is required");
    c.set("runner", runner);
    await store.runners.heartbeat(runner.id);
    await next();
  };

  // --- operations ---
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", async (c) => {
    if (!opts.isReady()) return c.text("shutting down\n", 503);
    try {
      await store.repos.list();
      return c.text("ready\n");
    } catch (err) {
      return c.text(`database unavailable: ${(err as Error).message}\n`, 503);
    }
  });
  app.get("/metrics", async (c) => {
    const text = await metrics.render();
    return c.body(text, 200, { "content-type": metrics.contentType });
  });
  app.get("/api/v1/openapi.json", (c) => c.json(openApiDocument()));

  // --- webhooks: signatures, not tokens ---
  app.post("/hooks/:provider", async (c) => {
    const provider = c.req.param("provider") as WebhookProvider;
    if (!webhookProviders.includes(provider))
      return problem(c, 404, `unknown webhook provider '${provider}'`);
    const body = await readBody(c, maxWebhookBody);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    const result = await ci.handleWebhook(provider, headers, body);
    return c.json(result.body, result.status as 200);
  });

  // --- repositories ---
  app.get("/api/v1/repos", requireRole("viewer"), async (c) => c.json({ repos: await store.repos.list() }));
  app.post("/api/v1/repos", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ url?: string; name?: string; branch?: string; pollInterval?: number }>(c);
    if (!body.url) throw new UserError("'url' is required");
    const { repo, webhookSecret } = await ci.addRepo({
      url: body.url,
      name: body.name,
      branch: body.branch,
      pollIntervalS: body.pollInterval ?? null,
    });
    return c.json({ repo, webhookSecret }, 201);
  });
  app.get("/api/v1/repos/:name{.+}/runs", requireRole("viewer"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    return c.json({
      runs: await store.runs.list({ repoId: repo.id, limit: Number(c.req.query("limit") ?? 50) }),
    });
  });
  app.post("/api/v1/repos/:name{.+}/dispatch", requireRole("developer"), async (c) => {
    const body = await jsonBody<{ workflow?: string; ref?: string; inputs?: Record<string, string> }>(c);
    if (!body.workflow) throw new UserError("'workflow' is required");
    const runs = await ci.dispatch({
      repo: c.req.param("name"),
      workflow: body.workflow,
      ref: body.ref,
      inputs: body.inputs,
      actor: c.get("identity").name,
    });
    return c.json({ runs }, 201);
  });
  app.get("/api/v1/repos/:name{.+}", requireRole("viewer"), async (c) =>
    c.json({ repo: await ci.repoByName(c.req.param("name")) }),
  );

  // --- runs ---
  app.get("/api/v1/runs", requireRole("viewer"), async (c) => {
    const repoName = c.req.query("repo");
    const repo = repoName ? await ci.repoByName(repoName) : undefined;
    const status = c.req.query("status") as "queued" | "running" | "completed" | undefined;
    const runs = await store.runs.list({
      repoId: repo?.id,
      status,
      limit: Number(c.req.query("limit") ?? 50),
    });
    return c.json({ runs });
  });
  const runOr404 = async (id: string) => {
    const run = Number.isInteger(Number(id)) ? await store.runs.get(Number(id)) : null;
    if (!run) throw new UserError(`no run ${id}`);
    return run;
  };
  app.get("/api/v1/runs/:id", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const attempts = [];
    for (let a = 1; a <= run.attempt; a++) {
      const jobs = await store.jobs.list(run.id, a);
      attempts.push({
        attempt: a,
        jobs: await Promise.all(
          jobs.map(async (j) => ({ ...j, spec: undefined, steps: await store.steps.list(j.id) })),
        ),
      });
    }
    return c.json({ run, attempts });
  });
  app.get("/api/v1/runs/:id/logs", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const attempt = Number(c.req.query("attempt") ?? run.attempt);
    const job = c.req.query("job");
    const jobs = (await store.jobs.list(run.id, attempt)).filter(
      (j) => !job || j.jobKey === job || j.jobId === job,
    );
    if (job && jobs.length === 0) throw new UserError(`no job '${job}' in run ${run.id} attempt ${attempt}`);
    const out = [];
    for (const j of jobs) {
      const chunks = await store.logs.read(j.id, { afterSeq: Number(c.req.query("after") ?? 0) });
      out.push({ jobRowId: j.id, jobKey: j.jobKey, name: j.name, status: j.status, chunks });
    }
    return c.json({ run: run.id, attempt, jobs: out });
  });
  app.get("/api/v1/runs/:id/events", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    return streamSSE(c, async (stream) => {
      const queue: CiEvent[] = [];
      let wake: (() => void) | undefined;
      const onEvent = (e: CiEvent) => {
        if (e.runId !== run.id) return;
        queue.push(e);
        wake?.();
      };
      ci.events.on("event", onEvent);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        const fresh = await store.runs.get(run.id);
        await stream.writeSSE({
          event: "run",
          data: JSON.stringify({
            type: "run",
            runId: run.id,
            status: fresh?.status,
            conclusion: fresh?.conclusion,
          }),
        });
        if (fresh?.status === "completed") return;
        while (!closed) {
          while (queue.length) {
            const e = queue.shift()!;
            await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
            if (e.type === "run" && e.status === "completed") return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000);
          });
          wake = undefined;
          if (!queue.length && !closed) await stream.writeSSE({ event: "ping", data: "{}" });
        }
      } finally {
        ci.events.off("event", onEvent);
      }
    });
  });
  app.post("/api/v1/runs/:id/rerun", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const body = await jsonBody<RerunRequest>(c);
    return c.json({ run: await ci.rerun(run.id, body) }, 202);
  });
  app.post("/api/v1/runs/:id/cancel", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    return c.json({ run: await ci.cancel(run.id) });
  });

  // --- secrets: values go in, never out ---
  if (opts.secrets) {
    const secrets = opts.secrets;
    app.get("/api/v1/secrets", requireRole("developer"), async (c) =>
      c.json(await listSecretsRequest(secrets, c.req.query())),
    );
    app.post("/api/v1/secrets", requireRole("admin"), async (c) =>
      c.json(await setSecretRequest(secrets, c.get("identity").name, await jsonBody(c)), 201),
    );
    app.delete("/api/v1/secrets/:name", requireRole("admin"), async (c) => {
      const r = await removeSecretRequest(
        secrets,
        c.get("identity").name,
        c.req.param("name"),
        c.req.query(),
      );
      return r.removed ? c.json(r) : problem(c, 404, `no secret ${c.req.param("name")} in that scope`);
    });
    app.get("/api/v1/secrets/audit", requireRole("admin"), async (c) =>
      c.json({
        audit: await secrets.audit({
          name: c.req.query("name") || undefined,
          limit: queryInt(c.req.query("limit"), "limit", 200, 1000),
        }),
      }),
    );
  }

  // --- notifications: the delivery log (no bodies, no channel definitions) and test messages ---
  if (opts.notifier) {
    const notifier = opts.notifier;
    app.get("/api/v1/notifications/deliveries", requireRole("viewer"), async (c) => {
      const status = c.req.query("status") || undefined;
      if (status !== undefined && !notificationStatuses.includes(status as NotificationStatus))
        throw new UserError(`'status' must be one of ${notificationStatuses.join(", ")}, got '${status}'`);
      const repo = c.req.query("repo");
      const before = c.req.query("before");
      const list = await store.notifications.list({
        status: status as NotificationStatus | undefined,
        channel: c.req.query("channel") || undefined,
        ...(repo !== undefined ? { scope: repo || null } : {}),
        ...(before ? { beforeId: queryInt(before, "before", 1, Number.MAX_SAFE_INTEGER) } : {}),
        limit: queryInt(c.req.query("limit"), "limit", 50, 1000),
      });
      return c.json({ deliveries: list.map(deliveryView) });
    });
    app.post("/api/v1/notifications/test", requireRole("developer"), async (c) => {
      const body = await jsonBody<{ channel?: unknown; repo?: unknown }>(c);
      if (typeof body.channel !== "string" || !body.channel)
        throw new UserError(
          "'channel' is required: a channel name of the server's or a repository's notify:",
        );
      if (body.repo !== undefined && body.repo !== null && typeof body.repo !== "string")
        throw new UserError("'repo' must be a repository name");
      const repo = typeof body.repo === "string" && body.repo ? body.repo : undefined;
      const config = repo ? await ci.repoNotifyConfigAtHead(repo) : opts.notifyConfig;
      if (!config)
        throw new UserError(
          repo
            ? `${repo}'s slipway.yaml has no notify: section on its default branch`
            : "the server has no notification channels (slipway serve --notify-config FILE)",
        );
      const delivery = await notifier.test(body.channel, config, { scope: repo ?? null });
      return c.json({ delivery: deliveryView(delivery) });
    });
  }

  // --- deploys, releases and the environments' agents ---
  mountDeployRoutes(app, { ci, requireRole, jsonBody, database: opts.database });

  // --- tokens and runners (admin) ---
  app.get("/api/v1/tokens", requireRole("admin"), async (c) => c.json({ tokens: await store.tokens.list() }));
  app.post("/api/v1/tokens", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ name?: string; role?: Role }>(c);
    if (!body.name || !body.role) throw new UserError("'name' and 'role' are required");
    if (!["viewer", "developer", "deployer", "admin"].includes(body.role))
      throw new UserError(`unknown role '${body.role}'`);
    return c.json(await store.tokens.create(body.name, body.role), 201);
  });
  app.delete("/api/v1/tokens/:id", requireRole("admin"), async (c) => {
    const ok = await store.tokens.revoke(Number(c.req.param("id")));
    return ok ? c.json({ ok }) : problem(c, 404, `no token ${c.req.param("id")}`);
  });
  app.get("/api/v1/runners", requireRole("admin"), async (c) =>
    c.json({ runners: await store.runners.list() }),
  );
  app.post("/api/v1/runners", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ name?: string; labels?: string[] }>(c);
    if (!body.name) throw new UserError("'name' is required");
    const { runner, token } = await store.runners.register({ name: body.name, labels: body.labels ?? [] });
    return c.json({ runner, token }, 201);
  });

  // --- the runner protocol ---
  app.post("/api/v1/runner/claim", requireRunner, async (c) => {
    const runner = c.get("runner");
    const body = await jsonBody<{ labels?: string[]; waitMs?: number }>(c);
    const labels = body.labels ?? runner.labels;
    const deadline = Date.now() + Math.min(body.waitMs ?? 0, 25_000);
    for (;;) {
      const claimed = await runnerApi.claim(runner.id, labels);
      if (claimed) return c.json(claimed);
      const left = deadline - Date.now();
      if (left <= 0) return c.body(null, 204);
      // Long poll: wake when a leg is queued.
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 5000));
        function done() {
          clearTimeout(t);
          ci.events.off("queued", done);
          resolve();
        }
        ci.events.on("queued", done);
      });
    }
  });
  app.post("/api/v1/runner/jobs/:id/heartbeat", requireRunner, async (c) =>
    c.json({ ok: await runnerApi.heartbeat(c.get("runner").id, Number(c.req.param("id"))) }),
  );
  app.post("/api/v1/runner/jobs/:id/logs", requireRunner, async (c) => {
    const body = await jsonBody<{ seq: number; content: string }>(c);
    if (!Number.isInteger(body.seq) || typeof body.content !== "string")
      throw new UserError("'seq' and 'content' are required");
    const ok = await runnerApi.appendLog(
      c.get("runner").id,
      Number(c.req.param("id")),
      body.seq,
      body.content,
    );
    return ok ? c.json({ ok }) : problem(c, 409, "the job is not this runner's");
  });
  app.post("/api/v1/runner/jobs/:id/steps", requireRunner, async (c) => {
    const body = await jsonBody<StepReport>(c);
    const ok = await runnerApi.step(c.get("runner").id, Number(c.req.param("id")), body);
    return ok ? c.json({ ok }) : problem(c, 409, "the job is not this runner's");
  });
  app.post("/api/v1/runner/jobs/:id/complete", requireRunner, async (c) => {
    const body = await jsonBody<JobResult>(c);
    return c.json({ ok: await runnerApi.complete(c.get("runner").id, Number(c.req.param("id")), body) });
  });

  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  return app;
}
