// GitLab payloads, normalised to GitHub's: Push Hook and Tag Push Hook become `push`, Merge Request
// Hook becomes `pull_request`, and System Hooks carrying those same payloads are read alike. GitLab's
// `project` becomes a GitHub-shaped `repository`; its users become `{ login, id, name, … }` senders.
//
// What GitLab does not send is left out rather than guessed: a commit's committer, the author of a
// merge request when someone else caused the event (only `author_id` is known), and the target
// branch's commit (`pull_request.base.sha`), which the server reads from its mirror.

import { isZeroSha, type Json, type Normalised, num, record, str, zeroSha } from "./payload.js";

const visibilities: Record<number, string> = { 0: "private", 10: "internal", 20: "public" };

/** A GitLab `project` object as GitHub's `repository`. */
export function gitlabRepository(value: unknown): Json {
  const project = record(value);
  const webUrl = str(project.web_url) ?? str(project.homepage);
  let fullName = str(project.path_with_namespace);
  if (fullName === undefined && webUrl !== undefined) {
    try {
      fullName = new URL(webUrl).pathname.replace(/^\/+|\/+$/g, "") || undefined;
    } catch {
      // not a URL: no name to derive
    }
  }
  const slash = fullName?.lastIndexOf("/") ?? -1;
  const level = num(project.visibility_level);
  const repo: Json = {
    id: project.id ?? null,
    name: fullName === undefined ? (project.name ?? null) : fullName.slice(slash + 1),
    full_name: fullName ?? null,
    owner: { login: fullName === undefined || slash < 0 ? null : fullName.slice(0, slash) },
    description: project.description ?? null,
    html_url: webUrl ?? null,
    url: webUrl ?? null,
    clone_url: str(project.git_http_url) ?? str(project.http_url) ?? null,
    ssh_url: str(project.git_ssh_url) ?? str(project.ssh_url) ?? null,
    default_branch: project.default_branch ?? null,
  };
  if (level !== undefined) {
    repo.private = level !== 20;
    repo.visibility = visibilities[level] ?? null;
  }
  return repo;
}

function gitlabUser(value: unknown): Json {
  const user = record(value);
  return {
    login: user.username ?? null,
    id: user.id ?? null,
    name: user.name ?? null,
    email: user.email ?? null,
    avatar_url: user.avatar_url ?? null,
    type: "User",
  };
}

function gitlabCommit(value: unknown): Json {
  const c = record(value);
  const author = record(c.author);
  const commit: Json = {
    id: c.id ?? null,
    distinct: true,
    message: c.message ?? null,
    timestamp: c.timestamp ?? null,
    url: c.url ?? null,
    author: { name: author.name ?? null, email: author.email ?? null },
  };
  // Absent lists stay absent: changedFilesOf must not mistake "not sent" for "nothing changed".
  for (const key of ["added", "removed", "modified"]) if (Array.isArray(c[key])) commit[key] = c[key];
  return commit;
}

function normalisePush(body: Json): Normalised {
  const repository = gitlabRepository(body.project);
  const before = str(body.before) ?? zeroSha;
  const deleted = isZeroSha(body.after) || str(body.after) === undefined;
  // For an annotated tag `after` names the tag object; `checkout_sha` is the commit it points at,
  // which is what GitHub's GITHUB_SHA gives and a run checks out.
  const after = deleted ? zeroSha : (str(body.checkout_sha) ?? str(body.after) ?? zeroSha);
  const commits = Array.isArray(body.commits) ? body.commits.map(gitlabCommit) : [];
  const webUrl = str(repository.html_url);
  const created = isZeroSha(before);
  const payload: Json = {
    ref: body.ref ?? null,
    before,
    after,
    created,
    deleted,
    // GitLab does not say whether a push was forced; false is what GitHub reports for most pushes.
    forced: false,
    base_ref: null,
    compare: webUrl !== undefined && !created && !deleted ? `${webUrl}/-/compare/${before}...${after}` : "",
    commits,
    head_commit: commits.find((c) => c.id === after) ?? null,
    repository,
    pusher: { name: body.user_username ?? body.user_name ?? null, email: body.user_email ?? null },
    sender: gitlabUser({
      username: body.user_username,
      id: body.user_id,
      name: body.user_name,
      email: body.user_email,
      avatar_url: body.user_avatar,
    }),
  };
  const count = num(body.total_commits_count);
  return count === undefined
    ? { kind: "event", eventName: "push", payload }
    : { kind: "event", eventName: "push", payload, commitCount: count };
}

type Action = { action: string } | { ignored: string };

function mergeRequestAction(attrs: Json, changes: Json): Action {
  const action = str(attrs.action);
  switch (action) {
    case "open":
      return { action: "opened" };
    case "reopen":
      return { action: "reopened" };
    case "close":
    case "merge":
      return { action: "closed" };
    case "update":
      // GitLab sends `oldrev` only when the update pushed commits.
      if (str(attrs.oldrev) !== undefined) return { action: "synchronize" };
      if ("title" in changes || "description" in changes) return { action: "edited" };
      return { ignored: "a GitLab merge request update without new commits or a title/description change" };
    default:
      return {
        ignored:
          action === undefined
            ? "a GitLab merge request event without an action"
            : `GitLab merge request action '${action}' has no GitHub pull_request counterpart`,
      };
  }
}

/**
 * The project a merge request comes from, with its id: whether it is a fork is decided on these ids
 * (`source_project_id` vs `target_project_id`), so a payload without a `source` object never passes
 * a fork's merge request off as the target's own.
 */
function mergeRequestSource(attrs: Json, target: Json): Json {
  const sourceId = attrs.source_project_id;
  const hasSource = Object.keys(record(attrs.source)).length > 0;
  if (!hasSource) {
    if (sourceId === undefined || sourceId === null || sourceId === attrs.target_project_id) return target;
    return { ...gitlabRepository({}), id: sourceId };
  }
  const source = gitlabRepository(attrs.source);
  if ((source.id === null || source.id === undefined) && sourceId !== undefined) source.id = sourceId;
  return source;
}

function normaliseMergeRequest(body: Json): Normalised {
  const attrs = record(body.object_attributes);
  const verdict = mergeRequestAction(attrs, record(body.changes));
  if ("ignored" in verdict) return { kind: "ignored", eventName: "pull_request", reason: verdict.ignored };

  const sender = gitlabUser(body.user);
  const target = gitlabRepository(Object.keys(record(attrs.target)).length ? attrs.target : body.project);
  if ((target.id === null || target.id === undefined) && attrs.target_project_id !== undefined)
    target.id = attrs.target_project_id;
  const source = mergeRequestSource(attrs, target);
  const headSha = str(record(attrs.last_commit).id) ?? null;
  const merged = attrs.action === "merge" || attrs.state === "merged";
  const author = attrs.author_id !== undefined && attrs.author_id === record(body.user).id ? sender : null;
  const labels = Array.isArray(body.labels) ? body.labels : Array.isArray(attrs.labels) ? attrs.labels : [];
  const sourceBranch = str(attrs.source_branch) ?? null;
  const targetBranch = str(attrs.target_branch) ?? null;
  const ownerOf = (repo: Json) => record(repo.owner).login ?? "";

  const pullRequest: Json = {
    id: attrs.id ?? null,
    number: attrs.iid ?? null,
    title: attrs.title ?? null,
    body: str(attrs.description) ?? null,
    state: attrs.state === "opened" || attrs.state === "locked" ? "open" : "closed",
    draft: attrs.draft ?? attrs.work_in_progress ?? false,
    html_url: attrs.url ?? null,
    user: author ?? { login: null, id: attrs.author_id ?? null },
    created_at: attrs.created_at ?? null,
    updated_at: attrs.updated_at ?? null,
    labels: labels.map((l) => {
      const label = record(l);
      return {
        id: label.id ?? null,
        name: label.title ?? label.name ?? null,
        color: typeof label.color === "string" ? label.color.replace(/^#/, "") : null,
        description: label.description ?? null,
      };
    }),
    head: {
      ref: sourceBranch,
      sha: headSha,
      label: `${ownerOf(source)}:${sourceBranch ?? ""}`,
      repo: source,
    },
    base: { ref: targetBranch, label: `${ownerOf(target)}:${targetBranch ?? ""}`, repo: target },
    merged,
    merged_by: merged ? sender : null,
    merge_commit_sha: attrs.merge_commit_sha ?? null,
  };
  const payload: Json = {
    action: verdict.action,
    number: attrs.iid ?? null,
    pull_request: pullRequest,
    repository: target,
    sender,
  };
  if (verdict.action === "synchronize") {
    payload.before = attrs.oldrev;
    payload.after = headSha;
  }
  return { kind: "event", eventName: "pull_request", payload };
}

/** Normalises a GitLab delivery with `X-Gitlab-Event: eventHeader`. */
export function normaliseGitlab(eventHeader: string, body: Json): Normalised {
  if (!["Push Hook", "Tag Push Hook", "Merge Request Hook", "System Hook"].includes(eventHeader)) {
    return { kind: "ignored", reason: `GitLab '${eventHeader}' events do not trigger workflows in slipway` };
  }
  // System hooks send pushes, tag pushes and merge requests with the project hooks' payloads; their
  // other events (project_create, user_create, repository_update, …) concern no workflow.
  const kind = str(body.object_kind) ?? str(body.event_name);
  switch (kind) {
    case "push":
    case "tag_push":
      return normalisePush(body);
    case "merge_request":
      return normaliseMergeRequest(body);
    default:
      return {
        kind: "ignored",
        reason: `GitLab ${eventHeader} of kind '${kind ?? "unknown"}' does not trigger workflows in slipway`,
      };
  }
}
