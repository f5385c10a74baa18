// Delivery: `send` records one pending row per matching channel (the durable queue, and the delivery
// log) and returns; a worker per channel then delivers its rows one at a time in the order they were
// recorded, retrying failures with exponential backoff and jitter until they are delivered or have
// failed `maxAttempts` times. A slow or dead receiver therefore delays only its own channel, never the
// run that sent the event; a restart resumes the pending rows (`start`). Several notifiers may share a
// database (the server and the deploy agents on its data directory): each row is attempted only under
// its claim in the store (notifications.claim), so a delivery id reaches its receiver from one of them.
import { randomUUID } from "node:crypto";
import type { NotifyChannelConfig, NotifyConfig } from "../config/index.js";
import { backoffDelay } from "../lib/async.js";
import { UserError } from "../lib/errors.js";
import type { SecretValue } from "../secrets/index.js";
import type { NotificationDelivery, NotificationInput, NotificationQueue, StoreApi } from "../store/index.js";
import type { SlackMessage } from "./block-kit.js";
import { eventTypeOf, type NotifyEvent, type RunEvent } from "./events.js";
import { matchRules } from "./rules.js";
import { DeliveryError, sendSlack, sendWebhook } from "./send.js";
import { slackMessage } from "./slack.js";
import { webhookPayload } from "./webhook.js";

export type NotifierOptions = {
  store: Pick<StoreApi, "notifications">;
  /**
   * The value of a secret a channel names (webhook_url_secret, secret_name), as seen by `repo` (the
   * repository whose slipway.yaml defined the channel; null for the server's channels), e.g.
   * `(name, repo) => secretStore.lookup(name, { repo })`.
   */
  secret: (name: string, repo: string | null) => Promise<SecretValue | string | undefined>;
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

/** One attempt at delivering a stored row of a kind the notifier does not know itself. */
export type TargetDeliverer = (d: Deliverable, opts: { timeoutMs: number }) => Promise<void>;

/** A channel of a configuration, by name. */
export type ChannelRef = { name: string; definition: NotifyChannelConfig };

export type Deliverable = Pick<
  NotificationDelivery,
  "target" | "payload" | "scope" | "eventType" | "eventId"
>;

type Worker = { again: boolean; done: Promise<void> };

/** How often a notifier looks again at a row another one holds. */
const claimPollMs = 250;

const queueKey = (q: NotificationQueue) => `${q.scope ?? ""}\u0000${q.channel}`;

export class Notifier {
  readonly #store: NotifierOptions["store"];
  readonly #secret: NotifierOptions["secret"];
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #jitter: number;
  readonly #log: (line: string) => void;
  readonly #random: () => number;
  readonly #targets: Record<string, TargetDeliverer>;
  readonly #workers = new Map<string, Worker>();
  readonly #sleepers = new Set<() => void>();
  /** This notifier's name in the rows it claims. */
  readonly #id = `${process.pid}-${randomUUID()}`;
  #stopped = false;
  /** Inserts are chained so that rows get ids in the order `send` was called, on every database. */
  #inserts: Promise<unknown> = Promise.resolve();

  constructor(opts: NotifierOptions) {
    this.#store = opts.store;
    this.#secret = opts.secret;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.#baseDelayMs = opts.baseDelayMs ?? 1000;
    this.#maxDelayMs = opts.maxDelayMs ?? 5 * 60_000;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#jitter = Math.min(Math.max(opts.jitter ?? 0.2, 0), 0.9);
    this.#log = opts.log ?? (() => {});
    this.#random = opts.random ?? Math.random;
    this.#targets = opts.targets ?? {};
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
      for (const ch of channels) this.#kick({ channel: ch.name, scope });
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
      this.#kick({ channel: input.channel, scope: input.scope ?? null });
      return d;
    };
    const p = this.#inserts.then(run, run);
    this.#inserts = p.catch(() => {});
    return p;
  }

  /** Resumes the pending deliveries in the store (after a restart). */
  async start(): Promise<void> {
    this.#stopped = false;
    for (const q of await this.#store.notifications.pendingQueues()) this.#kick(q);
  }

  /** Stops the workers once their current attempt ends; pending rows stay pending for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of this.#sleepers) wake();
    await Promise.all([...this.#workers.values()].map((w) => w.done));
  }

  /** Resolves when no channel has a delivery in progress or waiting for a retry (for tests). */
  async idle(): Promise<void> {
    while (this.#workers.size > 0) await Promise.all([...this.#workers.values()].map((w) => w.done));
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
      await this.#deliver(d);
      return await this.#store.notifications.record({ ...input, status: "delivered" });
    } catch (err) {
      return await this.#store.notifications.record({ ...input, status: "failed", lastError: describe(err) });
    }
  }

  /** The delay before retry number `attempts` (1 for the first retry). */
  backoffMs(attempts: number, retryAfterMs?: number): number {
    const backoff = { baseMs: this.#baseDelayMs, maxMs: this.#maxDelayMs, jitter: this.#jitter };
    const jittered = backoffDelay(attempts, backoff, this.#random);
    return Math.round(Math.min(this.#maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)));
  }

  #kick(q: NotificationQueue): void {
    if (this.#stopped) return;
    const key = queueKey(q);
    const running = this.#workers.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const worker: Worker = { again: false, done: Promise.resolve() };
    this.#workers.set(key, worker);
    worker.done = this.#work(q, key, worker);
  }

  async #work(q: NotificationQueue, key: string, worker: Worker): Promise<void> {
    try {
      while (!this.#stopped) {
        worker.again = false;
        let d: NotificationDelivery | null;
        try {
          d = await this.#store.notifications.next(q);
        } catch (err) {
          this.#log(`notify: cannot read the queue of ${q.channel}: ${(err as Error).message}`);
          await this.#sleep(this.#baseDelayMs);
          continue;
        }
        if (!d) {
          // A send between the query and here set `again`: look once more before leaving.
          if (worker.again) continue;
          return;
        }
        // A row of a kind this notifier cannot deliver (a forge report seen by a deploy agent's
        // notifier) is left pending for the notifier that can: never attempted, never failed here.
        if (!this.#canDeliver(d.target)) return;
        const now = Date.now();
        const wait = d.nextAttemptAt - now;
        if (wait > 0) {
          await this.#sleep(wait);
          continue;
        }
        // Another notifier attempts the head of this queue: wait for it (the order per channel holds).
        if (d.claimedUntil !== null && d.claimedUntil > now && d.claimedBy !== this.#id) {
          await this.#sleep(Math.min(d.claimedUntil - now, claimPollMs));
          continue;
        }
        try {
          if (!(await this.#store.notifications.claim(d.id, this.#id, this.#leaseMs()))) {
            await this.#sleep(claimPollMs);
            continue;
          }
          // Read again under the claim: another notifier may have attempted it since `next`.
          const fresh = await this.#store.notifications.get(d.id);
          if (fresh?.status !== "pending") continue;
          await this.#attempt(fresh);
        } catch (err) {
          this.#log(`notify: cannot record delivery ${d.id} to ${q.channel}: ${(err as Error).message}`);
          await this.#sleep(this.#baseDelayMs);
        }
      }
    } finally {
      // Removed at once (not in a later tick), so a kick after this starts a new worker.
      if (this.#workers.get(key) === worker) this.#workers.delete(key);
    }
  }

  /**
   * Slack, webhooks and the kinds given in `targets`. Rows of another kind belong to a notifier given
   * their deliverer (the server's, for forge reports) or to a newer slipway: they stay pending.
   */
  #canDeliver(target: unknown): boolean {
    if (!target || typeof target !== "object") return true;
    return Object.keys(target).some((k) => k === "slack" || k === "webhook" || k in this.#targets);
  }

  /** A claim outlasts an attempt (the request's timeout, plus reading the secret and recording). */
  #leaseMs(): number {
    return 2 * this.#timeoutMs + 30_000;
  }

  async #attempt(d: NotificationDelivery): Promise<void> {
    const attempts = d.attempts + 1;
    let failure: DeliveryError | undefined;
    try {
      await this.#deliver(d);
    } catch (err) {
      failure = err instanceof DeliveryError ? err : new DeliveryError(describe(err), false);
    }
    const notifications = this.#store.notifications;
    if (!failure) {
      await notifications.markDelivered(d.id, attempts);
      return;
    }
    if (!failure.retryable || attempts >= this.#maxAttempts) {
      await notifications.markFailed(d.id, attempts, failure.message);
      this.#log(
        `notify: delivery ${d.id} (${d.eventType}) to ${d.channel} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${failure.message}`,
      );
      return;
    }
    await notifications.markRetry(
      d.id,
      attempts,
      failure.message,
      Date.now() + this.backoffMs(attempts, failure.retryAfterMs),
    );
  }

  async #deliver(d: Deliverable): Promise<void> {
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

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      // A retry waiting for minutes must not keep a process alive by itself; `start` resumes it.
      timer.unref();
      this.#sleepers.add(wake);
    });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The body stored for a channel: a Slack message or a webhook payload, as JSON. */
export function render(definition: NotifyChannelConfig, event: NotifyEvent, id: string, now: number): string {
  if ("slack" in definition) return JSON.stringify(slackMessage(event));
  return JSON.stringify(webhookPayload(event, { id, createdAt: now }));
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
