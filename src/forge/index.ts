// Forge feedback: what slipway reports back to where the code lives. With a per-repository forge token,
// each workflow run and each job becomes a commit status on GitHub (the commit statuses API), Gitea or
// GitLab — pending, then success, failure or error — linking to the dashboard; a deploy through the
// server becomes a GitHub deployment with its statuses (a commit status elsewhere), and optionally a pull
// (GitLab: merge) request comment with the release's version and measured impact. Badges (SVG) show a
// workflow's state per branch and an app environment's live health (from its deploy agent; counts only,
// never addresses).
//
// Invariants: nothing is reported for a repository without a token; the token is stored only sealed
// under the master key (bound to its repository), opened for one request at a time, and never logged,
// stored in a queued row or returned by the API; reports go through the notifier's durable queue
// (retries with backoff on no answer, 5xx, 408 and 429; every attempt in the delivery log) and never
// fail or slow a run or a deploy; a repository's reports reach its forge in the order they happened;
// every text in a badge is XML-escaped.
export {
  appBadge,
  type Badge,
  escapeXml,
  healthBadge,
  type LiveStatus,
  renderBadge,
  workflowBadge,
} from "./badges.js";
export { impactComment } from "./comment.js";
export { type ForgePayload, forgeChannel, forgeDeliverer } from "./deliver.js";
export {
  type DeployOutcome,
  type DeployReportInput,
  type ForgeCiEvent,
  ForgeReporter,
  type ForgeReporterOptions,
} from "./reporter.js";
export {
  type CommitState,
  commentRequest,
  type DeploymentReport,
  type DeploymentState,
  deploymentRequest,
  deploymentStatusRequest,
  type ForgeRequest,
  forgeState,
  pullsOfCommitRequest,
  type StatusReport,
  statusRequest,
} from "./requests.js";
export { sendForgeRequest } from "./send.js";
export {
  type ForgeTarget,
  parseApiUrl,
  parseProject,
  parseProvider,
  parseRemote,
  resolveTarget,
} from "./target.js";
export { maxForgeTokenBytes, openForgeToken, sealForgeToken } from "./token.js";
export {
  type ForgeView,
  forgeView,
  parseForgePatch,
  parseForgeToken,
  removeForgeToken,
  setForgeToken,
  updateForgeSettings,
} from "./settings.js";
