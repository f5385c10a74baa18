// Repositories slipway builds: where to fetch them, how often to poll, and the per-repo run counter.
import { UserError } from "../lib/errors.js";
import type { ReposTable } from "./schema.js";
import { affected, type Db, defined } from "./util.js";

/**
 * What a pull request from a fork may run, per repository (as GitHub's "fork pull request workflows"):
 * - `run-without-secrets` (default): its workflow runs with no secrets at all;
 * - `require-approval`: the run waits until a developer approves it, then runs without secrets;
 * - `off`: no run.
 */
export const forkPolicies = ["run-without-secrets", "require-approval", "off"] as const;
export type ForkPolicy = (typeof forkPolicies)[number];

/** The policy named by `value`, or a UserError that shows the value and the choices. */
export function parseForkPolicy(value: unknown): ForkPolicy {
  if (typeof value === "string" && (forkPolicies as readonly string[]).includes(value))
    return value as ForkPolicy;
  const shown = JSON.stringify(typeof value === "string" ? value.slice(0, 100) : (value ?? null));
  throw new UserError(`invalid fork pull request policy ${shown}: use one of ${forkPolicies.join(", ")}`);
}

export type Repo = {
  id: number;
  name: string;
  /** A git URL or a local path. */
  url: string;
  /** The default branch. */
  branch: string;
  mirrorPath: string | null;
  /** Seconds between polls; null when the repository is not polled. */
  pollIntervalS: number | null;
  lastPolledAt: number | null;
  lastSeenSha: string | null;
  /** What runs a pull request from a fork gets. */
  forkPullRequests: ForkPolicy;
  createdAt: number;
};

export type RepoInput = {
  name: string;
  url: string;
  branch?: string;
  mirrorPath?: string | null;
  webhookSecret?: string | null;
  pollIntervalS?: number | null;
  forkPullRequests?: ForkPolicy;
  now?: number;
};

export type RepoPatch = {
  url?: string;
  branch?: string;
  mirrorPath?: string | null;
  webhookSecret?: string | null;
  pollIntervalS?: number | null;
  lastPolledAt?: number | null;
  lastSeenSha?: string | null;
  forkPullRequests?: ForkPolicy;
};

type Row = Omit<ReposTable, "id" | "run_counter" | "fork_pull_requests"> & {
  id: number;
  run_counter: number;
  fork_pull_requests: string;
};

function toRepo(r: Row): Repo {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    branch: r.branch,
    mirrorPath: r.mirror_path,
    pollIntervalS: r.poll_interval_s,
    lastPolledAt: r.last_polled_at,
    lastSeenSha: r.last_seen_sha,
    // An unknown value (a newer server's) is read as the strictest policy, never as a looser one.
    forkPullRequests: (forkPolicies as readonly string[]).includes(r.fork_pull_requests)
      ? (r.fork_pull_requests as ForkPolicy)
      : "off",
    createdAt: r.created_at,
  };
}

export function createRepos(db: Db) {
  const exists = async (id: number) =>
    (await db.selectFrom("repos").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
  return {
    /** Adds a repository; a name already taken is a UserError. */
    async create(input: RepoInput): Promise<Repo> {
      const row = await db
        .insertInto("repos")
        .values({
          name: input.name,
          url: input.url,
          branch: input.branch ?? "main",
          mirror_path: input.mirrorPath ?? null,
          webhook_secret: input.webhookSecret ?? null,
          poll_interval_s: input.pollIntervalS ?? null,
          last_polled_at: null,
          last_seen_sha: null,
          fork_pull_requests: parseForkPolicy(input.forkPullRequests ?? "run-without-secrets"),
          created_at: input.now ?? Date.now(),
        })
        .onConflict((oc) => oc.column("name").doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new UserError(`repository "${input.name}" already exists`);
      return toRepo(row);
    },

    async get(id: number): Promise<Repo | null> {
      const row = await db.selectFrom("repos").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRepo(row) : null;
    },

    async getByName(name: string): Promise<Repo | null> {
      const row = await db.selectFrom("repos").selectAll().where("name", "=", name).executeTakeFirst();
      return row ? toRepo(row) : null;
    },

    async list(): Promise<Repo[]> {
      const rows = await db.selectFrom("repos").selectAll().orderBy("name").execute();
      return rows.map(toRepo);
    },

    /**
     * The webhook secret as stored: sealed under the master key by the secrets domain (HMAC
     * verification needs the clear value, so it is encrypted rather than hashed; rows from before
     * sealing are sealed at the server's start). Kept out of `Repo` so listing never exposes it.
     */
    async webhookSecret(id: number): Promise<string | null> {
      const row = await db
        .selectFrom("repos")
        .select("webhook_secret")
        .where("id", "=", id)
        .executeTakeFirst();
      return row?.webhook_secret ?? null;
    },

    /** Sets the fields named in `patch`; false when the repository does not exist. */
    async update(id: number, patch: RepoPatch): Promise<boolean> {
      const set = defined({
        url: patch.url,
        branch: patch.branch,
        mirror_path: patch.mirrorPath,
        webhook_secret: patch.webhookSecret,
        poll_interval_s: patch.pollIntervalS,
        last_polled_at: patch.lastPolledAt,
        last_seen_sha: patch.lastSeenSha,
        fork_pull_requests:
          patch.forkPullRequests === undefined ? undefined : parseForkPolicy(patch.forkPullRequests),
      });
      if (Object.keys(set).length === 0) return exists(id);
      return affected(await db.updateTable("repos").set(set).where("id", "=", id).executeTakeFirst()) > 0;
    },

    /** Deletes the repository with its runs, jobs, steps and logs. */
    async delete(id: number): Promise<boolean> {
      return affected(await db.deleteFrom("repos").where("id", "=", id).executeTakeFirst()) > 0;
    },
  };
}

export type Repos = ReturnType<typeof createRepos>;
