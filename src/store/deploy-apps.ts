// Which repository owns each deployed app environment. The first deploy of an (app, env) through the
// server claims it for the repository it came from; deploys of it from any other repository are refused
// (their slipway.yaml chose the name, so without this binding any repository could deploy as `billing`
// and receive billing's secrets). An admin rebinds it explicitly.
import { UserError } from "../lib/errors.js";
import type { Db } from "./util.js";

export type DeployApp = {
  app: string;
  env: string;
  /** The owning repository's name (as registered with the server). */
  repo: string;
  /** Who claimed or last rebound it. */
  actor: string;
  createdAt: number;
  updatedAt: number;
};

type Row = { app: string; env: string; repo: string; actor: string; created_at: number; updated_at: number };

const toApp = (r: Row): DeployApp => ({
  app: r.app,
  env: r.env,
  repo: r.repo,
  actor: r.actor,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

function requireText(what: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "")
    throw new UserError(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

export function createDeployApps(db: Db) {
  const get = async (app: string, env: string): Promise<DeployApp | undefined> => {
    const r = await db
      .selectFrom("deploy_apps")
      .selectAll()
      .where("app", "=", app)
      .where("env", "=", env)
      .executeTakeFirst();
    return r ? toApp(r) : undefined;
  };
  return {
    get,

    /**
     * Binds (app, env) to `repo` unless it is bound already, and returns the binding that holds: the
     * caller compares its repo. One INSERT … ON CONFLICT DO NOTHING decides, so two first deploys from
     * different repositories cannot both win.
     */
    async claim(input: { app: string; env: string; repo: string; actor: string; now?: number }) {
      const now = input.now ?? Date.now();
      const row = {
        app: requireText("app", input.app),
        env: requireText("env", input.env),
        repo: requireText("repo", input.repo),
        actor: requireText("actor", input.actor),
        created_at: now,
        updated_at: now,
      };
      const inserted = await db
        .insertInto("deploy_apps")
        .values(row)
        .onConflict((oc) => oc.columns(["app", "env"]).doNothing())
        .executeTakeFirst();
      const claimed = Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
      const binding = await get(row.app, row.env);
      if (!binding) throw new Error(`deploy app ${row.app}/${row.env}: the binding vanished`);
      return { binding, claimed };
    },

    /** Sets the owner (an admin's rebind), creating the binding if there is none. */
    async bind(input: { app: string; env: string; repo: string; actor: string; now?: number }) {
      const now = input.now ?? Date.now();
      const repo = requireText("repo", input.repo);
      const actor = requireText("actor", input.actor);
      await db
        .insertInto("deploy_apps")
        .values({
          app: requireText("app", input.app),
          env: requireText("env", input.env),
          repo,
          actor,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(["app", "env"]).doUpdateSet({ repo, actor, updated_at: now }))
        .execute();
      return (await get(input.app, input.env))!;
    },

    async list(filter: { app?: string } = {}): Promise<DeployApp[]> {
      let q = db.selectFrom("deploy_apps").selectAll();
      if (filter.app !== undefined) q = q.where("app", "=", filter.app);
      return (await q.orderBy("app").orderBy("env").execute()).map(toApp);
    },
  };
}

export type DeployApps = ReturnType<typeof createDeployApps>;
