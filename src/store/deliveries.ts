// Webhook deliveries seen, so that a provider's redelivery of the same delivery id starts nothing new.
import { affected, type Db, fromJson, toJson } from "./util.js";

export type Delivery = {
  provider: string;
  deliveryId: string;
  event: string;
  repoId: number | null;
  runIds: number[];
  receivedAt: number;
};

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

    async setRuns(provider: string, deliveryId: string, runIds: number[]): Promise<boolean> {
      const r = await db
        .updateTable("deliveries")
        .set({ run_ids_json: toJson(runIds) })
        .where("provider", "=", provider)
        .where("delivery_id", "=", deliveryId)
        .executeTakeFirst();
      return affected(r) > 0;
    },

    /** Forgets a delivery whose runs could not be started, so that a redelivery is not taken for a duplicate. */
    async forget(provider: string, deliveryId: string): Promise<boolean> {
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
      if (!r) return null;
      return {
        provider: r.provider,
        deliveryId: r.delivery_id,
        event: r.event,
        repoId: r.repo_id,
        runIds: fromJson<number[]>(r.run_ids_json, []),
        receivedAt: r.received_at,
      };
    },
  };
}

export type Deliveries = ReturnType<typeof createDeliveries>;
