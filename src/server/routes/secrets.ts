// Secrets: values go in, never out. Names and the audit trail can be read; setting and removing is admin's.
import type { Hono } from "hono";
import { NotFoundError } from "../../lib/errors.js";
import {
  listSecretsRequest,
  removeSecretRequest,
  type SecretStore,
  setSecretRequest,
} from "../../secrets/index.js";
import { type Env, type Guards, jsonBody, queryInt } from "../http.js";

export function mountSecretRoutes(app: Hono<Env>, o: { secrets: SecretStore; guards: Guards }): void {
  const { secrets } = o;
  const { requireRole } = o.guards;
  app.get("/api/v1/secrets", requireRole("developer"), async (c) =>
    c.json(await listSecretsRequest(secrets, c.req.query())),
  );
  app.post("/api/v1/secrets", requireRole("admin"), async (c) =>
    c.json(await setSecretRequest(secrets, c.get("identity").name, await jsonBody(c)), 201),
  );
  app.delete("/api/v1/secrets/:name", requireRole("admin"), async (c) => {
    const r = await removeSecretRequest(secrets, c.get("identity").name, c.req.param("name"), c.req.query());
    if (!r.removed) throw new NotFoundError(`no secret ${c.req.param("name")} in that scope`);
    return c.json(r);
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
