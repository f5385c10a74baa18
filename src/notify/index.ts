// Notifications: run and deploy events matched against the `notify:` rules of slipway.yaml and of the
// server, rendered for Slack (Block Kit, within its limits) or as a signed JSON webhook, and delivered
// asynchronously from a durable queue in the store.
//
// Invariants: `Notifier.send` never waits for a receiver and never throws into the caller; deliveries to
// one channel keep their order; a failed attempt is retried with exponential backoff up to a limit, and
// every delivery ends `delivered` or `failed` with its attempts and last error in the log; untrusted
// text (PR titles, branch names, commit messages) is escaped for Slack and clipped to Block Kit's
// limits; webhook requests carry an HMAC-SHA256 signature over timestamp and body. Rules come from the
// server's own file and from each repository's slipway.yaml, both validated with file:line:col.
export {
  blockKitLimits,
  fallbackTextLimit,
  type SlackMessage,
  validateBlockKit,
} from "./block-kit.js";
export type { NotifyConfig } from "../config/index.js";
export { loadNotifyFile, parseNotifyFile, parseNotifySection } from "./config.js";
export { escapeClip, escapeSlack, slackLink } from "./escape.js";
export {
  type Conclusion,
  type DeployEvent,
  type DeployEventType,
  deployEventTypes,
  eventTypeOf,
  eventTypesOf,
  type JobSummary,
  type NotifyEvent,
  type PullRequestInfo,
  type RunEvent,
} from "./events.js";
export type { Deliverable, TargetDeliverer } from "./channels.js";
export { type ChannelRef, deliveryView, Notifier, type NotifierOptions } from "./notifier.js";
export { matchRules } from "./rules.js";
export { DeliveryError, sendSlack, sendWebhook } from "./send.js";
export { groupJobs, slackMessage } from "./slack.js";
export {
  deliveryHeader,
  defaultToleranceSeconds,
  eventHeader,
  payloadSchemaId,
  signatureHeader,
  signPayload,
  timestampHeader,
  type VerifyResult,
  verifyWebhookSignature,
  type WebhookPayload,
  webhookPayload,
  webhookPayloadSchema,
} from "./webhook.js";
