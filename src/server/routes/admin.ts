// Tokens and runners: created, listed and revoked by admins, each change audited with who made it. The
// last active admin token cannot be revoked (409); a disabled or removed runner's token is refused at once
// and the legs it held fail.
import type { Context, Hono } from "hono";
import { type CiService, RunnerApi } from "../../ci/index.js";
import { NotFoundError, UserError } from "../../lib/errors.js";
import {
  checkRunnerLabels,
  type Role,
  roles,
  type Runner,
  type Store,
  type StoreApi,
} from "../../store/index.js";
import { type Env, type Guards, jsonBody } from "../http.js";

function tokenId(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new UserError(`invalid token id ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/** An admin's change, in the transaction that makes it: who, what, on which token or runner. */
function audit(
  tx: StoreApi,
  c: Context<Env>,
  action: string,
  subject: string,
  detail: Record<string, unknown>,
): Promise<number> {
  return tx.audit.append({ actor: c.get("identity").name, action, subject, detail });
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
    const issued = await store.transaction(async (tx) => {
      const t = await tx.tokens.create(body.name as string, body.role as Role);
      await audit(tx, c, "token.create", t.name, { id: t.id, role: t.role });
      return t;
    });
    return c.json(issued, 201);
  });
  app.delete("/api/v1/tokens/:id", requireRole("admin"), async (c) => {
    const id = tokenId(c.req.param("id"));
    await store.transaction(async (tx) => {
      const token = (await tx.tokens.list()).find((t) => t.id === id);
      if (!token || !(await tx.tokens.revoke(id))) throw new NotFoundError(`no token ${id}`);
      await audit(tx, c, "token.revoke", token.name, { id, role: token.role });
    });
    return c.json({ ok: true });
  });

  app.get("/api/v1/runners", requireRole("admin"), async (c) =>
    c.json({ runners: await store.runners.list() }),
  );
  app.post("/api/v1/runners", requireRole("admin"), async (c) => {
    const body = await jsonBody<{ name?: unknown; labels?: unknown }>(c);
    if (body.name === undefined) throw new UserError("'name' is required");
    const { runner, token } = await store.transaction(async (tx) => {
      const r = await tx.runners.register({
        name: body.name as string,
        labels: checkRunnerLabels(body.labels ?? []),
      });
      await audit(tx, c, "runner.register", r.runner.name, { id: r.runner.id, labels: r.runner.labels });
      return r;
    });
    return c.json({ runner, token }, 201);
  });
  const setDisabled = (c: Context<Env>, runner: Runner, disabled: boolean) =>
    store.transaction(async (tx) => {
      await tx.runners.setDisabled(runner.id, disabled);
      await audit(tx, c, disabled ? "runner.disable" : "runner.enable", runner.name, { id: runner.id });
    });
  app.post("/api/v1/runners/:ref/disable", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await setDisabled(c, runner, true);
    const failed = await runnerApi.retireRunner(
      runner.id,
      `runner ${runner.name} (${runner.id}) was disabled by ${c.get("identity").name}`,
    );
    return c.json({ runner: await store.runners.get(runner.id), failedJobs: failed.map((j) => j.id) });
  });
  app.post("/api/v1/runners/:ref/enable", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await setDisabled(c, runner, false);
    return c.json({ runner: await store.runners.get(runner.id) });
  });
  app.delete("/api/v1/runners/:ref", requireRole("admin"), async (c) => {
    const runner = await store.runners.find(c.req.param("ref"));
    await store.transaction(async (tx) => {
      await tx.runners.remove(runner.id);
      await audit(tx, c, "runner.remove", runner.name, { id: runner.id });
    });
    const failed = await runnerApi.retireRunner(
      runner.id,
      `runner ${runner.name} (${runner.id}) was removed by ${c.get("identity").name}`,
    );
    return c.json({ removed: runner, failedJobs: failed.map((j) => j.id) });
  });
}
