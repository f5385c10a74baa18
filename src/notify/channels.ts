// The channel kinds a notifier knows — Slack, webhooks, and the deliverers given in its `targets` — in
// one place: the body stored for a channel (`render`), whether a stored row is of a kind this notifier can
// deliver, and one attempt at delivering it (reading the channel's secret first). The queue and its
// retries (delivery-queue.ts) and the recording of events (notifier.ts) know nothing of the kinds.
import type { NotifyChannelConfig } from "../config/index.js";
import type { SecretValue } from "../secrets/index.js";
import type { NotificationDelivery } from "../store/index.js";
import type { SlackMessage } from "./block-kit.js";
import type { NotifyEvent } from "./events.js";
import { DeliveryError, sendSlack, sendWebhook } from "./send.js";
import { slackMessage } from "./slack.js";
import { webhookPayload } from "./webhook.js";

/** One attempt at delivering a stored row of a kind the notifier does not know itself. */
export type TargetDeliverer = (d: Deliverable, opts: { timeoutMs: number }) => Promise<void>;

export type Deliverable = Pick<
  NotificationDelivery,
  "target" | "payload" | "scope" | "eventType" | "eventId"
>;

/** The value of a secret a channel names, as seen by the repository that defined the channel. */
export type SecretLookup = (name: string, repo: string | null) => Promise<SecretValue | string | undefined>;

export type ChannelsOptions = {
  secret: SecretLookup;
  targets: Record<string, TargetDeliverer>;
  /** Per attempt. */
  timeoutMs: number;
};

export class Channels {
  readonly #secret: SecretLookup;
  readonly #targets: Record<string, TargetDeliverer>;
  readonly #timeoutMs: number;

  constructor(opts: ChannelsOptions) {
    this.#secret = opts.secret;
    this.#targets = opts.targets;
    this.#timeoutMs = opts.timeoutMs;
  }

  /**
   * Slack, webhooks and the kinds given in `targets`. Rows of another kind belong to a notifier given
   * their deliverer (the server's, for forge reports) or to a newer slipway: they stay pending.
   */
  canDeliver(target: unknown): boolean {
    if (!target || typeof target !== "object") return true;
    return Object.keys(target).some((k) => k === "slack" || k === "webhook" || k in this.#targets);
  }

  /** One attempt; throws a DeliveryError (retryable or not) when it failed. */
  async deliver(d: Deliverable): Promise<void> {
    const target = d.target as Partial<NotifyChannelConfig & { slack: unknown; webhook: unknown }>;
    const opts = { timeoutMs: this.#timeoutMs };
    if ("slack" in target && target.slack) {
      const slack = target.slack as { webhook_url?: string; webhook_url_secret?: string };
      const url = slack.webhook_url ?? (await this.#secretValue(slack.webhook_url_secret, d.scope));
      if (url === undefined) throw new DeliveryError("the channel names no webhook URL", false);
      await sendSlack(url, JSON.parse(d.payload) as SlackMessage, opts);
      return;
    }
    if ("webhook" in target && target.webhook) {
      const hook = target.webhook as { url: string; secret_name?: string };
      const secret = hook.secret_name ? await this.#secretValue(hook.secret_name, d.scope) : undefined;
      await sendWebhook(hook.url, d.payload, { ...opts, secret, eventType: d.eventType, eventId: d.eventId });
      return;
    }
    for (const [kind, deliver] of Object.entries(this.#targets)) if (kind in target) return deliver(d, opts);
    throw new DeliveryError("unknown channel kind (neither slack nor webhook)", false);
  }

  async #secretValue(
    name: string | undefined,
    scope: string | null,
  ): Promise<SecretValue | string | undefined> {
    if (!name) return undefined;
    const value = await this.#secret(name, scope);
    if (value === undefined)
      throw new DeliveryError(
        `secret ${name} is not set (slipway secret set ${name}${scope ? ` --repo ${scope}` : ""})`,
        false,
      );
    return value;
  }
}

/** The body stored for a channel: a Slack message or a webhook payload, as JSON. */
export function render(definition: NotifyChannelConfig, event: NotifyEvent, id: string, now: number): string {
  if ("slack" in definition) return JSON.stringify(slackMessage(event));
  return JSON.stringify(webhookPayload(event, { id, createdAt: now }));
}

/** An error's message, for the delivery log. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
