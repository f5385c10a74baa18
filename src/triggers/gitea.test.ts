// Gitea/Forgejo deliveries (fixtures in testdata/ follow Gitea's webhook payloads: services/webhook
// and modules/structs of go-gitea/gitea) normalised to GitHub's shape.
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";
import { afterAll, describe, expect, test } from "vitest";
import { eventRef, eventSha, loadWorkflowFile, matchWorkflowTrigger } from "../workflow/index.js";
import { changedFilesOf, parseWebhook, repositoryMatches, toTriggerEvent, verifySignature } from "./index.js";

const secret = "gitea-hook-secret";

function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(import.meta.dirname, "testdata", name), "utf8"));
}

/** The headers Gitea sends (services/webhook/deliver.go), for an event and its finer event type. */
function giteaHeaders(event: string, eventType: string, body: string): Record<string, string> {
  const hex = createHmac("sha256", secret).update(body).digest("hex");
  return {
    "content-type": "application/json",
    "x-gitea-delivery": "0b1e4c2a-7d5e-4f3b-9a1c-2e8d6f4b0a9c",
    "x-gitea-event": event,
    "x-gitea-event-type": eventType,
    "x-gitea-signature": hex,
    "x-gogs-delivery": "0b1e4c2a-7d5e-4f3b-9a1c-2e8d6f4b0a9c",
    "x-gogs-event": event,
    "x-gogs-signature": hex,
    "x-hub-signature-256": `sha256=${hex}`,
    "x-github-delivery": "0b1e4c2a-7d5e-4f3b-9a1c-2e8d6f4b0a9c",
    "x-github-event": event,
  };
}

function gitea(event: string, eventType: string, payload: object) {
  const body = JSON.stringify(payload);
  const headers = giteaHeaders(event, eventType, body);
  return { parsed: parseWebhook("gitea", headers, body), headers, body };
}

const workflowDir = mkdtempSync(join(tmpdir(), "slipway-gitea-"));
afterAll(() => rmSync(workflowDir, { recursive: true, force: true }));
let workflowCount = 0;
async function onConfig(on: string): Promise<EventsConfig> {
  const file = join(workflowDir, `w${workflowCount++}.yml`);
  writeFileSync(
    file,
    `on:\n${on.replace(/^/gm, "  ")}\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: hi }]\n`,
  );
  return (await loadWorkflowFile(file, workflowDir)).events;
}

describe("Gitea push", () => {
  const payload = fixture("gitea-push.json");

  test("is signed, and names its delivery and repository", async () => {
    const { parsed, headers, body } = gitea("push", "push", payload);
    expect(await verifySignature("gitea", headers, body, secret)).toBe(true);
    expect(await verifySignature("gitea", headers, body.replace("main", "evil"), secret)).toBe(false);
    expect(parsed.deliveryId).toBe("0b1e4c2a-7d5e-4f3b-9a1c-2e8d6f4b0a9c");
    expect(parsed.repository).toEqual({
      fullName: "acme/webapp",
      cloneUrls: ["https://git.example.com/acme/webapp.git", "git@git.example.com:acme/webapp.git"],
      htmlUrl: "https://git.example.com/acme/webapp",
    });
    expect(repositoryMatches(parsed.repository, "ssh://git@git.example.com:2222/acme/webapp.git")).toBe(true);
  });

  test("gets the fields GitHub's push has and Gitea's lacks", () => {
    const { parsed } = gitea("push", "push", payload);
    expect(parsed).toMatchObject({ kind: "event", eventName: "push", commitCount: 2 });
    expect(parsed.payload).toMatchObject({
      ref: "refs/heads/main",
      before: payload.before,
      after: payload.after,
      created: false,
      deleted: false,
      forced: false,
      base_ref: null,
      compare: payload.compare_url,
      head_commit: { id: payload.after, message: "Document the health endpoint\n" },
      pusher: { name: "alice", email: "alice@example.com" },
      sender: { login: "alice" },
      repository: {
        full_name: "acme/webapp",
        name: "webapp",
        owner: { login: "acme" },
        default_branch: "main",
      },
    });
    expect((parsed.payload!.commits as unknown[]).length).toBe(2);
  });

  test("triggers a workflow filtered on branch and paths", async () => {
    const { parsed } = gitea("push", "push", payload);
    const event = toTriggerEvent(parsed);
    expect(event.changedFiles).toEqual(["src/health.ts", "src/server.ts", "README.md", "docs/old.md"]);
    expect(eventRef(event)).toBe("refs/heads/main");
    expect(eventSha(event)).toBe("9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f");
    const on = await onConfig("push:\n  branches: [main]\n  paths: ['src/**']");
    expect(matchWorkflowTrigger(on, event)).toEqual({
      matched: true,
      reason: "push to refs/heads/main: matches branches [main]; src/health.ts matches paths [src/**]",
    });
    expect(matchWorkflowTrigger(await onConfig("push:\n  paths: ['deploy/**']"), event).matched).toBe(false);
  });

  test("a list shorter than total_commits leaves the files to the mirror", () => {
    const { parsed } = gitea("push", "push", { ...payload, total_commits: 40 });
    expect(changedFilesOf(parsed)).toBeUndefined();
  });

  test("a tag push", async () => {
    const { parsed } = gitea("push", "push", fixture("gitea-push-tag.json"));
    const event = toTriggerEvent(parsed);
    expect(event.payload).toMatchObject({ ref: "refs/tags/v1.4.0", created: true, deleted: false });
    expect(event.changedFiles).toBeUndefined();
    expect(eventRef(event)).toBe("refs/tags/v1.4.0");
    expect(eventSha(event)).toBe("9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f");
    expect(matchWorkflowTrigger(await onConfig("push:\n  tags: ['v*']"), event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  branches: [main]"), event).matched).toBe(false);
  });

  test("the webhook secret Gitea before 1.14 put in payloads is dropped", () => {
    const { parsed } = gitea("push", "push", { ...payload, secret: "leaked" });
    expect(parsed.payload).not.toHaveProperty("secret");
  });

  test("a form-encoded delivery", async () => {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const headers = {
      ...giteaHeaders("push", "push", body),
      "content-type": "application/x-www-form-urlencoded",
    };
    expect(await verifySignature("gitea", headers, body, secret)).toBe(true);
    expect(parseWebhook("gitea", headers, body).payload).toMatchObject({ ref: "refs/heads/main" });
  });

  test("Forgejo's headers are preferred to Gitea's", () => {
    const body = JSON.stringify(payload);
    const headers = {
      ...giteaHeaders("push", "push", body),
      "x-forgejo-event": "push",
      "x-forgejo-delivery": "forgejo-delivery",
    };
    expect(parseWebhook("gitea", headers, body).deliveryId).toBe("forgejo-delivery");
  });
});

describe("Gitea pull requests", () => {
  test("opened", async () => {
    const { parsed } = gitea("pull_request", "pull_request", fixture("gitea-pull-request-opened.json"));
    const event = toTriggerEvent(parsed);
    expect(event.payload).toMatchObject({
      action: "opened",
      number: 12,
      pull_request: {
        number: 12,
        title: "Add rate limiting",
        body: "Limits each client to 100 requests a minute.",
        html_url: "https://git.example.com/acme/webapp/pulls/12",
        user: { login: "bob" },
        head: { ref: "rate-limit", sha: "c4a7e1f0b3d6a9c2e5f8b1d4a7c0e3f6b9d2a5c8" },
        base: { ref: "main", sha: "9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f" },
        merged: false,
        merged_by: null,
        merge_commit_sha: null,
      },
    });
    expect(event.changedFiles).toBeUndefined();
    expect(eventRef(event)).toBe("refs/pull/12/merge");
    expect(eventSha(event)).toBe("c4a7e1f0b3d6a9c2e5f8b1d4a7c0e3f6b9d2a5c8");
    expect(matchWorkflowTrigger(await onConfig("pull_request:\n  branches: [main]"), event).matched).toBe(
      true,
    );
  });

  test("synchronized becomes synchronize, one of the default activity types", async () => {
    const payload = fixture("gitea-pull-request-synchronized.json");
    const { parsed } = gitea("pull_request", "pull_request_sync", payload);
    const event = toTriggerEvent(parsed);
    expect(event.payload.action).toBe("synchronize");
    expect(eventSha(event)).toBe("e8b2d5f1a4c7e0b3d6f9a2c5e8b1d4f7a0c3e6b9");
    expect(matchWorkflowTrigger(await onConfig("pull_request"), event)).toMatchObject({ matched: true });
  });

  test("merged: closed with merged true", async () => {
    const { parsed } = gitea("pull_request", "pull_request", fixture("gitea-pull-request-merged.json"));
    const event = toTriggerEvent(parsed);
    expect(event.payload).toMatchObject({
      action: "closed",
      pull_request: {
        state: "closed",
        merged: true,
        merged_by: { login: "alice" },
        merge_commit_sha: "1d5a9c3e7b1f5d9a3c7e1b5f9d3a7c1e5b9f3d7a",
      },
    });
    expect(matchWorkflowTrigger(await onConfig("pull_request:\n  types: [closed]"), event).matched).toBe(
      true,
    );
    expect(matchWorkflowTrigger(await onConfig("pull_request"), event).matched).toBe(false);
  });

  test("label actions take GitHub's names", () => {
    const payload = fixture("gitea-pull-request-opened.json");
    const { parsed } = gitea("pull_request", "pull_request_label", { ...payload, action: "label_updated" });
    expect(parsed.payload!.action).toBe("labeled");
  });

  test("an approval becomes pull_request_review", () => {
    const payload = {
      ...fixture("gitea-pull-request-synchronized.json"),
      action: "reviewed",
      review: { type: "pull_request_review_approved", content: "Looks good" },
    };
    const { parsed } = gitea("pull_request_approved", "pull_request_review_approved", payload);
    expect(parsed).toMatchObject({
      kind: "event",
      eventName: "pull_request_review",
      payload: {
        action: "submitted",
        review: { state: "approved", body: "Looks good", user: { login: "bob" } },
      },
    });
  });

  test("events with no GitHub counterpart are ignored, with a reason", () => {
    const { parsed } = gitea("wiki", "wiki", {
      action: "created",
      repository: fixture("gitea-push.json").repository,
    });
    expect(parsed).toMatchObject({
      kind: "ignored",
      eventName: "wiki",
      repository: { fullName: "acme/webapp" },
    });
    expect(parsed.reason).toMatch(/wiki/);
    expect(parsed.payload).toBeUndefined();
  });
});
