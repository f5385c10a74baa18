// Where a repository's reports go: the forge (GitHub, Gitea, GitLab), its API base and the project, from
// the repository's settings or else from its remote URL. github.com needs no setting; any other host
// (GitHub Enterprise, Gitea, GitLab) must say which forge it is, because a URL alone does not tell.
import { UserError } from "../lib/errors.js";
import { type ForgeProvider, type ForgeSettings, forgeProviders } from "../store/index.js";

export type ForgeTarget = {
  provider: ForgeProvider;
  /** The API base without a trailing slash, e.g. https://api.github.com, https://git.example/api/v1. */
  apiUrl: string;
  /** owner/name (GitLab: a project path or numeric id). */
  project: string;
};

/** Host and path of a git remote: https://host/o/r(.git), ssh://git@host/o/r, git@host:o/r.git. */
export function parseRemote(url: string): { host: string; path: string } | undefined {
  const scp = /^[^/\s@]+@([^:/\s]+):(?!\/)(.+)$/.exec(url);
  let host: string;
  let path: string;
  if (scp) {
    host = scp[1];
    path = scp[2];
  } else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return undefined;
    }
    if (!["http:", "https:", "ssh:", "git:"].includes(u.protocol) || !u.hostname) return undefined;
    host = u.host;
    path = decodeURIComponent(u.pathname);
  }
  path = path
    .replace(/^\/+/, "")
    .replace(/\/+$/, "")
    .replace(/\.git$/, "");
  return path.includes("/") ? { host: host.toLowerCase(), path } : undefined;
}

/** The API base a provider's server answers on, from the host people clone from. */
function defaultApiUrl(provider: ForgeProvider, host: string): string {
  if (provider === "github")
    return host === "github.com" ? "https://api.github.com" : `https://${host}/api/v3`;
  return provider === "gitea" ? `https://${host}/api/v1` : `https://${host}/api/v4`;
}

/**
 * The target for a repository, or a reason why there is none (shown by the API; nothing is reported).
 * Settings win over what the remote URL says.
 */
export function resolveTarget(
  repoUrl: string,
  settings: Pick<ForgeSettings, "provider" | "apiUrl" | "project"> | null,
): ForgeTarget | { reason: string } {
  const remote = parseRemote(repoUrl);
  const provider = settings?.provider ?? (remote?.host === "github.com" ? "github" : undefined);
  if (!provider)
    return {
      reason: remote
        ? `${remote.host} is not github.com: set the forge (github, gitea or gitlab) and its API URL`
        : "the repository's URL names no forge: set the forge, its API URL and the project",
    };
  const apiUrl = settings?.apiUrl ?? (remote ? defaultApiUrl(provider, remote.host) : undefined);
  const project = settings?.project ?? remote?.path;
  if (!apiUrl) return { reason: "set the forge's API URL" };
  if (!project) return { reason: "set the project (owner/name) on the forge" };
  return { provider, apiUrl: apiUrl.replace(/\/+$/, ""), project };
}

/** A forge name from user input, or a UserError listing the choices. */
export function parseProvider(value: unknown): ForgeProvider {
  if (typeof value === "string" && (forgeProviders as readonly string[]).includes(value))
    return value as ForgeProvider;
  throw new UserError(
    `invalid forge ${JSON.stringify(typeof value === "string" ? value.slice(0, 60) : (value ?? null))}: use one of ${forgeProviders.join(", ")}`,
  );
}

/** An http(s) API base from user input (no credentials, query or fragment), or a UserError. */
export function parseApiUrl(value: unknown): string {
  let u: URL | undefined;
  try {
    u = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    u = undefined;
  }
  if (
    !u ||
    (u.protocol !== "http:" && u.protocol !== "https:") ||
    u.username ||
    u.password ||
    u.search ||
    u.hash
  )
    throw new UserError(
      `invalid forge API URL ${JSON.stringify(typeof value === "string" ? value.slice(0, 200) : (value ?? null))}: expected http(s)://host[/path] without credentials, e.g. https://git.example/api/v1`,
    );
  return u.toString().replace(/\/+$/, "");
}

/** owner/name (or a GitLab numeric id or group/subgroup/name path), or a UserError. */
export function parseProject(value: unknown): string {
  if (
    typeof value === "string" &&
    (/^\d+$/.test(value) || /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(value)) &&
    !value.split("/").some((s) => s === "." || s === "..")
  )
    return value;
  throw new UserError(
    `invalid forge project ${JSON.stringify(typeof value === "string" ? value.slice(0, 200) : (value ?? null))}: expected owner/name (GitLab: a path or a numeric id)`,
  );
}
