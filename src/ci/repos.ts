// Repositories and their mirrors: registering one (its mirror is made before the row is visible), its
// settings, and fetching a mirror one fetch at a time.
import { randomBytes } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { NotFoundError, UserError } from "../lib/errors.js";
import { sealWebhookSecret } from "../secrets/index.js";
import { parseForkPolicy, type Repo } from "../store/index.js";
import type { CiContext } from "./context.js";
import { createMirror, fetchMirror, resolveRef, symbolicHead } from "./mirror.js";
import { validateRepoName } from "./repo-name.js";

export class Repos {
  private readonly ctx: CiContext;
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(ctx: CiContext) {
    this.ctx = ctx;
  }

  async addRepo(input: {
    url: string;
    name?: string;
    branch?: string;
    pollIntervalS?: number | null;
  }): Promise<{
    repo: Repo;
    webhookSecret: string;
  }> {
    const name = input.name ?? basename(input.url.replace(/\.git$/, "").replace(/\/+$/, ""));
    validateRepoName(name);
    if (await this.ctx.store.repos.getByName(name))
      throw new UserError(`repository '${name}' already exists`);
    const staging = join(this.ctx.dataDir, "mirrors", `new-${randomBytes(6).toString("hex")}.git`);
    await createMirror(input.url, staging);
    const branch =
      input.branch ?? ((await resolveRef(staging, "HEAD")) && (await symbolicHead(staging))) ?? "main";
    const webhookSecret = randomBytes(24).toString("base64url");
    const repo = await this.ctx.store.repos.create({
      name,
      url: input.url,
      branch,
      // Sealed under the master key: anyone holding it could forge signed webhooks.
      webhookSecret: this.ctx.opts.masterKey
        ? sealWebhookSecret(this.ctx.opts.masterKey, name, webhookSecret)
        : webhookSecret,
      pollIntervalS: input.pollIntervalS ?? null,
    });
    const dir = this.ctx.mirrorDir(repo);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    await this.ctx.store.repos.update(repo.id, { mirrorPath: dir });
    return { repo: { ...repo, mirrorPath: dir }, webhookSecret };
  }

  async repoByName(name: string): Promise<Repo> {
    const repo = await this.ctx.store.repos.getByName(name);
    if (!repo) throw new NotFoundError(`no repository named '${name}'`);
    return repo;
  }

  /** Changes a repository's settings (admin); audited. Bad values are UserErrors and change nothing. */
  async updateRepo(name: string, patch: { forkPullRequests?: unknown }, actor: string): Promise<Repo> {
    const repo = await this.repoByName(name);
    const forkPullRequests =
      patch.forkPullRequests === undefined ? undefined : parseForkPolicy(patch.forkPullRequests);
    if (forkPullRequests === undefined) return repo;
    await this.ctx.store.transaction(async (tx) => {
      await tx.repos.update(repo.id, { forkPullRequests });
      await tx.audit.append({
        actor,
        action: "repo.update",
        subject: repo.name,
        repo: repo.name,
        detail: { forkPullRequests: { from: repo.forkPullRequests, to: forkPullRequests } },
      });
    });
    return (await this.ctx.store.repos.get(repo.id))!;
  }

  /**
   * Fetches a mirror, one fetch at a time per mirror (concurrent `git fetch`es into one repository fail
   * to lock refs). A commit that is already there needs no fetch.
   */
  async fetch(mirror: string, sha?: string): Promise<void> {
    // The check runs inside the chain: while a fetch unpacks loose objects, a commit can be visible
    // before its tree is.
    const previous = this.fetching.get(mirror) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        if (sha && /^[0-9a-f]{40}$/.test(sha) && (await resolveRef(mirror, sha))) return;
        await fetchMirror(mirror);
      });
    this.fetching.set(mirror, next);
    try {
      await next;
    } finally {
      if (this.fetching.get(mirror) === next) this.fetching.delete(mirror);
    }
  }
}
