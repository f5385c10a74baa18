// Repositories: register and change settings (admin), list and read (viewer), their runs, and
// workflow_dispatch (developer). A webhook secret is in two answers only, registering and rotating
// (admin): no GET holds it.
import type { Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { UserError } from "../../lib/errors.js";
import { parseForkPolicy } from "../../store/index.js";
import { type Env, type Guards, jsonBody, queryInt } from "../http.js";

export function mountRepoRoutes(app: Hono<Env>, o: { ci: CiService; guards: Guards }): void {
  const { ci } = o;
  const { requireRole } = o.guards;
  const store = ci.store;
  app.get("/api/v1/repos", requireRole("viewer"), async (c) => c.json({ repos: await store.repos.list() }));
  app.post("/api/v1/repos", requireRole("admin"), async (c) => {
    const body = await jsonBody<{
      url?: string;
      name?: string;
      branch?: string;
      pollInterval?: number;
      forkPullRequests?: unknown;
    }>(c);
    if (!body.url) throw new UserError("'url' is required");
    // Checked before anything is stored: a bad policy registers nothing.
    const forkPullRequests =
      body.forkPullRequests === undefined ? undefined : parseForkPolicy(body.forkPullRequests);
    const added = await ci.addRepo({
      url: body.url,
      name: body.name,
      branch: body.branch,
      pollIntervalS: body.pollInterval ?? null,
      actor: c.get("identity").name,
    });
    const { webhookSecret } = added;
    // Set before the webhook secret is handed out, so no signed delivery can precede it.
    const repo =
      forkPullRequests === undefined
        ? added.repo
        : await ci.updateRepo(added.repo.name, { forkPullRequests }, c.get("identity").name);
    // The only answer that holds the secret: not to be cached by anything in between.
    c.header("cache-control", "no-store");
    return c.json({ repo, webhookSecret }, 201);
  });
  // A new webhook secret, answered once (never readable later); the old one stops verifying. Audited.
  app.post("/api/v1/repos/:name{.+}/webhook-secret", requireRole("admin"), async (c) => {
    const r = await ci.rotateWebhookSecret(c.req.param("name"), c.get("identity").name);
    c.header("cache-control", "no-store");
    return c.json({ repo: r.repo, webhookSecret: r.webhookSecret });
  });
  app.get("/api/v1/repos/:name{.+}/runs", requireRole("viewer"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    return c.json({
      runs: await store.runs.list({
        repoId: repo.id,
        limit: queryInt(c.req.query("limit"), "limit", 50, 1000),
      }),
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
  app.patch("/api/v1/repos/:name{.+(?<!/forge)}", requireRole("admin"), async (c) => {
    const body = await jsonBody<Record<string, unknown>>(c);
    const settable = ["forkPullRequests"];
    const unknown = Object.keys(body).filter((k) => !settable.includes(k));
    if (unknown.length > 0 || Object.keys(body).length === 0)
      throw new UserError(
        `${unknown.length ? `cannot change ${unknown.map((k) => JSON.stringify(k.slice(0, 60))).join(", ")}: ` : ""}say what to change: ${settable.join(", ")}`,
      );
    const repo = await ci.updateRepo(
      c.req.param("name"),
      { forkPullRequests: body.forkPullRequests },
      c.get("identity").name,
    );
    return c.json({ repo });
  });
  // Not ending in /runs or /forge: the greedy name would otherwise take GET …/runs from the route above
  // (and …/forge from routes/forge.ts).
  app.get("/api/v1/repos/:name{.+(?<!/runs)(?<!/forge)}", requireRole("viewer"), async (c) =>
    c.json({ repo: await ci.repoByName(c.req.param("name")) }),
  );
}
