// Forge feedback settings per repository: read them (viewer; the token only as "[REDACTED]"), change
// them and set or remove the token (admin). Badges: a workflow's state per branch and an app
// environment's live health as SVG, public when the repository is marked public, else behind a token like
// the API (without one, a private repository's badge is answered 404 like an unknown one's, so badges do
// not reveal names).
import type { Context, Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { appNamePattern, environmentNamePattern } from "../../config/index.js";
import {
  type Badge,
  forgeView,
  healthBadge,
  type LiveStatus,
  removeForgeToken,
  renderBadge,
  setForgeToken,
  updateForgeSettings,
  workflowBadge,
} from "../../forge/index.js";
import { OperationError, UserError } from "../../lib/errors.js";
import type { MasterKey } from "../../secrets/index.js";
import type { Repo } from "../../store/index.js";
import { type Env, type Guards, jsonBody } from "../http.js";
import { deployStatus } from "./deploys.js";

/** A badge waits this long for the deploy agent; past it, the badge says the health is unknown. */
const agentTimeoutMs = 2000;

export function mountForgeRoutes(
  app: Hono<Env>,
  o: { ci: CiService; guards: Guards; masterKey?: MasterKey },
): void {
  const { ci } = o;
  const { requireRole } = o.guards;
  const store = ci.store;

  app.get("/api/v1/repos/:name{.+}/forge", requireRole("viewer"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    return c.json({ forge: forgeView(repo, await store.forge.get(repo.id)) });
  });
  app.patch("/api/v1/repos/:name{.+}/forge", requireRole("admin"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    const body = await jsonBody<Record<string, unknown>>(c);
    return c.json({ forge: await updateForgeSettings(store, repo, body, c.get("identity").name) });
  });
  app.put("/api/v1/repos/:name{.+}/forge/token", requireRole("admin"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    if (!o.masterKey)
      throw new OperationError("the server has no master key: a forge token cannot be stored");
    const body = await jsonBody<{ token?: unknown }>(c);
    return c.json({ forge: await setForgeToken(store, o.masterKey, repo, body, c.get("identity").name) });
  });
  app.delete("/api/v1/repos/:name{.+}/forge/token", requireRole("admin"), async (c) => {
    const repo = await ci.repoByName(c.req.param("name"));
    return c.json({ forge: await removeForgeToken(store, repo, c.get("identity").name) });
  });

  const viewer = requireRole("viewer");
  /**
   * The badge when `repo` is public or the request carries a viewer's token. Otherwise 404, as for a
   * repository that does not exist: a badge URL must not tell whether a private repository is there.
   */
  const badge = async (c: Context<Env>, repo: Repo | null, make: () => Promise<Badge>) => {
    const isPublic = repo ? ((await store.forge.get(repo.id))?.public ?? false) : false;
    if (!isPublic) {
      const refused = await viewer(c, async () => {});
      if (refused || !repo) return c.json({ error: "no such badge" }, 404);
    }
    return c.body(renderBadge(await make()), 200, {
      "Content-Type": "image/svg+xml; charset=utf-8",
      // Shown live in READMEs: caches (GitHub's camo among them) must ask again.
      "Cache-Control": "no-cache, max-age=0",
      // Opened directly, the SVG can run nothing and load nothing.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
      "X-Content-Type-Options": "nosniff",
    });
  };

  // Before the workflow route: /badges/apps/<app>/<env>.svg is an app's, whatever repositories exist.
  app.get("/badges/apps/:app/:file{[^/]+\\.svg}", async (c) => {
    const appName = c.req.param("app");
    const env = c.req.param("file").replace(/\.svg$/, "");
    // A name that cannot be an app's never reaches the store or a socket path: answered as unknown.
    const named = appNamePattern.test(appName) && environmentNamePattern.test(env);
    const owner = named ? await store.deployApps.get(appName, env) : undefined;
    const repo = owner ? await store.repos.getByName(owner.repo) : null;
    return badge(c, repo, async () => {
      const [latest] = await store.releases.list({ app: appName, env, limit: 1 });
      // Live health from the environment's agent when one answers; never starts one.
      const status = latest
        ? ((await deployStatus(store, ci.dataDir, appName, env, { timeoutMs: agentTimeoutMs }).catch(
            () => undefined,
          )) as LiveStatus | undefined)
        : undefined;
      return healthBadge(appName, env, status, latest);
    });
  });
  app.get("/badges/:path{.+\\.svg}", async (c) => {
    const path = c.req.param("path").replace(/\.svg$/, "");
    const slash = path.lastIndexOf("/");
    if (slash <= 0) throw new UserError("expected /badges/<repository>/<workflow>.svg");
    const repo = await store.repos.getByName(path.slice(0, slash));
    const workflow = path.slice(slash + 1);
    return badge(c, repo, async () => {
      const branch = c.req.query("branch") || repo!.branch;
      const run = await store.forge.latestFinishedRun(repo!.id, workflow, `refs/heads/${branch}`);
      return workflowBadge(workflow, run ? run.conclusion : undefined);
    });
  });
}
