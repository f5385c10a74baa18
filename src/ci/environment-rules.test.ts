// Environment protection rules as pure functions: who may approve (and the refusal naming the rule),
// which refs may deploy, what a gate waits for at a given time (an injected clock), and the API body.
import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import {
  gateWaitsFor,
  parseDuration,
  parseEnvironmentRules,
  refRefusal,
  reviewRefusal,
  waitingReason,
} from "./environment-rules.js";

const gate = { environment: "production", reviewers: ["deployer", "alice"], allowSelfReview: false };

describe("reviewers", () => {
  it("a role admits it and the roles above; a token name admits that token", () => {
    expect(reviewRefusal(gate, { name: "carol", role: "deployer" }, "approve", "ci")).toBeUndefined();
    expect(reviewRefusal(gate, { name: "root", role: "admin" }, "approve", "ci")).toBeUndefined();
    expect(reviewRefusal(gate, { name: "alice", role: "developer" }, "approve", "ci")).toBeUndefined();
  });

  it("anyone else is refused with the rule that refused them", () => {
    expect(reviewRefusal(gate, { name: "bob", role: "developer" }, "approve", "ci")).toBe(
      "production requires approval by role deployer or token alice; you are bob (developer)",
    );
    expect(reviewRefusal(gate, { name: "bob", role: "developer" }, "reject", "ci")).toMatch(
      /requires approval/,
    );
  });

  it("who triggered the run cannot approve it unless self-review is allowed; they may reject it", () => {
    const who = { name: "Carol", role: "deployer" as const };
    expect(reviewRefusal(gate, who, "approve", "carol")).toBe(
      "production does not allow self-review: Carol triggered this run and cannot approve it",
    );
    expect(reviewRefusal(gate, who, "reject", "carol")).toBeUndefined();
    expect(reviewRefusal({ ...gate, allowSelfReview: true }, who, "approve", "carol")).toBeUndefined();
  });

  it("an environment with only a timer has no one to approve it", () => {
    expect(reviewRefusal({ ...gate, reviewers: [] }, { name: "root", role: "admin" }, "approve", "x")).toBe(
      "production has no required reviewers: its jobs wait only for its timer",
    );
  });
});

describe("allowed refs", () => {
  const rules = { branches: ["main", "release/*"], tags: ["v*"] };
  it("with none listed every ref may deploy", () => {
    expect(refRefusal("production", { branches: null, tags: null }, "refs/pull/3/merge")).toBeUndefined();
  });
  it("listed branches and tags may, with GitHub's pattern rules", () => {
    for (const ref of ["refs/heads/main", "refs/heads/release/1.2", "refs/tags/v1.0.0"])
      expect(refRefusal("production", rules, ref)).toBeUndefined();
  });
  it("other refs may not, and the reason lists what is allowed", () => {
    expect(refRefusal("production", rules, "refs/heads/feature")).toBe(
      "refs/heads/feature may not deploy to environment production (allowed: branches main, release/*; tags v*)",
    );
    // `*` does not cross a slash; a tag pattern does not admit a branch of that name.
    expect(refRefusal("production", rules, "refs/heads/release/1/hotfix")).toMatch(/may not deploy/);
    expect(refRefusal("production", rules, "refs/heads/v1")).toMatch(/may not deploy/);
    expect(refRefusal("production", { branches: ["main"], tags: null }, "refs/tags/v1")).toBe(
      "refs/tags/v1 may not deploy to environment production (allowed: branches main)",
    );
  });
});

describe("the wait timer (injected clock)", () => {
  const pending = { environment: "production", status: "pending" as const, reviewers: [], waitUntil: 60_000 };
  it("holds a gate until its time, then lets it go", () => {
    expect(gateWaitsFor(pending, 0)).toEqual({ approval: false, timerMs: 60_000 });
    expect(gateWaitsFor(pending, 59_999)).toEqual({ approval: false, timerMs: 1 });
    expect(gateWaitsFor(pending, 60_000)).toEqual({ approval: false, timerMs: 0 });
    expect(waitingReason(pending, 0)).toBe(
      "waiting for environment production: its wait timer (until 1970-01-01T00:01:00.000Z)",
    );
  });
  it("an approval does not skip the timer; the timer does not replace an approval", () => {
    const both = { ...pending, reviewers: ["deployer"] };
    expect(gateWaitsFor(both, 60_000)).toEqual({ approval: true, timerMs: 0 });
    expect(gateWaitsFor({ ...both, status: "approved" }, 30_000)).toEqual({
      approval: false,
      timerMs: 30_000,
    });
    expect(waitingReason(both, 0)).toBe(
      "waiting for environment production: approval by role deployer (slipway approve) and its wait timer (until 1970-01-01T00:01:00.000Z)",
    );
  });
});

describe("the API body", () => {
  it("takes durations as seconds or text, and defaults to no rules", () => {
    expect(parseDuration("5m")).toBe(300);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("90")).toBe(90);
    expect(parseEnvironmentRules({})).toEqual({
      reviewers: [],
      waitTimerS: 0,
      branches: null,
      tags: null,
      allowSelfReview: false,
      vars: {},
    });
    expect(parseEnvironmentRules({ reviewers: ["deployer", "deployer"], waitTimer: "2m" })).toMatchObject({
      reviewers: ["deployer"],
      waitTimerS: 120,
    });
  });
  it("bad fields are user errors naming each one", () => {
    expect(() => parseDuration("soon")).toThrow(UserError);
    expect(() => parseDuration("31d")).toThrow(/longer than 30 days/);
    expect(() =>
      parseEnvironmentRules({ reviewers: ["a b"], vars: { "1X": "y" }, branches: [""], extra: 1 }),
    ).toThrow(/invalid environment rules: .*reviewers\.0.*branches\.0.*vars/s);
  });
});
