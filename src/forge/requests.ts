// The forges' requests as data (no I/O): a commit status on GitHub, Gitea or GitLab, a GitHub deployment
// and its statuses, a pull request comment. Each provider's documented path, method and body fields:
//   GitHub  POST /repos/{owner}/{repo}/statuses/{sha}     {state, target_url, description, context}
//   Gitea   POST /repos/{owner}/{repo}/statuses/{sha}     {state, target_url, description, context}
//   GitLab  POST /projects/{id}/statuses/{sha}            {state, name, target_url, description, ref}
//   GitHub  POST /repos/{owner}/{repo}/deployments        {ref, environment, …}
//           POST /repos/{owner}/{repo}/deployments/{id}/statuses {state, environment_url, log_url, …}
//           GET  /repos/{owner}/{repo}/commits/{sha}/pulls, POST /repos/{owner}/{repo}/issues/{n}/comments {body}
//   Gitea   GET  /repos/{owner}/{repo}/commits/{sha}/pull (404: none), POST /repos/{owner}/{repo}/issues/{index}/comments {body}
//   GitLab  GET  /projects/{id}/repository/commits/{sha}/merge_requests, POST /projects/{id}/merge_requests/{iid}/notes {body}
import type { ForgeTarget } from "./target.js";

export type ForgeRequest = {
  method: "GET" | "POST";
  path: string;
  body?: Record<string, unknown>;
  /** A 404 answer means "there is none" (undefined), not a failed request. */
  absentOk?: boolean;
};

/** slipway's view of a commit status; each forge spells it its own way (see `forgeState`). */
export type CommitState = "pending" | "running" | "success" | "failure" | "error";

export type StatusReport = {
  sha: string;
  state: CommitState;
  /** e.g. slipway/ci/build. */
  context: string;
  description: string;
  targetUrl?: string;
  /** The branch (GitLab shows it). */
  branch?: string;
};

/** GitHub documents "a short description" and refuses long ones; 140 is its long-standing limit. */
const maxDescription = 140;
const maxContext = 255;

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The `{owner}/{repo}` part of a GitHub or Gitea path, each part encoded. */
function repoPath(project: string): string {
  return project
    .split("/")
    .map((p) => encodeURIComponent(p))
    .join("/");
}

/** The state as the forge names it: GitLab has running and canceled; GitHub and Gitea know pending and error. */
export function forgeState(provider: ForgeTarget["provider"], state: CommitState): string {
  if (provider === "gitlab") return state === "failure" ? "failed" : state === "error" ? "canceled" : state;
  return state === "running" ? "pending" : state;
}

export function statusRequest(target: ForgeTarget, s: StatusReport): ForgeRequest {
  const state = forgeState(target.provider, s.state);
  const description = clip(s.description, maxDescription);
  const context = clip(s.context, maxContext);
  const sha = encodeURIComponent(s.sha);
  if (target.provider === "gitlab")
    return {
      method: "POST",
      path: `/projects/${encodeURIComponent(target.project)}/statuses/${sha}`,
      body: {
        state,
        name: context,
        description,
        ...(s.targetUrl && { target_url: s.targetUrl }),
        ...(s.branch && { ref: s.branch }),
      },
    };
  return {
    method: "POST",
    path: `/repos/${repoPath(target.project)}/statuses/${sha}`,
    body: { state, context, description, ...(s.targetUrl && { target_url: s.targetUrl }) },
  };
}

export type DeploymentState = "queued" | "in_progress" | "success" | "failure" | "error" | "inactive";

export type DeploymentReport = {
  /** What GitHub deploys: a sha, tag or branch. */
  ref: string;
  environment: string;
  description: string;
  /** The release's status. */
  state: DeploymentState;
  environmentUrl?: string;
  logUrl?: string;
  production: boolean;
};

/** Creates the deployment: no auto-merge and no required contexts (slipway has deployed it already). */
export function deploymentRequest(target: ForgeTarget, d: DeploymentReport): ForgeRequest {
  return {
    method: "POST",
    path: `/repos/${repoPath(target.project)}/deployments`,
    body: {
      ref: d.ref,
      environment: d.environment,
      description: clip(d.description, maxDescription),
      auto_merge: false,
      required_contexts: [],
      production_environment: d.production,
    },
  };
}

export function deploymentStatusRequest(
  target: ForgeTarget,
  deploymentId: string,
  d: DeploymentReport,
): ForgeRequest {
  return {
    method: "POST",
    path: `/repos/${repoPath(target.project)}/deployments/${encodeURIComponent(deploymentId)}/statuses`,
    body: {
      state: d.state,
      description: clip(d.description, maxDescription),
      environment: d.environment,
      ...(d.environmentUrl && { environment_url: d.environmentUrl }),
      ...(d.logUrl && { log_url: d.logUrl }),
    },
  };
}

/** The pull (merge) requests a commit belongs to; read the answer with `pullNumberOf`. */
export function pullsOfCommitRequest(target: ForgeTarget, sha: string): ForgeRequest {
  const commit = encodeURIComponent(sha);
  if (target.provider === "gitlab")
    return {
      method: "GET",
      path: `/projects/${encodeURIComponent(target.project)}/repository/commits/${commit}/merge_requests`,
    };
  if (target.provider === "gitea")
    // One pull request or 404 when the commit belongs to none.
    return {
      method: "GET",
      path: `/repos/${repoPath(target.project)}/commits/${commit}/pull`,
      absentOk: true,
    };
  return { method: "GET", path: `/repos/${repoPath(target.project)}/commits/${commit}/pulls` };
}

/**
 * The number (GitLab: the iid) of the pull request to comment on from `pullsOfCommitRequest`'s answer:
 * an open one first, else the first (the merged one a deployed main-branch commit came from); undefined
 * when the commit belongs to none.
 */
export function pullNumberOf(provider: ForgeTarget["provider"], answer: unknown): number | undefined {
  const list = (Array.isArray(answer) ? answer : answer ? [answer] : []) as {
    number?: unknown;
    iid?: unknown;
    state?: unknown;
  }[];
  const open = provider === "gitlab" ? "opened" : "open";
  const pr = list.find((x) => x?.state === open) ?? list[0];
  const n = provider === "gitlab" ? pr?.iid : pr?.number;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export function commentRequest(target: ForgeTarget, issue: number, body: string): ForgeRequest {
  if (target.provider === "gitlab")
    return {
      method: "POST",
      path: `/projects/${encodeURIComponent(target.project)}/merge_requests/${issue}/notes`,
      body: { body },
    };
  return {
    method: "POST",
    path: `/repos/${repoPath(target.project)}/issues/${issue}/comments`,
    body: { body },
  };
}
