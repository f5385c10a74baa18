// Recording: `send` matches an event against the rules and records one pending row per matching channel
// (the durable queue, and the delivery log) and returns; the channel's worker (delivery-queue.ts) then
// delivers its rows in order, with retries, so a slow or dead receiver delays only its own channel, never
// the run that sent the event; a restart resumes the pending rows (`start`). Several notifiers may share
// a database (the server and the deploy agents on its data directory): each row is attempted only under
// its claim in the store, so a delivery id reaches its receiver from one of them. What each channel kind
// stores and how it is delivered is channels.ts's.
import { randomUUID } from "node:crypto";
import type { NotifyChannelConfig, NotifyConfig } from "../config/index.js";
import { UserError } from "../lib/errors.js";
import type { NotificationDelivery, NotificationInput, StoreApi } from "../store/index.js";
import {
  Channels,
  type Deliverable,
  describe,
  render,
  type SecretLookup,
  type TargetDeliverer,
} from "./channels.js";
import { DeliveryQueue } from "./delivery-queue.js";
import { eventTypeOf, type NotifyEvent, type RunEvent } from "./events.js";
import { matchRules } from "./rules.js";

export type NotifierOptions = {
  store: Pick<StoreApi, "notifications">;
  /**
   * The value of a secret a channel names (webhook_url_secret, secret_name), as seen by `repo` (the
   * repository whose slipway.yaml defined the channel; null for the server's channels), e.g.
   * `(name, repo) => secretStore.lookup(name, { repo })`.
   */
  secret: SecretLookup;
  /** Attempts per delivery before it is marked failed (default 6). */
  maxAttempts?: number;
  /** The first retry's delay; each next one doubles (default 1000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter] (default 0.2). */
  jitter?: number;
  log?: (line: string) => void;
  random?: () => number;
  /**
   * Deliverers of targets other than Slack and webhooks, by the target's key (`{ forge: … }` → `forge`):
   * their rows share the queue, its retries and the delivery log. A deliverer throws a DeliveryError
   * (retryable or not) when the attempt failed.
   */
  targets?: Record<string, TargetDeliverer>;
};

/** A channel of a configuration, by name. */
export type ChannelRef = { name: string; definition: NotifyChannelConfig };

export class Notifier {
  readonly #store: NotifierOptions["store"];
  readonly #log: (line: string) => void;
  readonly #channels: Channels;
  readonly #queue: DeliveryQueue;
  /** Inserts are chained so that rows get ids in the order `send` was called, on every database. */
  #inserts: Promise<unknown> = Promise.resolve();

  constructor(opts: NotifierOptions) {
    this.#store = opts.store;
    this.#log = opts.log ?? (() => {});
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.#channels = new Channels({ secret: opts.secret, targets: opts.targets ?? {}, timeoutMs });
    this.#queue = new DeliveryQueue({
      store: opts.store,
      channels: this.#channels,
      maxAttempts: Math.max(1, opts.maxAttempts ?? 6),
      baseDelayMs: opts.baseDelayMs ?? 1000,
      maxDelayMs: opts.maxDelayMs ?? 5 * 60_000,
      timeoutMs,
      jitter: Math.min(Math.max(opts.jitter ?? 0.2, 0), 0.9),
      log: this.#log,
      random: opts.random ?? Math.random,
    });
  }

  /**
   * Records a delivery for each channel whose rule matches `event` and returns them; delivery happens in
   * the background. Never waits for a receiver and never rejects (problems are logged): fire and forget.
   * `scope` is the repository whose slipway.yaml `config` is (null: the server's configuration).
   */
  async send(
    event: NotifyEvent,
    config: NotifyConfig | undefined,
    opts: { scope?: string | null } = {},
  ): Promise<NotificationDelivery[]> {
    try {
      if (!config) return [];
      const channels = matchRules(config.rules, event).flatMap((name) => {
        const definition = config.channels[name];
        if (!definition) this.#log(`notify: no channel '${name}' for a rule; skipped`);
        return definition ? [{ name, definition }] : [];
      });
      return await this.enqueue(event, channels, opts.scope ?? null);
    } catch (err) {
      this.#log(
        `notify: cannot record ${eventTypeOf(event)} for ${event.repository}: ${(err as Error).message}`,
      );
      return [];
    }
  }

  /** Records `event` for the given channels (no rule matching) and starts their workers. */
  enqueue(
    event: NotifyEvent,
    channels: readonly ChannelRef[],
    scope: string | null,
  ): Promise<NotificationDelivery[]> {
    const eventId = event.id ?? randomUUID();
    const now = Date.now();
    const run = async () => {
      const out: NotificationDelivery[] = [];
      for (const ch of channels) {
        out.push(
          await this.#store.notifications.enqueue({
            channel: ch.name,
            scope,
            target: ch.definition,
            eventType: eventTypeOf(event),
            eventId,
            payload: render(ch.definition, event, eventId, now),
            now,
          }),
        );
      }
      for (const ch of channels) this.#queue.kick({ channel: ch.name, scope });
      return out;
    };
    const p = this.#inserts.then(run, run);
    this.#inserts = p.catch(() => {});
    return p;
  }

  /**
   * Records one delivery already rendered (for a target given in `targets`) and starts its channel's
   * worker. Rows of one (scope, channel) are delivered in the order they were recorded.
   */
  enqueueRendered(input: Omit<NotificationInput, "now">): Promise<NotificationDelivery> {
    const run = async () => {
      const d = await this.#store.notifications.enqueue(input);
      this.#queue.kick({ channel: input.channel, scope: input.scope ?? null });
      return d;
    };
    const p = this.#inserts.then(run, run);
    this.#inserts = p.catch(() => {});
    return p;
  }

  /** Resumes the pending deliveries in the store (after a restart). */
  start(): Promise<void> {
    return this.#queue.start();
  }

  /** Stops the workers once their current attempt ends; pending rows stay pending for the next start. */
  stop(): Promise<void> {
    return this.#queue.stop();
  }

  /** Resolves when no channel has a delivery in progress or waiting for a retry (for tests). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /**
   * `slipway notify test <channel>`: sends a test message to the channel now, once (no retries), records
   * the outcome in the delivery log, and returns it.
   */
  async test(
    channel: string,
    config: NotifyConfig | undefined,
    opts: { scope?: string | null } = {},
  ): Promise<NotificationDelivery> {
    const definition = config?.channels[channel];
    if (!definition) {
      const known = Object.keys(config?.channels ?? {});
      throw new UserError(
        `no channel '${channel}' in notify.channels (channels: ${known.join(", ") || "none"})`,
      );
    }
    const scope = opts.scope ?? null;
    const event: RunEvent = {
      kind: "run",
      test: true,
      repository: scope ?? "slipway",
      workflow: "slipway notify test",
      sha: "0000000",
      trigger: "slipway notify test",
      conclusion: "success",
      jobs: [{ name: "notify test", status: "success", durationMs: 0 }],
    };
    const eventId = randomUUID();
    const d: Deliverable = {
      target: definition,
      scope,
      eventType: "test",
      eventId,
      payload: render(definition, event, eventId, Date.now()),
    };
    const input = {
      channel,
      scope,
      target: definition,
      eventType: "test",
      eventId,
      payload: d.payload,
      attempts: 1,
    };
    try {
      await this.#channels.deliver(d);
      return await this.#store.notifications.record({ ...input, status: "delivered" });
    } catch (err) {
      return await this.#store.notifications.record({ ...input, status: "failed", lastError: describe(err) });
    }
  }

  /** The delay before retry number `attempts` (1 for the first retry). */
  backoffMs(attempts: number, retryAfterMs?: number): number {
    return this.#queue.backoffMs(attempts, retryAfterMs);
  }
}

/** A delivery as the API and the CLI show it: status, attempts, error; not the body or the channel definition. */
export function deliveryView(d: NotificationDelivery) {
  return {
    id: d.id,
    channel: d.channel,
    scope: d.scope,
    eventType: d.eventType,
    eventId: d.eventId,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    nextAttemptAt: d.status === "pending" ? d.nextAttemptAt : null,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    deliveredAt: d.deliveredAt,
  };
}
