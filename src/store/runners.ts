// Remote runners: registered once (their token is shown once), then identified by that token. The
// labels given at registration are the only ones the runner can claim jobs with; an admin can disable
// a runner (its token is refused until enabled) or remove it (its token never works again).
import { randomUUID } from "node:crypto";
import { NotFoundError, UserError } from "../lib/errors.js";
import { checkName } from "./names.js";
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
  /** When an admin disabled it; null while it may work. */
  disabledAt: number | null;
};

export const maxRunnerLabels = 64;

/** The runner's labels, checked: printable names without commas (the CLI's separator), at most 64. */
export function checkRunnerLabels(labels: unknown): string[] {
  if (!Array.isArray(labels)) throw new UserError("'labels' must be a list of strings");
  if (labels.length > maxRunnerLabels)
    throw new UserError(`a runner has at most ${maxRunnerLabels} labels, got ${labels.length}`);
  for (const l of labels) {
    checkName("runner label", l, 100);
    if ((l as string).includes(",")) throw new UserError(`runner label ${JSON.stringify(l)} has a comma`);
  }
  return labels as string[];
}

function toRunner(r: RunnersTable): Runner {
  return {
    id: r.id,
    name: r.name,
    labels: fromJson<string[]>(r.labels_json, []),
    lastHeartbeatAt: r.last_heartbeat_at,
    createdAt: r.created_at,
    disabledAt: r.disabled_at ?? null,
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
      const name = checkName("runner name", input.name);
      const labels = checkRunnerLabels(input.labels);
      const token = newToken(runnerTokenPrefix);
      const row = await db
        .insertInto("runners")
        .values({
          id: randomUUID(),
          name,
          labels_json: toJson(labels),
          token_hash: hashToken(token),
          last_heartbeat_at: null,
          created_at: input.now ?? Date.now(),
          disabled_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { runner: toRunner(row), token };
    },

    async get(id: string): Promise<Runner | null> {
      const row = await db.selectFrom("runners").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRunner(row) : null;
    },

    /** The runner a token belongs to — also a disabled one (the caller refuses it). */
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

    /**
     * The runner with this id, or else the one with this name; a UserError when none has it, or when
     * several runners share the name (the caller then names one by id).
     */
    async find(nameOrId: string): Promise<Runner> {
      const byId = await db.selectFrom("runners").selectAll().where("id", "=", nameOrId).executeTakeFirst();
      if (byId) return toRunner(byId);
      const rows = await db.selectFrom("runners").selectAll().where("name", "=", nameOrId).execute();
      if (rows.length === 0) throw new NotFoundError(`no runner ${JSON.stringify(nameOrId)}`);
      if (rows.length > 1)
        throw new UserError(
          `${rows.length} runners are named ${JSON.stringify(nameOrId)}: name one by id (${rows.map((r) => r.id).join(", ")})`,
        );
      return toRunner(rows[0]);
    },

    /** Disables (or with `disabled: false` enables) the runner; false when there is no such runner. */
    async setDisabled(id: string, disabled: boolean, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("runners")
        .set({ disabled_at: disabled ? now : null })
        .where("id", "=", id)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Unregisters the runner; its token stops working. The caller fails the jobs it held. */
    async remove(id: string): Promise<boolean> {
      return affected(await db.deleteFrom("runners").where("id", "=", id).executeTakeFirst()) > 0;
    },
  };
}

export type Runners = ReturnType<typeof createRunners>;
