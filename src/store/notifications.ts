// Outgoing notifications: each row is one (event, channel) delivery, both the durable queue that a
// restarted server resumes and the delivery log users read. Rows go pending → delivered | failed, once:
// every transition is a compare-and-set on `pending`. Any number of notifiers (the server and deploy
// agents on one database) share the queue: a row is attempted only by the notifier holding its claim
// (`claim`, an atomic UPDATE … WHERE pending AND unclaimed-or-expired), so each delivery is sent by one.
import type { Selectable } from "kysely";
import type { NotificationDeliveriesTable } from "./schema.js";
import { affected, type Db, storableText } from "./util.js";

export const notificationStatuses = ["pending", "delivered", "failed"] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];

export type NotificationDelivery = {
  id: number;
  channel: string;
  /** The repository whose configuration defined the channel; null for the server's own channels. */
  scope: string | null;
  /** The channel definition as given to `enqueue` (no secret values). */
  target: unknown;
  eventType: string;
  eventId: string;
  payload: string;
  status: NotificationStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
  /** The notifier attempting it now, and until when (epoch ms) its claim holds; null when unclaimed. */
  claimedBy: string | null;
  claimedUntil: number | null;
};

export type NotificationInput = {
  channel: string;
  scope?: string | null;
  target: unknown;
  eventType: string;
  eventId: string;
  payload: string;
  now?: number;
};

export type NotificationQueue = { channel: string; scope: string | null };

export type NotificationFilter = {
  status?: NotificationStatus;
  channel?: string;
  scope?: string | null;
  beforeId?: number;
  /** Default 50, at most 1000. */
  limit?: number;
};

/** Errors can quote a receiver's response; keep the log readable. */
const maxErrorLength = 2000;

type Row = Selectable<NotificationDeliveriesTable>;

function toDelivery(r: Row): NotificationDelivery {
  return {
    id: r.id,
    channel: r.channel,
    scope: r.scope === "" ? null : r.scope,
    target: JSON.parse(r.target_json) as unknown,
    eventType: r.event_type,
    eventId: r.event_id,
    payload: r.payload,
    status: r.status as NotificationStatus,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
    claimedBy: r.claimed_by ?? null,
    claimedUntil: r.claimed_until === null || r.claimed_until === undefined ? null : Number(r.claimed_until),
  };
}

function errorText(error: string): string {
  const s = storableText(error);
  return s.length > maxErrorLength ? `${s.slice(0, maxErrorLength - 1)}…` : s;
}

export function createNotifications(db: Db) {
  async function insert(
    input: NotificationInput,
    status: NotificationStatus,
    attempts: number,
    lastError: string | null,
  ): Promise<NotificationDelivery> {
    const now = input.now ?? Date.now();
    const row = await db
      .insertInto("notification_deliveries")
      .values({
        channel: input.channel,
        scope: input.scope ?? "",
        target_json: JSON.stringify(input.target),
        event_type: input.eventType,
        event_id: input.eventId,
        payload: storableText(input.payload),
        status,
        attempts,
        last_error: lastError === null ? null : errorText(lastError),
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
        delivered_at: status === "delivered" ? now : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  return {
    /** Records a pending delivery, due at once. */
    enqueue(input: NotificationInput): Promise<NotificationDelivery> {
      return insert(input, "pending", 0, null);
    },

    /**
     * Records a delivery attempted outside the queue (a `notify test`), already delivered or failed, so
     * that it shows in the log without a queue ever picking it up.
     */
    record(
      input: NotificationInput & {
        status: "delivered" | "failed";
        attempts: number;
        lastError?: string | null;
      },
    ): Promise<NotificationDelivery> {
      return insert(input, input.status, input.attempts, input.lastError ?? null);
    },

    async get(id: number): Promise<NotificationDelivery | null> {
      const r = await db
        .selectFrom("notification_deliveries")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return r ? toDelivery(r) : null;
    },

    /** The oldest pending delivery of a channel: the head of its queue (deliveries keep their order). */
    async next(queue: NotificationQueue): Promise<NotificationDelivery | null> {
      const r = await db
        .selectFrom("notification_deliveries")
        .selectAll()
        .where("status", "=", "pending")
        .where("scope", "=", queue.scope ?? "")
        .where("channel", "=", queue.channel)
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
      return r ? toDelivery(r) : null;
    },

    /** The channels with pending deliveries (to resume after a restart). */
    async pendingQueues(): Promise<NotificationQueue[]> {
      const rows = await db
        .selectFrom("notification_deliveries")
        .select(["scope", "channel"])
        .where("status", "=", "pending")
        .distinct()
        .orderBy("scope")
        .orderBy("channel")
        .execute();
      return rows.map((r) => ({ channel: r.channel, scope: r.scope === "" ? null : r.scope }));
    },

    /**
     * Claims a due pending row for `claimer` until `now + leaseMs`, unless another claim still holds it.
     * True when the claim is ours: only then may the row be attempted. One UPDATE decides, so two
     * notifiers in different processes never both hold it; a crashed holder's claim expires.
     */
    async claim(id: number, claimer: string, leaseMs: number, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("notification_deliveries")
        .set({ claimed_by: claimer, claimed_until: now + leaseMs })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .where((eb) =>
          eb.or([
            eb("claimed_until", "is", null),
            eb("claimed_until", "<=", now),
            eb("claimed_by", "=", claimer),
          ]),
        )
        .executeTakeFirst();
      return affected(r) > 0;
    },

    async markDelivered(id: number, attempts: number, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("notification_deliveries")
        .set({
          status: "delivered",
          attempts,
          last_error: null,
          delivered_at: now,
          updated_at: now,
          claimed_by: null,
          claimed_until: null,
        })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Records a failed attempt that will be retried at `nextAttemptAt`. */
    async markRetry(
      id: number,
      attempts: number,
      error: string,
      nextAttemptAt: number,
      now = Date.now(),
    ): Promise<boolean> {
      const r = await db
        .updateTable("notification_deliveries")
        .set({
          attempts,
          last_error: errorText(error),
          next_attempt_at: nextAttemptAt,
          updated_at: now,
          claimed_by: null,
          claimed_until: null,
        })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Gives up: the last attempt failed, or the failure cannot be retried. */
    async markFailed(id: number, attempts: number, error: string, now = Date.now()): Promise<boolean> {
      const r = await db
        .updateTable("notification_deliveries")
        .set({
          status: "failed",
          attempts,
          last_error: errorText(error),
          updated_at: now,
          claimed_by: null,
          claimed_until: null,
        })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** The delivery log, newest first. */
    async list(filter: NotificationFilter = {}): Promise<NotificationDelivery[]> {
      let q = db.selectFrom("notification_deliveries").selectAll();
      if (filter.status !== undefined) q = q.where("status", "=", filter.status);
      if (filter.channel !== undefined) q = q.where("channel", "=", filter.channel);
      if (filter.scope !== undefined) q = q.where("scope", "=", filter.scope ?? "");
      if (filter.beforeId !== undefined) q = q.where("id", "<", filter.beforeId);
      const rows = await q
        .orderBy("id", "desc")
        .limit(Math.min(Math.max(filter.limit ?? 50, 1), 1000))
        .execute();
      return rows.map(toDelivery);
    },
  };
}

export type Notifications = ReturnType<typeof createNotifications>;
