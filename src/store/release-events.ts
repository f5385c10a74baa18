// A release's event log: what its deploy did, in order (e.g. "instance.started"), readable while it goes.
//
// Events are numbered 1..n per release by a counter on the release row (UPDATE … RETURNING in the same
// transaction as the insert), so concurrent writers, in any process, get distinct seqs without gaps.
import { UserError } from "../lib/errors.js";
import { clampLimit, nullableJson, requireName, requireOneOf } from "./release-fields.js";
import type { ReleaseEventsTable } from "./schema.js";
import { atomic, type Db, fromJson, storableText } from "./util.js";

export const releaseEventLevels = ["info", "warn", "error"] as const;
export type ReleaseEventLevel = (typeof releaseEventLevels)[number];

export type ReleaseEvent = {
  releaseId: number;
  /** 1, 2, 3… per release, in the order they were added. */
  seq: number;
  at: number;
  level: ReleaseEventLevel;
  /** e.g. "instance.started". */
  type: string;
  service: string | null;
  message: string;
  data: unknown | null;
};

export type ReleaseEventInput = {
  /** Default "info". */
  level?: ReleaseEventLevel;
  type: string;
  service?: string | null;
  message: string;
  data?: unknown;
  now?: number;
};

type EventRow = Omit<ReleaseEventsTable, "id"> & { id: number };

function toEvent(r: EventRow): ReleaseEvent {
  return {
    releaseId: r.release_id,
    seq: r.seq,
    at: r.at,
    level: r.level as ReleaseEventLevel,
    type: r.type,
    service: r.service,
    message: r.message,
    data: fromJson<unknown>(r.data_json, null),
  };
}

/** The event methods of `createReleases` (store.releases.addEvent, store.releases.events). */
export function createReleaseEvents(db: Db) {
  return {
    /**
     * Appends an event with the release's next seq. The seq comes from an UPDATE … RETURNING of the
     * release's counter in the same transaction as the insert, so concurrent adds get distinct seqs.
     * Events may be added after the release finished (a late "instance.stopped"). A release that does
     * not exist is a UserError.
     */
    async addEvent(releaseId: number, input: ReleaseEventInput): Promise<ReleaseEvent> {
      const level = requireOneOf("release event level", input.level ?? "info", releaseEventLevels);
      const type = requireName("release event type", input.type);
      const at = input.now ?? Date.now();
      return atomic(db, async (tx) => {
        const counter = await tx
          .updateTable("releases")
          .set((eb) => ({ event_seq: eb("event_seq", "+", 1) }))
          .where("id", "=", releaseId)
          .returning("event_seq")
          .executeTakeFirst();
        if (!counter) throw new UserError(`no release with id ${releaseId}`);
        const row = await tx
          .insertInto("release_events")
          .values({
            release_id: releaseId,
            seq: counter.event_seq,
            at,
            level,
            type,
            service: input.service ?? null,
            message: storableText(input.message),
            data_json: nullableJson(input.data),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toEvent(row);
      });
    },

    /** Events in seq order; `afterSeq` for the next page or to follow a live deploy. Default limit 1000. */
    async events(
      releaseId: number,
      opts: { afterSeq?: number; limit?: number } = {},
    ): Promise<ReleaseEvent[]> {
      let q = db.selectFrom("release_events").selectAll().where("release_id", "=", releaseId);
      if (opts.afterSeq !== undefined) q = q.where("seq", ">", opts.afterSeq);
      const rows = await q
        .orderBy("seq")
        .limit(clampLimit(opts.limit, 1000, 10_000))
        .execute();
      return rows.map(toEvent);
    },
  };
}
