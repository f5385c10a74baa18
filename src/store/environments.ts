// Deployment environments of a repository (`jobs.<id>.environment`): their protection rules and vars,
// and the gates runs wait at. A gate is one (run, attempt, environment): every leg of that attempt
// bound for the environment waits at the same gate, and one approval or rejection decides it. A gate
// leaves `pending` once (compare-and-set), so two reviewers deciding at once cannot both win; the
// decision and every change to the rules write an audit entry in the same transaction.
import type { Selectable } from "kysely";
import type { EnvironmentGatesTable } from "./schema.js";
import { createAudit } from "./audit.js";
import { checkName } from "./names.js";
import { affected, atomic, type Db, fromJson, toJson } from "./util.js";

export type EnvironmentRules = {
  /** Role names (viewer < developer < deployer < admin: that role or above) or token names. */
  reviewers: string[];
  /** Seconds a job waits after it reached the environment before it may start. */
  waitTimerS: number;
  /** Branch name patterns (GitHub filter syntax) allowed to deploy; null: any branch. */
  branches: string[] | null;
  /** Tag name patterns allowed to deploy; null: any tag. */
  tags: string[] | null;
  /** Whether whoever triggered a run may approve it themselves. */
  allowSelfReview: boolean;
  /** The `vars` context of jobs of this environment (over the repository's). */
  vars: Record<string, string>;
};

export type Environment = EnvironmentRules & {
  repoId: number;
  name: string;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
};

export const gateStatuses = ["pending", "approved", "rejected", "cancelled"] as const;
export type GateStatus = (typeof gateStatuses)[number];

export type Gate = {
  id: number;
  runId: number;
  attempt: number;
  environment: string;
  status: GateStatus;
  /** The rules as they were when the gate opened: a later change does not move a waiting run. */
  reviewers: string[];
  allowSelfReview: boolean;
  /** When the wait timer lets the jobs go; null: no timer. */
  waitUntil: number | null;
  requestedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  reason: string | null;
  /** The environment's URL as the last job of the gate evaluated it. */
  url: string | null;
};

type EnvRow = {
  repo_id: number;
  name: string;
  reviewers_json: string;
  wait_timer_s: number;
  branches_json: string | null;
  tags_json: string | null;
  allow_self_review: number;
  vars_json: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
};

type GateRow = Selectable<EnvironmentGatesTable>;

const toEnvironment = (r: EnvRow): Environment => ({
  repoId: Number(r.repo_id),
  name: r.name,
  reviewers: fromJson<string[]>(r.reviewers_json, []),
  waitTimerS: Number(r.wait_timer_s),
  branches: fromJson<string[] | null>(r.branches_json, null),
  tags: fromJson<string[] | null>(r.tags_json, null),
  allowSelfReview: Number(r.allow_self_review) === 1,
  vars: fromJson<Record<string, string>>(r.vars_json, {}),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  updatedBy: r.updated_by,
});

const toGate = (r: GateRow): Gate => ({
  id: Number(r.id),
  runId: Number(r.run_id),
  attempt: Number(r.attempt),
  environment: r.environment,
  status: r.status as GateStatus,
  reviewers: fromJson<string[]>(r.reviewers_json, []),
  allowSelfReview: Number(r.allow_self_review) === 1,
  waitUntil: r.wait_until === null ? null : Number(r.wait_until),
  requestedAt: Number(r.requested_at),
  decidedBy: r.decided_by,
  decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  reason: r.reason,
  url: r.url,
});

/** An environment's name: printable, at most 255 characters (GitHub's limit). */
export function checkEnvironmentName(value: unknown): string {
  return checkName("environment name", value, 255);
}

export function createEnvironments(db: Db) {
  const get = async (repoId: number, name: string): Promise<Environment | undefined> => {
    const r = await db
      .selectFrom("environments")
      .selectAll()
      .where("repo_id", "=", repoId)
      .where("name", "=", name)
      .executeTakeFirst();
    return r ? toEnvironment(r) : undefined;
  };
  const gateOf = async (runId: number, attempt: number, environment: string) => {
    const r = await db
      .selectFrom("environment_gates")
      .selectAll()
      .where("run_id", "=", runId)
      .where("attempt", "=", attempt)
      .where("environment", "=", environment)
      .executeTakeFirst();
    return r ? toGate(r) : undefined;
  };
  return {
    get,

    async list(repoId: number): Promise<Environment[]> {
      const rows = await db
        .selectFrom("environments")
        .selectAll()
        .where("repo_id", "=", repoId)
        .orderBy("name")
        .execute();
      return rows.map(toEnvironment);
    },

    /** Creates or replaces the environment's rules; `created` tells which. Audited as `environment.set`. */
    async put(input: {
      repoId: number;
      repo: string;
      name: string;
      rules: EnvironmentRules;
      actor: string;
      now?: number;
    }): Promise<{ created: boolean; environment: Environment }> {
      const name = checkEnvironmentName(input.name);
      const now = input.now ?? Date.now();
      const r = input.rules;
      const values = {
        reviewers_json: toJson(r.reviewers),
        wait_timer_s: r.waitTimerS,
        branches_json: r.branches === null ? null : toJson(r.branches),
        tags_json: r.tags === null ? null : toJson(r.tags),
        allow_self_review: r.allowSelfReview ? 1 : 0,
        vars_json: toJson(r.vars),
        updated_at: now,
        updated_by: input.actor,
      };
      return atomic(db, async (tx) => {
        const existing = await tx
          .selectFrom("environments")
          .select("id")
          .where("repo_id", "=", input.repoId)
          .where("name", "=", name)
          .executeTakeFirst();
        await tx
          .insertInto("environments")
          .values({ repo_id: input.repoId, name, created_at: now, ...values })
          .onConflict((oc) => oc.columns(["repo_id", "name"]).doUpdateSet(values))
          .execute();
        await createAudit(tx).append({
          actor: input.actor,
          action: "environment.set",
          subject: name,
          repo: input.repo,
          env: name,
          // The rules, not the vars' values: those may be long and are readable through the API anyway.
          detail: {
            created: !existing,
            reviewers: r.reviewers,
            waitTimerS: r.waitTimerS,
            branches: r.branches,
            tags: r.tags,
            allowSelfReview: r.allowSelfReview,
            vars: Object.keys(r.vars),
          },
          now,
        });
        const environment = toEnvironment(
          await tx
            .selectFrom("environments")
            .selectAll()
            .where("repo_id", "=", input.repoId)
            .where("name", "=", name)
            .executeTakeFirstOrThrow(),
        );
        return { created: !existing, environment };
      });
    },

    /** False when there is no such environment (nothing is audited). Audited as `environment.remove`. */
    async remove(input: { repoId: number; repo: string; name: string; actor: string }): Promise<boolean> {
      return atomic(db, async (tx) => {
        const r = await tx
          .deleteFrom("environments")
          .where("repo_id", "=", input.repoId)
          .where("name", "=", input.name)
          .executeTakeFirst();
        if (affected(r) === 0) return false;
        await createAudit(tx).append({
          actor: input.actor,
          action: "environment.remove",
          subject: input.name,
          repo: input.repo,
          env: input.name,
        });
        return true;
      });
    },

    /**
     * The gate of (run, attempt, environment), opened with these rules unless it exists: the first
     * leg to arrive opens it, the others (and a restarted server) find it as it is.
     */
    async openGate(input: {
      runId: number;
      attempt: number;
      environment: string;
      reviewers: string[];
      allowSelfReview: boolean;
      waitUntil: number | null;
      /** `approved` for an environment without reviewers or timer: nothing to wait for. */
      status?: "pending" | "approved";
      now?: number;
    }): Promise<Gate> {
      await db
        .insertInto("environment_gates")
        .values({
          run_id: input.runId,
          attempt: input.attempt,
          environment: input.environment,
          status: input.status ?? "pending",
          reviewers_json: toJson(input.reviewers),
          allow_self_review: input.allowSelfReview ? 1 : 0,
          wait_until: input.waitUntil,
          requested_at: input.now ?? Date.now(),
        })
        .onConflict((oc) => oc.columns(["run_id", "attempt", "environment"]).doNothing())
        .execute();
      return (await gateOf(input.runId, input.attempt, input.environment))!;
    },

    gate: gateOf,

    /** The gates of a run's attempt (all attempts when omitted), oldest first. */
    async gates(runId: number, attempt?: number): Promise<Gate[]> {
      let q = db.selectFrom("environment_gates").selectAll().where("run_id", "=", runId);
      if (attempt !== undefined) q = q.where("attempt", "=", attempt);
      return (await q.orderBy("id").execute()).map(toGate);
    },

    /** The runs with a gate still pending (a restarted server drives them again). */
    async pendingRunIds(): Promise<number[]> {
      const rows = await db
        .selectFrom("environment_gates")
        .select("run_id")
        .distinct()
        .where("status", "=", "pending")
        .execute();
      return rows.map((r) => Number(r.run_id)).sort((a, b) => a - b);
    },

    /**
     * Decides a pending gate (compare-and-set): false when it was decided already. An approval or a
     * rejection is audited in the same transaction (`environment.approve` / `environment.reject`); a
     * gate cancelled with its run is not.
     */
    async decide(input: {
      gateId: number;
      status: Exclude<GateStatus, "pending">;
      actor: string;
      reason?: string | null;
      repo: string;
      /** False for the server's own decisions (a wait timer passed, a run cancelled). */
      audited?: boolean;
      now?: number;
    }): Promise<boolean> {
      const now = input.now ?? Date.now();
      return atomic(db, async (tx) => {
        const r = await tx
          .updateTable("environment_gates")
          .set({
            status: input.status,
            decided_by: input.actor,
            decided_at: now,
            reason: input.reason ?? null,
          })
          .where("id", "=", input.gateId)
          .where("status", "=", "pending")
          .executeTakeFirst();
        if (affected(r) === 0) return false;
        if (input.status !== "cancelled" && input.audited !== false) {
          const g = toGate(
            await tx
              .selectFrom("environment_gates")
              .selectAll()
              .where("id", "=", input.gateId)
              .executeTakeFirstOrThrow(),
          );
          await createAudit(tx).append({
            actor: input.actor,
            action: input.status === "approved" ? "environment.approve" : "environment.reject",
            subject: `run ${g.runId}`,
            repo: input.repo,
            env: g.environment,
            detail: { attempt: g.attempt, reason: input.reason ?? null },
            now,
          });
        }
        return true;
      });
    },

    async setUrl(gateId: number, url: string): Promise<void> {
      await db.updateTable("environment_gates").set({ url }).where("id", "=", gateId).execute();
    },
  };
}

export type Environments = ReturnType<typeof createEnvironments>;
