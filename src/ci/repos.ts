// Repositories and their mirrors: registering one (its mirror is made before the row is visible), its
// settings, and fetching a mirror one fetch at a time.
import { randomBytes } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { NotFoundError, UserError } from "../lib/errors.js";
import { sealWebhookSecret } from "../secrets/index.js";
import { parseForkPolicy, type Repo } from "../store/index.js";
import type { CiContext } from "./context.js";
import { createMirror, fetchMirror, resolveRef, symbolicHead, validateRepoUrl } from "./mirror.js";
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
    /** Who added it, for the audit log. */
    actor: string;
  }): Promise<{
    repo: Repo;
    webhookSecret: string;
  }> {
    checkRepoUrl(input.url);
    const name = input.name ?? basename(input.url.replace(/\.git$/, "").replace(/\/+$/, ""));
    validateRepoName(name);
    if (await this.ctx.store.repos.getByName(name))
      throw new UserError(`repository '${name}' already exists`);
    const staging = join(this.ctx.dataDir, "mirrors", `new-${randomBytes(6).toString("hex")}.git`);
    await createMirror(input.url, staging);
    const branch =
      input.branch ?? ((await resolveRef(staging, "HEAD")) && (await symbolicHead(staging))) ?? "main";
    const webhookSecret = newWebhookSecret();
    const repo = await this.ctx.store.transaction(async (tx) => {
      const created = await tx.repos.create({
        name,
        url: input.url,
        branch,
        webhookSecret: this.sealed(name, webhookSecret),
        pollIntervalS: input.pollIntervalS ?? null,
      });
      // The URL holds no credentials (checkRepoUrl refuses them); the webhook secret is never audited.
      await tx.audit.append({
        actor: input.actor,
        action: "repo.add",
        subject: name,
        repo: name,
        detail: { url: input.url, branch, pollIntervalS: input.pollIntervalS ?? null },
      });
      return created;
    });
    const dir = this.ctx.mirrorDir(repo);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    await this.ctx.store.repos.update(repo.id, { mirrorPath: dir });
    return { repo: { ...repo, mirrorPath: dir }, webhookSecret };
  }

  /** Sealed under the master key: anyone holding the clear secret could forge signed webhooks. */
  private sealed(name: string, secret: string): string {
    return this.ctx.opts.masterKey ? sealWebhookSecret(this.ctx.opts.masterKey, name, secret) : secret;
  }

  /**
   * A new webhook secret for the repository (admin), returned once; the old one stops verifying at
   * once (the intake reads the stored secret on every delivery). Audited, without the secret.
   */
  async rotateWebhookSecret(name: string, actor: string): Promise<{ repo: Repo; webhookSecret: string }> {
    const repo = await this.repoByName(name);
    const webhookSecret = newWebhookSecret();
    await this.ctx.store.transaction(async (tx) => {
      await tx.repos.update(repo.id, { webhookSecret: this.sealed(repo.name, webhookSecret) });
      await tx.audit.append({
        actor,
        action: "repo.webhook-secret.rotate",
        subject: repo.name,
        repo: repo.name,
        detail: {},
      });
    });
    return { repo, webhookSecret };
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

function newWebhookSecret(): string {
  return randomBytes(24).toString("base64url");
}

const urlSchemes = new Set(["https", "http", "ssh", "git", "git+ssh", "ssh+git", "file"]);

/**
 * A repository URL the server may clone, checked before anything is made: http(s)://, ssh://, git://,
 * `user@host:path` or an absolute local path / file:// URL (the server's own disk: an admin's choice, as
 * the demo and local set-ups use). Refused: git's remote-helper forms
 * (`ext::sh -c …` runs a command, `fd::`), other schemes (each names a `git-remote-<scheme>` helper), a
 * password or an http(s) user name (often a token) in the URL (the URL is shown to every viewer), `..` path segments, a relative path (it would
 * be relative to the server's directory) and a file:// URL naming another host.
 */
export function checkRepoUrl(url: string): string {
  validateRepoUrl(url);
  const refuse = (why: string): never => {
    throw new UserError(`invalid repository URL ${JSON.stringify(url.slice(0, 200))}: ${why}`);
  };
  if (url.length > 2048) refuse("longer than 2048 characters");
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url))
    refuse("git's remote-helper forms (ext::, fd::, …) are not allowed; use https://, ssh:// or git://");
  let path: string;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (!urlSchemes.has(scheme))
      refuse(`scheme ${scheme}:// is not allowed; use https://, ssh://, git:// or file://`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return refuse("not a URL");
    }
    // Every viewer sees the URL. Over http(s) a user name alone is often a token (`https://TOKEN@host/…`).
    if (parsed.password || ((scheme === "https" || scheme === "http") && parsed.username))
      refuse("it must not hold a password or token (every viewer sees the URL); use a deploy key");
    if (scheme === "file" && parsed.hostname !== "" && parsed.hostname !== "localhost")
      refuse("a file:// URL must name a path on this server (file:///path)");
    // `https:///x`: the URL class would take `x` for the host; git would not.
    if (scheme !== "file" && (parsed.hostname === "" || url.slice(scheme.length + 3).startsWith("/")))
      refuse("no host");
    if (parsed.hostname.startsWith("-")) refuse("a host must not start with '-'");
    // The URL class resolves `..` away: the path as written is what is checked.
    path = url.slice(url.indexOf("//") + 2);
  } else {
    const scp = /^(?:([^@/\s]+)@)?([^:/\s]+):(.*)$/.exec(url);
    if (scp) {
      // `user@host:path` only: a bare `word:rest` is more often a mistyped scheme (`javascript:…`).
      if (scp[1] === undefined) refuse("use user@host:path, or a URL such as https:// or ssh://");
      if (scp[2].startsWith("-") || scp[1].startsWith("-")) refuse("a host or user must not start with '-'");
      path = scp[3];
    } else {
      if (!url.startsWith("/")) refuse("a local path must be absolute");
      path = url;
    }
  }
  const segments = path.split(/[/\\]/).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  if (segments.some((s) => s === ".." || s === ".")) refuse("its path must not hold '.' or '..' segments");
  return url;
}
