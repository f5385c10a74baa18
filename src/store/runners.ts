// Remote runners: registered once (their token is shown once), then identified by that token.
import { randomUUID } from "node:crypto";
import { hashToken, newToken } from "./secret-tokens.js";
import type { RunnersTable } from "./schema.js";
import { affected, type Db, fromJson, toJson } from "./util.js";

export const runnerTokenPrefix = "slwr_";

export type Runner = {
  id: string;
  name: string;
  labels: string[];
  lastHeartbeatAt: number | null;
  createdAt: number;
};

function toRunner(r: RunnersTable): Runner {
  return {
    id: r.id,
    name: r.name,
    labels: fromJson<string[]>(r.labels_json, []),
    lastHeartbeatAt: r.last_heartbeat_at,
    createdAt: r.created_at,
  };
}

export function createRunners(db: Db) {
  return {
    /** Registers a runner; the clear token is returned here only. */
    async register(input: {
      name: string;
      labels: string[];
      now?: number;
    }): Promise<{ runner: Runner; token: string }> {
      const token = newToken(runnerTokenPrefix);
      const row = await db
        .insertInto("runners")
        .values({
          id: randomUUID(),
          name: input.name,
          labels_json: toJson(input.labels),
          token_hash: hashToken(token),
          last_heartbeat_at: null,
          created_at: input.now ?? Date.now(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { runner: toRunner(row), token };
    },

    async get(id: string): Promise<Runner | null> {
      const row = await db.selectFrom("runners").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRunner(row) : null;
    },

    async getByToken(token: string): Promise<Runner | null> {
      if (!token.startsWith(runnerTokenPrefix)) return null;
      const row = await db
        .selectFrom("runners")
        .selectAll()
        .where("token_hash", "=", hashToken(token))
        .executeTakeFirst();
      return row ? toRunner(row) : null;
    },

    /** Records that the runner is alive (job leases are extended separately, per job). */
    async heartbeat(id: string, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("runners")
        .set({ last_heartbeat_at: now })
        .where("id", "=", id)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    async list(): Promise<Runner[]> {
      return (await db.selectFrom("runners").selectAll().orderBy("name").orderBy("id").execute()).map(
        toRunner,
      );
    },

    /** Unregisters the runner; its token stops working. Jobs it holds run out their lease. */
    async remove(id: string): Promise<boolean> {
      return affected(await db.deleteFrom("runners").where("id", "=", id).executeTakeFirst()) > 0;
    },
  };
}

export type Runners = ReturnType<typeof createRunners>;
