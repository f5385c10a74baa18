// Tokens and runners: created, listed and revoked by admins.
import type { Hono } from "hono";
import { UserError } from "../../lib/errors.js";
import type { Role, Store } from "../../store/index.js";
import { type Env, type Guards, jsonBody, problem } from "../http.js";

export function mountAdminRoutes(app: Hono<Env>, o: { store: Store; guards: Guards }): void {
  const { store } = o;
  const { requireRole } = o.guards;
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
}
