// The repository a trigger concerns: what a webhook says about it, the GitHub-shaped `repository`
// object slipway puts in the payloads it makes itself, and matching a delivery to a configured clone URL.
import { parseRemoteUrl } from "../lib/git.js";
import { type Json, record, str } from "./payload.js";

/** What a delivery says about its repository, for finding the configured one (404 when none). */
export type WebhookRepository = {
  /** `owner/name` (GitLab: the project's `path_with_namespace`, which may have several owner segments). */
  fullName?: string;
  /** Every URL the repository can be cloned from that the payload names (HTTP first, then SSH, git://). */
  cloneUrls: string[];
  htmlUrl?: string;
};

/** A repository known to slipway, for the payloads of events it makes itself (dispatch, schedule). */
export type RepositoryInfo = {
  fullName: string;
  defaultBranch?: string;
  cloneUrl?: string;
  sshUrl?: string;
  htmlUrl?: string;
  private?: boolean;
};

/** The `repository` object of GitHub's payloads, with the fields slipway knows; the rest are left out. */
export function repositoryPayload(info: RepositoryInfo): Json {
  const slash = info.fullName.lastIndexOf("/");
  const payload: Json = {
    name: info.fullName.slice(slash + 1),
    full_name: info.fullName,
    owner: { login: slash < 0 ? "" : info.fullName.slice(0, slash) },
  };
  if (info.private !== undefined) payload.private = info.private;
  if (info.htmlUrl !== undefined) payload.html_url = info.htmlUrl;
  if (info.cloneUrl !== undefined) payload.clone_url = info.cloneUrl;
  if (info.sshUrl !== undefined) payload.ssh_url = info.sshUrl;
  if (info.defaultBranch !== undefined) payload.default_branch = info.defaultBranch;
  return payload;
}

/** Reads a GitHub-shaped `repository` object (GitHub's, Gitea's, or one normalised from GitLab). */
export function webhookRepositoryOf(repository: unknown): WebhookRepository {
  const repo = record(repository);
  const urls = [repo.clone_url, repo.ssh_url, repo.git_url].map(str).filter((u) => u !== undefined);
  const result: WebhookRepository = { cloneUrls: [...new Set(urls)] };
  const fullName = str(repo.full_name);
  if (fullName !== undefined) result.fullName = fullName;
  const htmlUrl = str(repo.html_url);
  if (htmlUrl !== undefined) result.htmlUrl = htmlUrl;
  return result;
}

/**
 * `host/path` of a clone or web URL, lower-cased, without user, port, `.git` or trailing slash, so
 * that `https://git.example.com:3000/Org/App.git`, `git@git.example.com:org/app.git` and
 * `ssh://git@git.example.com:2222/org/app` compare equal. Ports are dropped because a forge's SSH
 * and HTTP ports differ while naming the same repository. Undefined for what is not a URL.
 */
export function repositoryUrlKey(url: string): string | undefined {
  const remote = parseRemoteUrl(url);
  if (remote === undefined || remote.host === "") return undefined;
  const path = remote.owner === "" ? remote.repo : `${remote.owner}/${remote.repo}`;
  return `${remote.host}/${path}`.toLowerCase();
}

/** Whether a delivery's repository is the one cloned from `url` (any of its clone URLs or its web URL). */
export function repositoryMatches(repo: WebhookRepository, url: string): boolean {
  const key = repositoryUrlKey(url);
  if (key === undefined) return false;
  const candidates = repo.htmlUrl === undefined ? repo.cloneUrls : [...repo.cloneUrls, repo.htmlUrl];
  return candidates.some((candidate) => repositoryUrlKey(candidate) === key);
}
