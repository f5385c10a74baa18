// The audit log: who changed what and when. Append-only; entries name the subject (a secret's name and
// scope), never a secret value.
import { type Db, fromJson, toJson } from "./util.js";

export type AuditEntry = {
  id: number;
  at: number;
  actor: string;
  /** `<domain>.<verb>`, e.g. `secret.set`, `secret.remove`. */
  action: string;
  subject: string;
  repo: string | null;
  env: string | null;
  detail: Record<string, unknown> | null;
};

export type AuditInput = {
  actor: string;
  action: string;
  subject: string;
  repo?: string | null;
  env?: string | null;
  detail?: Record<string, unknown>;
  now?: number;
};

export type AuditFilter = {
  action?: string;
  /** Actions starting with this, e.g. `secret.` (letters, digits, dots and hyphens only). */
  actionPrefix?: string;
  subject?: string;
  /** Entries about this repository. */
  repo?: string;
  /** Entries with an id below this (for paging back). */
  beforeId?: number;
  /** Default 100, at most 1000. */
  limit?: number;
};

export function createAudit(db: Db) {
  return {
    async append(input: AuditInput): Promise<number> {
      const row = await db
        .insertInto("audit_log")
        .values({
          at: input.now ?? Date.now(),
          actor: input.actor,
          action: input.action,
          subject: input.subject,
          repo: input.repo ?? null,
          env: input.env ?? null,
          detail_json: input.detail === undefined ? null : toJson(input.detail),
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** Newest first. */
    async list(filter: AuditFilter = {}): Promise<AuditEntry[]> {
      let q = db.selectFrom("audit_log").selectAll();
      if (filter.action !== undefined) q = q.where("action", "=", filter.action);
      if (filter.actionPrefix !== undefined) {
        // No LIKE wildcard (`%`, `_`) or escape can pass, so the prefix is matched literally.
        if (!/^[a-z0-9.-]+$/i.test(filter.actionPrefix))
          throw new Error("actionPrefix: letters, digits, dots, hyphens");
        q = q.where("action", "like", `${filter.actionPrefix}%`);
      }
      if (filter.subject !== undefined) q = q.where("subject", "=", filter.subject);
      if (filter.repo !== undefined) q = q.where("repo", "=", filter.repo);
      if (filter.beforeId !== undefined) q = q.where("id", "<", filter.beforeId);
      const rows = await q
        .orderBy("id", "desc")
        .limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000))
        .execute();
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        repo: r.repo,
        env: r.env,
        detail: fromJson<Record<string, unknown> | null>(r.detail_json, null),
      }));
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;
