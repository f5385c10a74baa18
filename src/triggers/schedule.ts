// `on.schedule`: when a workflow's crons fire, and the `schedule` event they trigger.
//
// Crons are GitHub's: five fields (minute hour day-of-month month day-of-week), `* , - /`, month and
// weekday names, validated by the same function GitHub's workflow parser uses; a day-of-month and a
// day-of-week both restricted match either (POSIX). Times are UTC unless the entry names a timezone
// (an IANA name such as `Europe/Paris`); croner computes them, daylight saving time included.
//
// Backlog policy: a server that was down, or checks late, fires each cron at most once per check,
// however many of its times passed since the last check. `dueSchedules` reports the latest passed
// time as `at` and the earliest as `first`, so the caller can log what was folded. Running every
// missed time after a long outage would only pile up stale runs; GitHub itself skips or delays
// scheduled runs under load rather than replaying them.

import { isValidCron } from "@actions/workflow-parser/model/converter/cron";
import { Cron } from "croner";
import { UserError } from "../lib/errors.js";
import type { TriggerEvent } from "../workflow/index.js";
import { type RepositoryInfo, repositoryPayload } from "./repository.js";

/** One `on.schedule` entry (EventsConfig's ScheduleConfig), or anything carrying one. */
export type ScheduleEntry = { cron: string; timezone?: string };

export type DueSchedule<T extends ScheduleEntry> = {
  entry: T;
  /** The latest time the cron fired within (lastChecked, now]. */
  at: Date;
  /** The earliest time it fired in that window; before `at` when a backlog was folded into one run. */
  first: Date;
};

function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Checks an entry's cron and timezone; throws a UserError naming them when GitHub would refuse them. */
export function validateSchedule(entry: ScheduleEntry): void {
  if (!isValidCron(entry.cron)) {
    throw new UserError(
      `invalid cron '${entry.cron}': expected five fields 'minute hour day-of-month month day-of-week' (e.g. '30 5 * * 1-5')`,
    );
  }
  if (entry.timezone !== undefined && !isValidTimezone(entry.timezone)) {
    throw new UserError(
      `invalid timezone '${entry.timezone}' for cron '${entry.cron}': expected an IANA name such as 'Europe/Paris'`,
    );
  }
}

function cronOf(entry: ScheduleEntry): Cron {
  validateSchedule(entry);
  // Without a function croner schedules nothing: the object only computes times.
  return new Cron(entry.cron, { timezone: entry.timezone ?? "Etc/UTC", legacyMode: true });
}

/** The first time after `after` (strictly) that the entry fires, or undefined if it never does (e.g. 30 February). */
export function nextScheduleTime(entry: ScheduleEntry, after: Date): Date | undefined {
  return cronOf(entry).nextRun(after) ?? undefined;
}

/** The latest time in (from, to] that `cron` fires, given that it fires at `first` in that window. */
function latestRun(cron: Cron, from: Date, to: Date, first: Date): Date {
  // Search backwards from `to` in doubling spans, so a long window costs a few steps, not one per run.
  for (let span = 60_000; ; span *= 2) {
    const start = Math.max(from.getTime(), to.getTime() - span);
    let run = start === from.getTime() ? first : cron.nextRun(new Date(start));
    if (run !== null && run.getTime() <= to.getTime()) {
      for (
        let next = cron.nextRun(run);
        next !== null && next.getTime() <= to.getTime();
        next = cron.nextRun(next)
      ) {
        run = next;
      }
      return run;
    }
  }
}

/**
 * The entries whose cron fired in (lastChecked, now], each once (see the backlog policy above).
 * Entries are returned as given, so a caller can pass `{ cron, timezone, workflow }` objects and
 * know which workflow to run. Throws a UserError for an invalid cron or timezone.
 */
export function dueSchedules<T extends ScheduleEntry>(
  entries: readonly T[],
  lastChecked: Date,
  now: Date,
): DueSchedule<T>[] {
  const due: DueSchedule<T>[] = [];
  if (now.getTime() <= lastChecked.getTime()) return due;
  for (const entry of entries) {
    const cron = cronOf(entry);
    const first = cron.nextRun(lastChecked);
    if (first === null || first.getTime() > now.getTime()) continue;
    due.push({ entry, at: latestRun(cron, lastChecked, now, first), first });
  }
  return due;
}

/**
 * The `schedule` event of one cron, as GitHub sends it: `{ schedule: "<cron>" }` plus the repository.
 * The server sets `ref`/`sha` to the default branch's head, which scheduled runs use.
 */
export function scheduleEvent(cron: string, repository?: RepositoryInfo): TriggerEvent {
  const payload: Record<string, unknown> = { schedule: cron };
  if (repository !== undefined) payload.repository = repositoryPayload(repository);
  return { name: "schedule", payload };
}
