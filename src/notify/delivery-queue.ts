// The delivery side of the durable queue: a worker per (scope, channel) delivers its pending rows one at a
// time in the order they were recorded, retrying failures with exponential backoff and jitter until they
// are delivered or have failed `maxAttempts` times. Each row is attempted only under its claim in the
// store (notifications.claim), so notifiers sharing a database deliver a delivery id once. What an
// attempt does for each channel kind is channels.ts's; recording the rows is notifier.ts's.
import { randomUUID } from "node:crypto";
import { backoffDelay } from "../lib/async.js";
import type { NotificationDelivery, NotificationQueue, StoreApi } from "../store/index.js";
import { type Channels, describe } from "./channels.js";
import { DeliveryError } from "./send.js";

export type DeliveryQueueOptions = {
  store: Pick<StoreApi, "notifications">;
  channels: Channels;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt: a claim outlasts it. */
  timeoutMs: number;
  jitter: number;
  log: (line: string) => void;
  random: () => number;
};

type Worker = { again: boolean; done: Promise<void> };

/** How often a notifier looks again at a row another one holds. */
const claimPollMs = 250;

const queueKey = (q: NotificationQueue) => `${q.scope ?? ""}\u0000${q.channel}`;

export class DeliveryQueue {
  readonly #store: DeliveryQueueOptions["store"];
  readonly #channels: Channels;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #jitter: number;
  readonly #log: (line: string) => void;
  readonly #random: () => number;
  readonly #workers = new Map<string, Worker>();
  readonly #sleepers = new Set<() => void>();
  /** This notifier's name in the rows it claims. */
  readonly #id = `${process.pid}-${randomUUID()}`;
  #stopped = false;

  constructor(opts: DeliveryQueueOptions) {
    this.#store = opts.store;
    this.#channels = opts.channels;
    this.#maxAttempts = opts.maxAttempts;
    this.#baseDelayMs = opts.baseDelayMs;
    this.#maxDelayMs = opts.maxDelayMs;
    this.#timeoutMs = opts.timeoutMs;
    this.#jitter = opts.jitter;
    this.#log = opts.log;
    this.#random = opts.random;
  }

  /** Resumes the pending deliveries in the store (after a restart). */
  async start(): Promise<void> {
    this.#stopped = false;
    for (const q of await this.#store.notifications.pendingQueues()) this.kick(q);
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

  /** The delay before retry number `attempts` (1 for the first retry). */
  backoffMs(attempts: number, retryAfterMs?: number): number {
    const backoff = { baseMs: this.#baseDelayMs, maxMs: this.#maxDelayMs, jitter: this.#jitter };
    const jittered = backoffDelay(attempts, backoff, this.#random);
    return Math.round(Math.min(this.#maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)));
  }

  /** Starts the worker of a queue, or has the running one look again before it leaves. */
  kick(q: NotificationQueue): void {
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
        if (!this.#channels.canDeliver(d.target)) return;
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

  /** A claim outlasts an attempt (the request's timeout, plus reading the secret and recording). */
  #leaseMs(): number {
    return 2 * this.#timeoutMs + 30_000;
  }

  async #attempt(d: NotificationDelivery): Promise<void> {
    const attempts = d.attempts + 1;
    let failure: DeliveryError | undefined;
    try {
      await this.#channels.deliver(d);
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
