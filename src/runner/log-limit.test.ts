import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { defaultJobLogLimit, jobLogLimit, LogBudget, parseLogLimit, truncationNotice } from "./log-limit.js";

describe("job log limit", () => {
  it("defaults to 64 MiB and reads SLIPWAY_JOB_LOG_LIMIT with binary units", () => {
    expect(jobLogLimit({})).toBe(defaultJobLogLimit);
    expect(defaultJobLogLimit).toBe(64 * 1024 * 1024);
    expect(jobLogLimit({ SLIPWAY_JOB_LOG_LIMIT: "4096" })).toBe(4096);
    expect(parseLogLimit("512K")).toBe(512 * 1024);
    expect(parseLogLimit("64M")).toBe(64 * 1024 * 1024);
    expect(parseLogLimit("1GiB")).toBe(1024 ** 3);
  });

  it("refuses sizes that are not sizes", () => {
    for (const bad of ["0", "-1", "abc", "1.5M", "10T"]) {
      expect(() => parseLogLimit(bad)).toThrow(UserError);
    }
    expect(() => jobLogLimit({ SLIPWAY_JOB_LOG_LIMIT: "lots" })).toThrow(/SLIPWAY_JOB_LOG_LIMIT.*"lots"/);
  });

  it("keeps lines until the limit, says so once, then drops", () => {
    const budget = new LogBudget(10);
    expect(budget.take("12345")).toBe("keep"); // 6 bytes with its newline
    expect(budget.take("123")).toBe("keep"); // 10
    expect(budget.take("x")).toBe("first-over");
    expect(budget.take("y")).toBe("drop");
    expect(budget.take("")).toBe("drop");
    expect(truncationNotice(64 * 1024 * 1024)).toContain("64 MiB");
    expect(truncationNotice(1000)).toContain("1000 bytes");
  });
});
