// Fork detection on real payloads: GitHub's own examples (@octokit/webhooks-examples), and Gitea's and
// GitLab's fixtures in testdata/ after the normalisation the server applies to them.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { describe, expect, test } from "vitest";
import { isForkPullRequest, parseWebhook, pullRequestOrigin } from "./index.js";

const definitions = createRequire(import.meta.url)(
  "@octokit/webhooks-examples/api.github.com/index.json",
) as WebhookDefinition[];

function githubExample(event: string): Record<string, any> {
  const example = definitions.find((d) => d.name === event)?.examples[0];
  if (!example) throw new Error(`no example for ${event}`);
  return structuredClone(example) as Record<string, any>;
}

function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(import.meta.dirname, "testdata", name), "utf8"));
}

const forkRepo = (base: Record<string, any>) => ({
  ...base,
  id: 999_001,
  full_name: "mallory/app",
  name: "app",
  fork: true,
  owner: { login: "mallory" },
});

describe("GitHub payloads", () => {
  test.each(["pull_request", "pull_request_review", "pull_request_review_comment"])(
    "%s from a branch of the same repository is not a fork's",
    (event) => {
      const p = githubExample(event);
      expect(p.pull_request.head.repo.id).toBe(p.pull_request.base.repo.id);
      expect(pullRequestOrigin(event, p)).toMatchObject({ fork: false });
    },
  );

  test.each(["pull_request", "pull_request_review", "pull_request_review_comment"])(
    "%s whose head repository is another repository is a fork's",
    (event) => {
      const p = githubExample(event);
      p.pull_request.head.repo = forkRepo(p.pull_request.head.repo);
      expect(pullRequestOrigin(event, p)).toMatchObject({
        fork: true,
        head: "mallory/app",
        base: p.pull_request.base.repo.full_name,
      });
      expect(isForkPullRequest("pull_request_target", p)).toBe(true);
    },
  );

  test("a deleted fork (head.repo null) is a fork", () => {
    const p = githubExample("pull_request");
    p.pull_request.head.repo = null;
    expect(pullRequestOrigin("pull_request", p)).toMatchObject({
      fork: true,
      reason: expect.stringMatching(/deleted/),
    });
  });

  test("a pull request inside a repository that is itself a fork (head.repo.fork true) is not a fork's", () => {
    const p = githubExample("pull_request");
    p.pull_request.head.repo.fork = true;
    p.pull_request.base.repo.fork = true;
    expect(isForkPullRequest("pull_request", p)).toBe(false);
  });

  test("ids decide over names; names decide without ids, case-insensitively", () => {
    const p = githubExample("pull_request");
    p.pull_request.head.repo = { ...p.pull_request.head.repo, full_name: "Renamed/Repo" };
    expect(isForkPullRequest("pull_request", p)).toBe(false);
    const q = githubExample("pull_request");
    delete q.pull_request.head.repo.id;
    q.pull_request.head.repo.full_name = q.pull_request.base.repo.full_name.toUpperCase();
    expect(isForkPullRequest("pull_request", q)).toBe(false);
    q.pull_request.head.repo.full_name = "mallory/app";
    expect(isForkPullRequest("pull_request", q)).toBe(true);
  });

  test("nothing to compare by, or no base repository at all, fails closed", () => {
    const p = githubExample("pull_request");
    p.pull_request.head.repo = { fork: false };
    expect(isForkPullRequest("pull_request", p)).toBe(true);
    const q = githubExample("pull_request");
    delete q.pull_request.base.repo;
    delete q.repository;
    expect(isForkPullRequest("pull_request", q)).toBe(true);
  });

  test("the base repository falls back to the payload's repository", () => {
    const p = githubExample("pull_request");
    p.pull_request.base.repo = null;
    expect(isForkPullRequest("pull_request", p)).toBe(false);
    p.pull_request.head.repo = forkRepo(p.pull_request.head.repo);
    expect(isForkPullRequest("pull_request", p)).toBe(true);
  });

  test("events about no pull request have no origin", () => {
    expect(pullRequestOrigin("push", githubExample("push"))).toBeUndefined();
    expect(pullRequestOrigin("issue_comment", githubExample("issue_comment"))).toBeUndefined();
    expect(pullRequestOrigin("pull_request", {})).toBeUndefined();
    expect(isForkPullRequest("push", githubExample("push"))).toBe(false);
  });
});

function normalised(provider: "gitea" | "gitlab", event: string, body: unknown) {
  const raw = JSON.stringify(body);
  const headers =
    provider === "gitea"
      ? { "content-type": "application/json", "x-gitea-event": event }
      : { "content-type": "application/json", "x-gitlab-event": event };
  const parsed = parseWebhook(provider, headers, raw);
  if (parsed.kind !== "event") throw new Error(`not an event: ${parsed.reason}`);
  return { name: parsed.eventName!, payload: parsed.payload! };
}

describe("Gitea payloads, normalised", () => {
  test("a pull request between branches of one repository is not a fork's", () => {
    const e = normalised("gitea", "pull_request", fixture("gitea-pull-request-opened.json"));
    expect(pullRequestOrigin(e.name, e.payload)).toMatchObject({ fork: false, head: "acme/webapp" });
  });

  test("a pull request from a fork is a fork's, and so is its review", () => {
    const body = fixture("gitea-pull-request-opened.json");
    body.pull_request.head.repo = forkRepo(body.pull_request.head.repo);
    body.pull_request.head.repo_id = 999_001;
    const e = normalised("gitea", "pull_request", body);
    expect(pullRequestOrigin(e.name, e.payload)).toMatchObject({ fork: true, head: "mallory/app" });
    const review = normalised("gitea", "pull_request_approved", { ...body, review: { content: "ok" } });
    expect(review.name).toBe("pull_request_review");
    expect(isForkPullRequest(review.name, review.payload)).toBe(true);
  });
});

describe("GitLab payloads, normalised", () => {
  test("a merge request from another project (source 21, target 15) is a fork's", () => {
    for (const name of ["open", "update", "merge"]) {
      const e = normalised("gitlab", "Merge Request Hook", fixture(`gitlab-merge-request-${name}.json`));
      expect(pullRequestOrigin(e.name, e.payload)).toMatchObject({
        fork: true,
        head: "jsmith/storefront",
        base: "shop/frontend/storefront",
      });
    }
  });

  test("a merge request between branches of one project is not a fork's", () => {
    const body = fixture("gitlab-merge-request-open.json");
    body.object_attributes.source = body.object_attributes.target;
    body.object_attributes.source_project_id = body.object_attributes.target_project_id;
    const e = normalised("gitlab", "Merge Request Hook", body);
    expect(pullRequestOrigin(e.name, e.payload)).toMatchObject({ fork: false });
  });

  test("without a source object, the project ids still tell a fork's merge request", () => {
    const body = fixture("gitlab-merge-request-open.json");
    delete body.object_attributes.source;
    const e = normalised("gitlab", "Merge Request Hook", body);
    expect(isForkPullRequest(e.name, e.payload)).toBe(true);
    body.object_attributes.source_project_id = body.object_attributes.target_project_id;
    const same = normalised("gitlab", "Merge Request Hook", body);
    expect(isForkPullRequest(same.name, same.payload)).toBe(false);
  });
});
