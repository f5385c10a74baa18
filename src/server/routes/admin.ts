// Tokens and runners: created, listed and revoked by admins. The last active admin token cannot be
// revoked (409); a disabled or removed runner's token is refused at once and the legs it held fail.
import type { Hono } from "hono";
import { type CiService, RunnerApi } from "../../ci/index.js";
import { NotFoundError, UserError } from "../../lib/errors.js";
import { checkRunnerLabels, type Role, roles, type Store } from "../../store/index.js";
import { type Env, type Guards, jsonBody } from "../http.js";

function tokenId(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new UserError(`invalid token id ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

export function mountAdminRoutes(app: Hono<Env>, o: { store: Store; ci: CiService; guards: Guards }): void {
  const { store } = o;
  const { requireRole } = o.guards;
  const runnerApi = new RunnerApi(o.ci);
  app.get("/api/v1/tokens", requireRole("admin"), async (c) => c.json({ tokens: await store.tokens.list() }));
  app.post("/api/v1/tokens", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ name?: unknown; role?: unknown }>(c);
    if (body.name === undefined || body.role === undefined)
      throw new UserError("'name' and 'role' are required");
    if (typeof body.role !== "string" || !(roles as readonly string[]).includes(body.role))
      throw new UserError(`'role' must be one of ${roles.join(", ")}`);
    // The store checks the name (printable, at most 100 characters).
    return c.json(await store.tokens.create(body.name as string, body.role as Role), 201);
  });
  app.delete("/api/v1/tokens/:id", requireRole("admin"), async (c) => {
    const id = tokenId(c.req.param("id"));
    const ok = await store.tokens.revoke(id);
    if (!ok) throw new NotFoundError(`no token ${id}`);
    return c.json({ ok });
  });

  app.get("/api/v1/runners", requireRole("admin"), async (c) =>
    c.json({ runners: await store.runners.list() }),
  );
  app.post("/api/v1/runners", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ name?: unknown; labels?: unknown }>(c);
    if (body.name === undefined) throw new UserError("'name' is required");
    const { runner, token } = await store.runners.register({
      name: body.name as string,
      labels: checkRunnerLabels(body.labels ?? []),
    });
    return c.json({ runner, token }, 201);
  });
  app.post("/api/v1/runners/:ref/disable", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await store.runners.setDisabled(runner.id, true);
    const failed = await runnerApi.retireRunner(
      runner.id,
      `runner ${runner.name} (${runner.id}) was disabled by ${c.get("identity").name}`,
    );
    return c.json({ runner: await store.runners.get(runner.id), failedJobs: failed.map((j) => j.id) });
  });
  app.post("/api/v1/runners/:ref/enable", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await store.runners.setDisabled(runner.id, false);
    return c.json({ runner: await store.runners.get(runner.id) });
  });
  app.delete("/api/v1/runners/:ref", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await store.runners.remove(runner.id);
    const failed = await runnerApi.retireRunner(
      runner.id,
      `runner ${runner.name} (${runner.id}) was removed by ${c.get("identity").name}`,
    );
    return c.json({ removed: runner, failedJobs: failed.map((j) => j.id) });
  });
}
