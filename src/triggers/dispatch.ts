// `workflow_dispatch` started from slipway itself (the dashboard, the API, `slipway dispatch`), with
// the payload GitHub sends for a manual run: `{ inputs, ref, repository, sender, workflow }`.

import { UserError } from "../lib/errors.js";
import type { TriggerEvent } from "../workflow/index.js";
import { type RepositoryInfo, repositoryPayload } from "./repository.js";

export type DispatchRequest = {
  repository: RepositoryInfo;
  /**
   * `refs/heads/<branch>`, `refs/tags/<tag>` or a bare branch name; empty means the default branch.
   * A bare name is taken as a branch: resolve tags to `refs/tags/…` before calling.
   */
  ref?: string;
  /** Input values; GitHub's payload carries them as strings (`github.event.inputs`), so they are made strings. */
  inputs?: Readonly<Record<string, string | number | boolean>>;
  /** The login of whoever started the run (`github.actor`, `github.event.sender.login`). */
  actor: string;
  /** The workflow file, as GitHub names it in the payload: `.github/workflows/deploy.yml`. */
  workflow?: string;
  /** The commit `ref` points at, when the caller has resolved it (GITHUB_SHA). */
  sha?: string;
};

function fullRef(ref: string | undefined, defaultBranch: string | undefined): string {
  const given = ref?.trim();
  if (given) return given.startsWith("refs/") ? given : `refs/heads/${given}`;
  if (defaultBranch) return `refs/heads/${defaultBranch}`;
  throw new UserError("workflow_dispatch needs a ref: the repository has no known default branch");
}

/** The workflow_dispatch event of a manual run. Throws a UserError when no ref can be determined. */
export function workflowDispatchEvent(request: DispatchRequest): TriggerEvent {
  const ref = fullRef(request.ref, request.repository.defaultBranch);
  const inputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.inputs ?? {})) inputs[name] = String(value);
  const payload: Record<string, unknown> = {
    inputs,
    ref,
    repository: repositoryPayload(request.repository),
    sender: { login: request.actor, type: "User" },
  };
  if (request.workflow !== undefined) payload.workflow = request.workflow;
  const event: TriggerEvent = { name: "workflow_dispatch", payload, ref };
  if (request.sha !== undefined) event.sha = request.sha;
  return event;
}
