// Triggers: what starts a run, turned into the workflow domain's TriggerEvent. Webhooks from GitHub,
// Gitea/Forgejo and GitLab are checked against their secret and normalised to GitHub's payloads, so
// a workflow sees the same `github.event` whichever forge sent it; `on.schedule` crons say when they
// are due; manual runs get GitHub's workflow_dispatch payload.
// Invariants: everything here is pure (no I/O, no clock — callers pass `now`); a delivery's id is the
// same on every redelivery, so deduping on it never starts a second run; a payload that names no
// complete list of changed files yields `undefined`, never a guess, and the server reads its mirror.
export { type DispatchRequest, workflowDispatchEvent } from "./dispatch.js";
export {
  type RepositoryInfo,
  repositoryMatches,
  repositoryPayload,
  repositoryUrlKey,
  type WebhookRepository,
} from "./repository.js";
export {
  type DueSchedule,
  dueSchedules,
  nextScheduleTime,
  type ScheduleEntry,
  scheduleEvent,
  validateSchedule,
} from "./schedule.js";
export { commitShaPattern, invalidPayloadSha, isCommitSha } from "./payload.js";
export {
  bodySha256,
  changedFilesOf,
  deliveryIdOf,
  maxPayloadCommits,
  maxWebhookBody,
  type ParsedWebhook,
  parseWebhook,
  type SignatureCheck,
  signatureCheck,
  toTriggerEvent,
  verifySignature,
  WebhookError,
  type WebhookErrorStatus,
  type WebhookHeaders,
  type WebhookProvider,
  webhookProviders,
} from "./webhooks.js";
export {
  isForkPullRequest,
  type PullRequestOrigin,
  pullRequestEvents,
  pullRequestOrigin,
} from "./fork.js";
