// `concurrency` groups: at most one running and one pending member per group; a newer pending member
// replaces (cancels) an older pending one, and with cancel-in-progress the running one is cancelled.

import { coerceToString, isTruthy, type Json } from "../expressions/index.js";

/** An evaluated `concurrency:` value: a group name, or `{ group, cancel-in-progress }`. */
export function concurrencySetting(value: Json): { group: string; cancelInProgress: boolean } {
  if (typeof value === "string") return { group: value, cancelInProgress: false };
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return {
      group: coerceToString(value.group ?? ""),
      cancelInProgress: isTruthy(value["cancel-in-progress"] ?? false),
    };
  }
  return { group: "", cancelInProgress: false };
}

type Member = { cancel: () => void; promote?: (ok: boolean) => void };

export type ConcurrencyTicket = { cancelled: boolean; release: () => void };

export class ConcurrencyGroups {
  private groups = new Map<string, { running?: Member; pending?: Member }>();

  async enter(
    group: string,
    cancelInProgress: boolean,
    cancel: () => void,
    signal?: AbortSignal,
  ): Promise<ConcurrencyTicket> {
    const me: Member = { cancel };
    let g = this.groups.get(group);
    if (!g) {
      g = {};
      this.groups.set(group, g);
    }
    const entry = g;
    const release = () => {
      if (entry.running !== me) return;
      const next = entry.pending;
      entry.running = next;
      entry.pending = undefined;
      if (next) next.promote?.(true);
      else this.groups.delete(group);
    };
    if (!entry.running) {
      entry.running = me;
      return { cancelled: false, release };
    }
    if (entry.pending) entry.pending.promote?.(false);
    entry.pending = me;
    if (cancelInProgress) entry.running.cancel();
    const ok = await new Promise<boolean>((resolve) => {
      me.promote = resolve;
      signal?.addEventListener(
        "abort",
        () => {
          if (entry.pending === me) entry.pending = undefined;
          resolve(false);
        },
        { once: true },
      );
    });
    return { cancelled: !ok, release };
  }
}
