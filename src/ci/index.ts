// CI: the service behind `slipway serve`. Repositories have a mirror the server fetches on every
// trigger; webhooks, polls, crons and dispatches become runs in the store; each run's job graph is
// driven by the runner domain's engine with legs queued for runners (the server's own or remote ones).
// Invariants: a leg recorded as finished is never run again (re-runs carry over what they do not
// re-run; a restarted server drives unfinished runs again from what is recorded); every leg ends in a
// definite state with a reason; a webhook delivery starts runs at most once. A finished run is handed
// to the Notifier (server rules and the repository's slipway.yaml at the run's commit) without waiting
// for any receiver; a bad `notify:` section is a warning on the run, never its failure. A fork's pull
// request runs its own workflow with no secrets and its slipway.yaml configures nothing on the server
// (the base commit's `notify:` applies); pull_request_target runs the base branch's workflow. A job
// bound for an environment gets its secrets and vars (no other job does) and, when it is protected,
// waits in the store for a reviewer and its timer; a ref it does not allow fails the job.
// (the base commit's `notify:` applies); pull_request_target runs the base branch's workflow.
export {
  type ArtifactSettings,
  artifactView,
  defaultArtifactRetentionDays,
  defaultMaxRunArtifactBytes,
  ServerArtifacts,
} from "./artifacts.js";
export { type BackgroundOptions, runBackground } from "./background.js";
export {
  describeReviewers,
  parseDuration,
  type Reviewer,
  reviewRefusal,
  refRefusal,
} from "./environment-rules.js";
export { runActor } from "./environments.js";
export { forkPullRequestsOff, forkVerdict, runsForkCode } from "./forks.js";
export { RunnerApi } from "./runner-api.js";
export {
  type ClaimBody,
  type CompleteBody,
  claimBody,
  claimLabels,
  completeBody,
  heartbeatBody,
  jobRowIdParam,
  type LogBody,
  logBody,
  parseRunnerMessage,
  runIdParam,
  type StepBody,
  stepBody,
} from "./runner-protocol.js";
export {
  branchOf,
  jobSummaries,
  previousConclusion,
  pullRequestOfRun,
  type RunEventInput,
  runEventOf,
} from "./run-event.js";
export {
  type WebhookIntakeOptions,
  type WebhookLimits,
  type WebhookRequest,
  type WebhookResponse,
  webhookIntakeDefaults,
} from "./webhook-intake.js";
export {
  type CiEvent,
  type CiOptions,
  CiService,
  type RerunRequest,
  type RunNotifyOptions,
} from "./service.js";
