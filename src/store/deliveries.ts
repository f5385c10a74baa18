// Webhook deliveries seen, so that a provider's redelivery of the same delivery id, or a replay of the
// same body under a new id, starts nothing new; and deliveries whose runs are not created yet, so that
// a crash between receiving a delivery and creating its runs loses nothing.
import { affected, type Db, fromJson, toJson } from "./util.js";

export type DeliveryStatus = "pending" | "processed";

export type Delivery = {
  provider: string;
  deliveryId: string;
  event: string;
  repoId: number | null;
  runIds: number[];
  receivedAt: number;
  /** `pending` from receipt until its runs exist, then `processed`. */
  status: DeliveryStatus;
  bodySha256: string | null;
};

/** A pending delivery with what is needed to finish it: the event it carries, as the caller stored it. */
export type PendingDelivery = Delivery & { payload: unknown };

export type BeginDeliveryInput = {
  provider: string;
  deliveryId: string;
  event: string;
  repoId: number;
  /** sha256 (hex) of the raw body: a second delivery of the same body within `replayWindowMs` is a replay. */
  bodySha256: string;
  /** What the caller needs to create the runs later (kept while pending; dropped when processed). */
  payload: unknown;
  replayWindowMs: number;
  now?: number;
};

/**
 * What `begin` found: `new` (recorded as pending: create its runs, then `markProcessed`); `duplicate`
 * (this id was processed already); `pending` (this id was received but its runs were never created:
 * create them now); `replay` (the same body reached this repository under another id within the window).
 */
export type BeginDeliveryResult =
  | { outcome: "new" }
  | { outcome: "duplicate"; delivery: Delivery }
  | { outcome: "pending"; delivery: Delivery }
  | { outcome: "replay"; of: { provider: string; deliveryId: string; receivedAt: number } };

type DeliveryRow = {
  provider: string;
  delivery_id: string;
  event: string;
  repo_id: number | null;
  run_ids_json: string;
  received_at: number;
  status: string;
  body_sha256: string | null;
};

function toDelivery(r: DeliveryRow): Delivery {
  return {
    provider: r.provider,
    deliveryId: r.delivery_id,
    event: r.event,
    repoId: r.repo_id,
    runIds: fromJson<number[]>(r.run_ids_json, []),
    receivedAt: r.received_at,
    status: r.status === "pending" ? "pending" : "processed",
    bodySha256: r.body_sha256,
  };
}

export type DeliveryInput = {
  provider: string;
  deliveryId: string;
  event: string;
  repoId?: number | null;
  runIds?: number[];
  now?: number;
};

export function createDeliveries(db: Db) {
  return {
    /**
     * Records the delivery: true when it is new, false when (provider, id) was already recorded. Uses
     * INSERT … ON CONFLICT DO NOTHING rather than catching a unique violation, so it does not abort a
     * PostgreSQL transaction: record, create the runs and `setRuns` in one `store.transaction`, and a
     * concurrent redelivery waits for that transaction and then sees `false`.
     */
    async record(input: DeliveryInput): Promise<boolean> {
      const rows = await db
        .insertInto("deliveries")
        .values({
          provider: input.provider,
          delivery_id: input.deliveryId,
          event: input.event,
          repo_id: input.repoId ?? null,
          run_ids_json: toJson(input.runIds ?? []),
          received_at: input.now ?? Date.now(),
        })
        .onConflict((oc) => oc.columns(["provider", "delivery_id"]).doNothing())
        .returning("delivery_id")
        .execute();
      return rows.length > 0;
    },

    /**
     * Records a delivery as pending, unless its id was seen (duplicate or pending) or its body reached
     * the same repository under another id within the window (replay). Each step is one atomic
     * statement (INSERT … ON CONFLICT), so racing redeliveries and replays agree on one winner on both
     * dialects, also outside a transaction.
     */
    async begin(input: BeginDeliveryInput): Promise<BeginDeliveryResult> {
      const now = input.now ?? Date.now();
      const inserted = await db
        .insertInto("deliveries")
        .values({
          provider: input.provider,
          delivery_id: input.deliveryId,
          event: input.event,
          repo_id: input.repoId,
          run_ids_json: toJson([]),
          received_at: now,
          status: "pending",
          body_sha256: input.bodySha256,
          event_json: toJson(input.payload),
        })
        .onConflict((oc) => oc.columns(["provider", "delivery_id"]).doNothing())
        .returning("delivery_id")
        .execute();
      if (inserted.length === 0) {
        const existing = await this.get(input.provider, input.deliveryId);
        if (existing === null) return this.begin(input); // forgotten in between: try again
        return existing.status === "pending"
          ? { outcome: "pending", delivery: existing }
          : { outcome: "duplicate", delivery: existing };
      }
      const cutoff = now - input.replayWindowMs;
      await db
        .deleteFrom("delivery_bodies")
        .where("repo_id", "=", input.repoId)
        .where("received_at", "<", cutoff)
        .execute();
      // Takes the body's row unless another delivery holds it within the window.
      const claimed = await db
        .insertInto("delivery_bodies")
        .values({
          repo_id: input.repoId,
          body_sha256: input.bodySha256,
          provider: input.provider,
          delivery_id: input.deliveryId,
          received_at: now,
        })
        .onConflict((oc) =>
          oc
            .columns(["repo_id", "body_sha256"])
            .doUpdateSet({
              provider: input.provider,
              delivery_id: input.deliveryId,
              received_at: now,
            })
            .where("delivery_bodies.received_at", "<", cutoff),
        )
        .returning("delivery_id")
        .execute();
      if (claimed.length > 0) return { outcome: "new" };
      const holder = await db
        .selectFrom("delivery_bodies")
        .select(["provider", "delivery_id", "received_at"])
        .where("repo_id", "=", input.repoId)
        .where("body_sha256", "=", input.bodySha256)
        .executeTakeFirst();
      // The replay starts nothing and is not kept: only the original's row stands for this body.
      await db
        .deleteFrom("deliveries")
        .where("provider", "=", input.provider)
        .where("delivery_id", "=", input.deliveryId)
        .execute();
      return {
        outcome: "replay",
        of: {
          provider: holder?.provider ?? input.provider,
          deliveryId: holder?.delivery_id ?? "",
          receivedAt: holder?.received_at ?? now,
        },
      };
    },

    /** The runs of a pending delivery exist: it is done, and its stored event is dropped. */
    async markProcessed(provider: string, deliveryId: string, runIds: number[]): Promise<boolean> {
      const r = await db
        .updateTable("deliveries")
        .set({ status: "processed", run_ids_json: toJson(runIds), event_json: null })
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Deliveries received but not processed (oldest first), with the event each one stored. */
    async pending(limit = 100): Promise<PendingDelivery[]> {
      const rows = await db
        .selectFrom("deliveries")
        .selectAll()
        .where("status", "=", "pending")
        .orderBy("received_at")
        .limit(limit)
        .execute();
      return rows.map((r) => ({ ...toDelivery(r), payload: fromJson<unknown>(r.event_json, null) }));
    },

    /** The runs already created for a delivery (to finish a pending one without creating them twice). */
    async runIdsOf(repoId: number, deliveryId: string): Promise<number[]> {
      const rows = await db
        .selectFrom("runs")
        .select("id")
        .where("repo_id", "=", repoId)
        .where("delivery_id", "=", deliveryId)
        .orderBy("id")
        .execute();
      return rows.map((r) => Number(r.id));
    },

    async setRuns(provider: string, deliveryId: string, runIds: number[]): Promise<boolean> {
      const r = await db
        .updateTable("deliveries")
        .set({ run_ids_json: toJson(runIds) })
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /**
     * Forgets a delivery whose runs could not be started, and its body, so that neither a redelivery
     * nor a resend of the same body is taken for a duplicate.
     */
    async forget(provider: string, deliveryId: string): Promise<boolean> {
      await db
        .deleteFrom("delivery_bodies")
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .execute();
      const r = await db
        .deleteFrom("deliveries")
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    async get(provider: string, deliveryId: string): Promise<Delivery | null> {
      const r = await db
        .selectFrom("deliveries")
        .selectAll()
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .executeTakeFirst();
      return r ? toDelivery(r) : null;
    },
  };
}

export type Deliveries = ReturnType<typeof createDeliveries>;
