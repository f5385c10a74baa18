import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { UserError } from "../lib/errors.js";
import { loadWorkflowFile, matchWorkflowTrigger } from "../workflow/index.js";
import { dueSchedules, nextScheduleTime, scheduleEvent, validateSchedule } from "./index.js";

const at = (iso: string) => new Date(iso);
const iso = (date: Date | undefined) => date?.toISOString();

describe("nextScheduleTime", () => {
  test("UTC by default, strictly after the given time", () => {
    // 2025-03-14 is a Friday: the next weekday 05:30 is Monday.
    expect(iso(nextScheduleTime({ cron: "30 5 * * 1-5" }, at("2025-03-14T06:00:00Z")))).toBe(
      "2025-03-17T05:30:00.000Z",
    );
    expect(iso(nextScheduleTime({ cron: "30 5 * * 1-5" }, at("2025-03-14T05:30:00Z")))).toBe(
      "2025-03-17T05:30:00.000Z",
    );
    expect(iso(nextScheduleTime({ cron: "*/15 * * * *" }, at("2025-03-14T05:31:10.500Z")))).toBe(
      "2025-03-14T05:45:00.000Z",
    );
  });

  test("in the entry's timezone, across the change to summer time", () => {
    const paris = { cron: "30 9 * * *", timezone: "Europe/Paris" };
    // Winter time (UTC+1) on Saturday 29 March 2025, summer time (UTC+2) from Sunday 30 March.
    expect(iso(nextScheduleTime(paris, at("2025-03-28T12:00:00Z")))).toBe("2025-03-29T08:30:00.000Z");
    expect(iso(nextScheduleTime(paris, at("2025-03-29T12:00:00Z")))).toBe("2025-03-30T07:30:00.000Z");
    expect(
      iso(nextScheduleTime({ cron: "0 0 * * *", timezone: "America/New_York" }, at("2025-07-01T12:00:00Z"))),
    ).toBe("2025-07-02T04:00:00.000Z");
  });

  test("names, steps, and day-of-month OR day-of-week as in POSIX cron", () => {
    expect(iso(nextScheduleTime({ cron: "0 12 * JAN,JUL SUN" }, at("2025-01-01T00:00:00Z")))).toBe(
      "2025-01-05T12:00:00.000Z",
    );
    // The 13th or any Friday, whichever comes first.
    const fridayOr13th = { cron: "0 0 13 * 5" };
    expect(iso(nextScheduleTime(fridayOr13th, at("2025-01-01T00:00:00Z")))).toBe("2025-01-03T00:00:00.000Z");
    expect(iso(nextScheduleTime(fridayOr13th, at("2025-01-10T00:00:00Z")))).toBe("2025-01-13T00:00:00.000Z");
  });
});

describe("validateSchedule", () => {
  test.each([
    "61 * * * *",
    "* * * *",
    "0 0 0 * * *",
    "@daily",
    "0 0 L * *",
    "0 0 ? * *",
    "0 0 * * 7",
    "0 0 * * MON#2",
    "",
  ])("rejects '%s' with the cron in the message", (cron) => {
    expect(() => validateSchedule({ cron })).toThrow(UserError);
    expect(() => validateSchedule({ cron })).toThrow(`invalid cron '${cron}'`);
    expect(() => nextScheduleTime({ cron }, new Date())).toThrow(UserError);
  });

  test("rejects an unknown timezone", () => {
    expect(() => validateSchedule({ cron: "0 0 * * *", timezone: "Mars/Olympus_Mons" })).toThrow(
      "invalid timezone 'Mars/Olympus_Mons' for cron '0 0 * * *'",
    );
  });

  test.each(["0 0 * * *", "*/5 * * * *", "0 9-17/2 1,15 * MON-FRI", "0 0 1 JAN *"])(
    "accepts '%s'",
    (cron) => {
      expect(() => validateSchedule({ cron, timezone: "Asia/Tokyo" })).not.toThrow();
    },
  );
});

describe("dueSchedules", () => {
  const daily = { cron: "0 6 * * *", workflow: "nightly.yml" };
  const fiveMinutes = { cron: "*/5 * * * *", workflow: "poll.yml" };

  test("the window is (lastChecked, now]", () => {
    expect(dueSchedules([daily], at("2025-03-14T05:59:00Z"), at("2025-03-14T06:00:00Z"))).toEqual([
      { entry: daily, at: at("2025-03-14T06:00:00Z"), first: at("2025-03-14T06:00:00Z") },
    ]);
    expect(dueSchedules([daily], at("2025-03-14T06:00:00Z"), at("2025-03-14T06:01:00Z"))).toEqual([]);
    expect(dueSchedules([daily], at("2025-03-14T06:01:00Z"), at("2025-03-14T06:01:00Z"))).toEqual([]);
    expect(dueSchedules([daily], at("2025-03-14T07:00:00Z"), at("2025-03-14T06:00:00Z"))).toEqual([]);
  });

  test("each check fires the crons that came due, once each, keeping the entries given", () => {
    const due = dueSchedules([daily, fiveMinutes], at("2025-03-14T05:58:30Z"), at("2025-03-14T06:00:30Z"));
    expect(due.map((d) => [d.entry.workflow, iso(d.at)])).toEqual([
      ["nightly.yml", "2025-03-14T06:00:00.000Z"],
      ["poll.yml", "2025-03-14T06:00:00.000Z"],
    ]);
    const later = dueSchedules([daily, fiveMinutes], at("2025-03-14T06:00:30Z"), at("2025-03-14T06:05:30Z"));
    expect(later.map((d) => d.entry.workflow)).toEqual(["poll.yml"]);
  });

  test("after downtime, one run per cron at its latest missed time, not a backlog", () => {
    // Down from Monday 00:00 to Thursday 12:00 UTC.
    const due = dueSchedules([daily, fiveMinutes], at("2025-03-10T00:00:00Z"), at("2025-03-13T12:00:00Z"));
    expect(due).toEqual([
      { entry: daily, at: at("2025-03-13T06:00:00Z"), first: at("2025-03-10T06:00:00Z") },
      { entry: fiveMinutes, at: at("2025-03-13T12:00:00Z"), first: at("2025-03-10T00:05:00Z") },
    ]);
  });

  test("a downtime of a year stays cheap for a cron firing every five minutes", () => {
    const started = performance.now();
    const due = dueSchedules([fiveMinutes], at("2024-03-13T12:00:00Z"), at("2025-03-13T11:58:00Z"));
    expect(iso(due[0].at)).toBe("2025-03-13T11:55:00.000Z");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("downtime with a timezone, over the change to summer time", () => {
    const paris = { cron: "30 9 * * *", timezone: "Europe/Paris" };
    const due = dueSchedules([paris], at("2025-03-28T20:00:00Z"), at("2025-03-31T06:00:00Z"));
    // 09:30 in Paris on the 29th (UTC+1) and 30th (UTC+2); the 31st's is still ahead.
    expect(due).toEqual([
      { entry: paris, at: at("2025-03-30T07:30:00Z"), first: at("2025-03-29T08:30:00Z") },
    ]);
  });

  test("an invalid cron is a UserError naming it", () => {
    expect(() => dueSchedules([{ cron: "every day" }], at("2025-01-01T00:00:00Z"), new Date())).toThrow(
      "invalid cron 'every day'",
    );
  });
});

describe("scheduleEvent", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-schedule-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("names its cron, and matches only the workflow that has it", async () => {
    const file = join(dir, "nightly.yml");
    writeFileSync(
      file,
      "on:\n  schedule:\n    - cron: '0 6 * * *'\n      timezone: Europe/Paris\n    - cron: '0 18 * * 5'\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: hi }]\n",
    );
    const { events } = await loadWorkflowFile(file, dir);
    expect(events.schedule).toEqual([
      { cron: "0 6 * * *", timezone: "Europe/Paris" },
      { cron: "0 18 * * 5" },
    ]);

    const event = scheduleEvent("0 18 * * 5", { fullName: "acme/webapp", defaultBranch: "main" });
    expect(event).toEqual({
      name: "schedule",
      payload: {
        schedule: "0 18 * * 5",
        repository: {
          name: "webapp",
          full_name: "acme/webapp",
          owner: { login: "acme" },
          default_branch: "main",
        },
      },
    });
    expect(matchWorkflowTrigger(events, event).matched).toBe(true);
    expect(matchWorkflowTrigger(events, scheduleEvent("0 7 * * *")).matched).toBe(false);

    // The workflow's own entries drive dueSchedules.
    const due = dueSchedules(events.schedule ?? [], at("2025-03-14T04:00:00Z"), at("2025-03-14T18:00:00Z"));
    expect(due.map((d) => [d.entry.cron, iso(d.at)])).toEqual([
      ["0 6 * * *", "2025-03-14T05:00:00.000Z"],
      ["0 18 * * 5", "2025-03-14T18:00:00.000Z"],
    ]);
  });
});
