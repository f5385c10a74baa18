// The fork policy's verdicts on pull request events, and which runs execute a fork's code.
import { describe, expect, it } from "vitest";
import type { TriggerEvent } from "../workflow/index.js";
import { forkPullRequestsOff, forkVerdict, pullRequestBase, runsForkCode } from "./forks.js";

const base = { id: 1, full_name: "acme/app" };
const fork = { id: 2, full_name: "mallory/app", fork: true };
const sha = "b".repeat(40);
const pr = (headRepo: unknown, name = "pull_request"): TriggerEvent => ({
  name,
  payload: {
    pull_request: {
      head: { repo: headRepo, ref: "main" },
      base: { repo: base, ref: "refs/heads/main", sha },
    },
    repository: base,
  },
});

describe("forkVerdict", () => {
  it("lets the repository's own pull requests and other events through under every policy", () => {
    for (const policy of ["run-without-secrets", "require-approval", "off"] as const) {
      expect(forkVerdict(policy, pr(base))).toEqual({ fork: false });
      expect(forkVerdict(policy, { name: "push", payload: { repository: base } })).toEqual({ fork: false });
    }
  });

  it("run-without-secrets: a fork's runs start", () => {
    expect(forkVerdict("run-without-secrets", pr(fork))).toEqual({ fork: true, head: "mallory/app" });
  });

  it("require-approval holds a fork's own workflow, not the base branch's pull_request_target", () => {
    expect(forkVerdict("require-approval", pr(fork))).toMatchObject({
      fork: true,
      hold: expect.stringMatching(/^waiting for approval: a pull request from a fork \(mallory\/app\)/),
    });
    expect(forkVerdict("require-approval", pr(fork, "pull_request_review"))).toHaveProperty("hold");
    expect(forkVerdict("require-approval", pr(fork, "pull_request_target"))).toEqual({
      fork: true,
      head: "mallory/app",
    });
  });

  it("off starts nothing for a fork, a deleted fork included, pull_request_target included", () => {
    for (const head of [fork, null]) {
      for (const name of ["pull_request", "pull_request_target"]) {
        expect(forkVerdict("off", pr(head, name))).toMatchObject({
          fork: true,
          ignored: forkPullRequestsOff,
        });
      }
    }
  });
});

describe("runsForkCode", () => {
  it("is true for a fork's own workflow only", () => {
    expect(runsForkCode({ fork: true, eventName: "pull_request" })).toBe(true);
    expect(runsForkCode({ fork: true, eventName: "pull_request_review" })).toBe(true);
    expect(runsForkCode({ fork: true, eventName: "pull_request_target" })).toBe(false);
    expect(runsForkCode({ fork: false, eventName: "pull_request" })).toBe(false);
  });
});

describe("pullRequestBase", () => {
  it("reads the base branch without refs/heads/ and a full commit sha only", () => {
    expect(pullRequestBase(pr(fork).payload)).toEqual({ branch: "main", sha });
    expect(pullRequestBase({ pull_request: { base: { ref: "dev", sha: "--upload-pack=x" } } })).toEqual({
      branch: "dev",
      sha: undefined,
    });
    expect(pullRequestBase({})).toEqual({ branch: undefined, sha: undefined });
  });
});
