// Forge feedback settings per repository: which forge and API its reports go to, the forge token as the
// secrets domain seals it (never in clear: only `tokenOf` reads the ciphertext, for the forge domain),
// whether its badges are public and whether pull requests get a comment; and the GitHub deployment id
// each reported release got, which that release's later statuses need. Every change is audited in the
// same transaction.
import { createAudit } from "./audit.js";
import { atomic, type Db, defined } from "./util.js";

export const forgeProviders = ["github", "gitea", "gitlab"] as const;
export type ForgeProvider = (typeof forgeProviders)[number];

/** What the API shows: the token only as whether one is set. */
export type ForgeSettings = {
  repoId: number;
  /** null: derived from the repository's URL (github.com is GitHub; other hosts must say). */
  provider: ForgeProvider | null;
  /** The API base, e.g. https://api.github.com, https://gitea.example/api/v1; null: derived. */
  apiUrl: string | null;
  /** owner/name (GitLab: a project id or path); null: from the repository's URL. */
  project: string | null;
  hasToken: boolean;
  public: boolean;
  prComment: boolean;
  updatedAt: number;
  updatedBy: string;
};

export type SealedForgeToken = { ciphertext: string; keyId: string };

export type ForgeSettingsPatch = {
  provider?: ForgeProvider | null;
  apiUrl?: string | null;
  project?: string | null;
  public?: boolean;
  prComment?: boolean;
  /** null removes the token. */
  token?: SealedForgeToken | null;
};

type Row = {
  repo_id: number;
  provider: string | null;
  api_url: string | null;
  project: string | null;
  token_ciphertext: string | null;
  token_key_id: string | null;
  public: number;
  pr_comment: number;
  updated_at: number;
  updated_by: string;
};

function toSettings(r: Row): ForgeSettings {
  return {
    repoId: Number(r.repo_id),
    provider: (forgeProviders as readonly string[]).includes(r.provider ?? "")
      ? (r.provider as ForgeProvider)
      : null,
    apiUrl: r.api_url,
    project: r.project,
    hasToken: r.token_ciphertext !== null,
    public: Number(r.public) === 1,
    prComment: Number(r.pr_comment) === 1,
    updatedAt: Number(r.updated_at),
    updatedBy: r.updated_by,
  };
}

export function createForge(db: Db) {
  const get = async (repoId: number): Promise<ForgeSettings | null> => {
    const r = await db
      .selectFrom("forge_settings")
      .selectAll()
      .where("repo_id", "=", repoId)
      .executeTakeFirst();
    return r ? toSettings(r) : null;
  };
  return {
    get,

    /** Creates or changes a repository's settings; audited as `forge.update` (the token as set/removed). */
    async update(
      repo: { id: number; name: string },
      patch: ForgeSettingsPatch,
      actor: string,
      now = Date.now(),
    ): Promise<ForgeSettings> {
      return atomic(db, async (tx) => {
        const set = defined({
          provider: patch.provider,
          api_url: patch.apiUrl,
          project: patch.project,
          public: patch.public === undefined ? undefined : patch.public ? 1 : 0,
          pr_comment: patch.prComment === undefined ? undefined : patch.prComment ? 1 : 0,
          token_ciphertext: patch.token === undefined ? undefined : (patch.token?.ciphertext ?? null),
          token_key_id: patch.token === undefined ? undefined : (patch.token?.keyId ?? null),
        });
        await tx
          .insertInto("forge_settings")
          .values({ repo_id: repo.id, ...set, updated_at: now, updated_by: actor })
          .onConflict((oc) =>
            oc.column("repo_id").doUpdateSet({ ...set, updated_at: now, updated_by: actor }),
          )
          .execute();
        const { token, ...rest } = patch;
        await createAudit(tx).append({
          actor,
          action: "forge.update",
          subject: repo.name,
          repo: repo.name,
          detail: { ...rest, ...(token !== undefined && { token: token === null ? "removed" : "set" }) },
          now,
        });
        return (await createForge(tx).get(repo.id))!;
      });
    },

    /** The sealed token, for the forge domain to open when it sends a report. */
    async tokenOf(repoId: number): Promise<SealedForgeToken | null> {
      const r = await db
        .selectFrom("forge_settings")
        .select(["token_ciphertext", "token_key_id"])
        .where("repo_id", "=", repoId)
        .executeTakeFirst();
      return r?.token_ciphertext && r.token_key_id
        ? { ciphertext: r.token_ciphertext, keyId: r.token_key_id }
        : null;
    },

    /** Every sealed token with its repository (for rotating the master key). */
    async tokens(): Promise<(SealedForgeToken & { repoId: number })[]> {
      const rows = await db
        .selectFrom("forge_settings")
        .select(["repo_id", "token_ciphertext", "token_key_id"])
        .where("token_ciphertext", "is not", null)
        .execute();
      return rows.map((r) => ({
        repoId: Number(r.repo_id),
        ciphertext: r.token_ciphertext!,
        keyId: r.token_key_id ?? "",
      }));
    },

    /** Re-seals one token in place (rotation); not audited here, the rotation is. */
    async reseal(repoId: number, token: SealedForgeToken): Promise<void> {
      await db
        .updateTable("forge_settings")
        .set({ token_ciphertext: token.ciphertext, token_key_id: token.keyId })
        .where("repo_id", "=", repoId)
        .execute();
    },

    async deploymentId(repoId: number, key: string): Promise<string | null> {
      const r = await db
        .selectFrom("forge_deployments")
        .select("deployment_id")
        .where("repo_id", "=", repoId)
        .where("deploy_key", "=", key)
        .executeTakeFirst();
      return r?.deployment_id ?? null;
    },

    async recordDeployment(
      repoId: number,
      key: string,
      deploymentId: string,
      now = Date.now(),
    ): Promise<void> {
      await db
        .insertInto("forge_deployments")
        .values({ repo_id: repoId, deploy_key: key, deployment_id: deploymentId, created_at: now })
        .onConflict((oc) =>
          oc.columns(["repo_id", "deploy_key"]).doUpdateSet({ deployment_id: deploymentId }),
        )
        .execute();
    },

    /**
     * The newest finished run of a workflow on a ref, for a badge: `workflow` is the workflow's name or
     * its file's name without .yml/.yaml. Looks at the newest 500 finished runs of the ref.
     */
    async latestFinishedRun(
      repoId: number,
      workflow: string,
      ref: string,
    ): Promise<{ id: number; conclusion: string | null } | null> {
      const rows = await db
        .selectFrom("runs")
        .select(["id", "conclusion", "workflow_name", "workflow_file"])
        .where("repo_id", "=", repoId)
        .where("ref", "=", ref)
        .where("status", "=", "completed")
        .orderBy("id", "desc")
        .limit(500)
        .execute();
      const fileStem = (f: string) => (f.split("/").pop() ?? f).replace(/\.ya?ml$/, "");
      const r = rows.find((x) => x.workflow_name === workflow || fileStem(x.workflow_file) === workflow);
      return r ? { id: Number(r.id), conclusion: r.conclusion } : null;
    },
  };
}

export type Forge = ReturnType<typeof createForge>;
