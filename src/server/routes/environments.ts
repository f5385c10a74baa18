// Deployment environments of a repository: their protection rules (required reviewers, wait timer,
// allowed branches and tags) and vars. Reading is a viewer's; changing them is admin's (audited). The
// repository is a query parameter: its name holds slashes, and the repository routes match greedily.
import type { Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { UserError } from "../../lib/errors.js";
import { checkEnvironmentName } from "../../store/index.js";
import { type Env, type Guards, jsonBody } from "../http.js";

/** The optional `environment` of an approve/reject body: a name, or undefined for every pending one. */
export function environmentOf(body: unknown): string | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new UserError("the body must be a JSON object");
  const env = (body as { environment?: unknown }).environment;
  return env === undefined || env === null ? undefined : checkEnvironmentName(env);
}

function repoParam(value: string | undefined): string {
  if (!value) throw new UserError("say which repository: ?repo=NAME");
  return value;
}

export function mountEnvironmentRoutes(app: Hono<Env>, o: { ci: CiService; guards: Guards }): void {
  const { ci } = o;
  const { requireRole } = o.guards;
  app.get("/api/v1/environments", requireRole("viewer"), async (c) =>
    c.json({ environments: await ci.environments(repoParam(c.req.query("repo"))) }),
  );
  app.get("/api/v1/environments/:env", requireRole("viewer"), async (c) =>
    c.json({
      environment: await ci.environment(
        repoParam(c.req.query("repo")),
        checkEnvironmentName(c.req.param("env")),
      ),
    }),
  );
  app.put("/api/v1/environments/:env", requireRole("admin"), async (c) => {
    const r = await ci.setEnvironment(
      repoParam(c.req.query("repo")),
      checkEnvironmentName(c.req.param("env")),
      await jsonBody<unknown>(c),
      c.get("identity").name,
    );
    return c.json(r, r.created ? 201 : 200);
  });
  app.delete("/api/v1/environments/:env", requireRole("admin"), async (c) => {
    const repo = repoParam(c.req.query("repo"));
    const name = checkEnvironmentName(c.req.param("env"));
    await ci.removeEnvironment(repo, name, c.get("identity").name);
    return c.json({ removed: true, repo, environment: name });
  });
}
