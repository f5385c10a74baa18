// GitLab deliveries (fixtures in testdata/ follow GitLab's documented webhook events: Push Hook, Tag
// Push Hook, Merge Request Hook) normalised to GitHub's shape.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";
import { afterAll, describe, expect, test } from "vitest";
import { eventRef, eventSha, loadWorkflowFile, matchWorkflowTrigger } from "../workflow/index.js";
import { changedFilesOf, parseWebhook, repositoryMatches, toTriggerEvent, verifySignature } from "./index.js";

const token = "gitlab-hook-token";

function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(import.meta.dirname, "testdata", name), "utf8"));
}

function gitlab(event: string, payload: object, extra: Record<string, string> = {}) {
  const body = JSON.stringify(payload);
  const headers = {
    "content-type": "application/json",
    "user-agent": "GitLab/17.9.0",
    "x-gitlab-event": event,
    "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
    "x-gitlab-webhook-uuid": "4e6f2a1b-5c3d-4e8f-9a0b-1c2d3e4f5a6b",
    "x-gitlab-instance": "https://gitlab.example.com",
    "x-gitlab-token": token,
    ...extra,
  };
  return { parsed: parseWebhook("gitlab", headers, body), headers, body };
}

const workflowDir = mkdtempSync(join(tmpdir(), "slipway-gitlab-"));
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

const storefront = {
  full_name: "shop/frontend/storefront",
  name: "storefront",
  owner: { login: "shop/frontend" },
  html_url: "https://gitlab.example.com/shop/frontend/storefront",
  clone_url: "https://gitlab.example.com/shop/frontend/storefront.git",
  ssh_url: "git@gitlab.example.com:shop/frontend/storefront.git",
  default_branch: "main",
  private: true,
  visibility: "internal",
};

describe("GitLab Push Hook", () => {
  const payload = fixture("gitlab-push.json");

  test("the token is checked, and the delivery and repository are named", async () => {
    const { parsed, headers, body } = gitlab("Push Hook", payload);
    expect(await verifySignature("gitlab", headers, body, token)).toBe(true);
    expect(await verifySignature("gitlab", { ...headers, "x-gitlab-token": "guess" }, body, token)).toBe(
      false,
    );
    expect(parsed.deliveryId).toBe("13792a34-cac6-4fda-95a8-c58e00a3954e");
    expect(parsed.repository).toEqual({
      fullName: "shop/frontend/storefront",
      cloneUrls: [storefront.clone_url, storefront.ssh_url],
      htmlUrl: storefront.html_url,
    });
    expect(repositoryMatches(parsed.repository, "https://gitlab.example.com/Shop/Frontend/Storefront")).toBe(
      true,
    );
    expect(repositoryMatches(parsed.repository, "https://gitlab.example.com/shop/storefront.git")).toBe(
      false,
    );
  });

  test("becomes GitHub's push", () => {
    const { parsed } = gitlab("Push Hook", payload);
    expect(parsed).toMatchObject({ kind: "event", eventName: "push", commitCount: 2 });
    expect(parsed.payload).toEqual({
      ref: "refs/heads/main",
      before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
      after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      created: false,
      deleted: false,
      forced: false,
      base_ref: null,
      compare:
        "https://gitlab.example.com/shop/frontend/storefront/-/compare/95790bf891e76fee5e1747ab589903a6a1f80f22...da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      commits: [
        {
          id: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
          distinct: true,
          message: "Update the checkout button\n\nMakes it larger on small screens.\n",
          timestamp: "2025-03-12T14:27:31+02:00",
          url: "https://gitlab.example.com/shop/frontend/storefront/-/commit/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
          author: { name: "John Smith", email: "john@example.com" },
          added: ["src/checkout/button.css"],
          removed: [],
          modified: ["src/checkout/button.tsx"],
        },
        {
          id: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
          distinct: true,
          message: "Fix the README\n",
          timestamp: "2025-03-12T15:57:43+02:00",
          url: "https://gitlab.example.com/shop/frontend/storefront/-/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
          author: { name: "Jane Roe", email: "jane@example.com" },
          added: [],
          removed: ["docs/legacy.md"],
          modified: ["README.md"],
        },
      ],
      head_commit: expect.objectContaining({ id: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" }),
      repository: expect.objectContaining({ ...storefront, id: 15, description: "Online shop front end" }),
      pusher: { name: "jsmith", email: "john@example.com" },
      sender: {
        login: "jsmith",
        id: 4,
        name: "John Smith",
        email: "john@example.com",
        avatar_url: "https://gitlab.example.com/uploads/-/system/user/avatar/4/avatar.png",
        type: "User",
      },
    });
  });

  test("triggers a workflow filtered on branch and paths", async () => {
    const event = toTriggerEvent(gitlab("Push Hook", payload).parsed);
    expect(event.changedFiles).toEqual([
      "src/checkout/button.css",
      "src/checkout/button.tsx",
      "README.md",
      "docs/legacy.md",
    ]);
    expect(eventRef(event)).toBe("refs/heads/main");
    expect(eventSha(event)).toBe("da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    const on = await onConfig("push:\n  branches: [main]\n  paths: ['src/checkout/**']");
    expect(matchWorkflowTrigger(on, event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  paths-ignore: ['**']"), event).matched).toBe(false);
  });

  test("GitLab lists 20 commits at most: a longer push leaves the files to the mirror", () => {
    const { parsed } = gitlab("Push Hook", { ...payload, total_commits_count: 57 });
    expect(changedFilesOf(parsed)).toBeUndefined();
  });

  test("Idempotency-Key, kept across GitLab's retries, is the delivery id", () => {
    const { parsed } = gitlab("Push Hook", payload, {
      "idempotency-key": "a3b1c9d2-5e7f-4a6b-8c0d-1e2f3a4b5c6d",
    });
    expect(parsed.deliveryId).toBe("a3b1c9d2-5e7f-4a6b-8c0d-1e2f3a4b5c6d");
  });

  test("a branch deletion", () => {
    const deletion = {
      ...payload,
      after: "0".repeat(40),
      checkout_sha: null,
      commits: [],
      total_commits_count: 0,
    };
    const event = toTriggerEvent(gitlab("Push Hook", deletion).parsed);
    expect(event.payload).toMatchObject({
      deleted: true,
      after: "0".repeat(40),
      head_commit: null,
      compare: "",
    });
    expect(event.changedFiles).toEqual([]);
  });

  test("a System Hook carrying a push reads the same", () => {
    const { parsed } = gitlab("System Hook", payload);
    expect(parsed).toMatchObject({ kind: "event", eventName: "push", payload: { ref: "refs/heads/main" } });
  });
});

describe("GitLab Tag Push Hook", () => {
  test("becomes a push of refs/tags/…, at the commit the tag points to", async () => {
    const { parsed } = gitlab("Tag Push Hook", fixture("gitlab-tag-push.json"));
    const event = toTriggerEvent(parsed);
    expect(event.payload).toMatchObject({
      ref: "refs/tags/v2.0.0",
      before: "0".repeat(40),
      // checkout_sha, not the annotated tag's own object id in `after`
      after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      created: true,
      deleted: false,
      commits: [],
      head_commit: null,
      repository: { full_name: "shop/frontend/storefront" },
    });
    expect(event.changedFiles).toBeUndefined();
    expect(eventRef(event)).toBe("refs/tags/v2.0.0");
    expect(eventSha(event)).toBe("da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    expect(matchWorkflowTrigger(await onConfig("push:\n  tags: ['v[0-9]*']"), event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  tags-ignore: ['v2.*']"), event).matched).toBe(false);
  });
});

describe("GitLab Merge Request Hook", () => {
  test("open becomes opened", async () => {
    const { parsed } = gitlab("Merge Request Hook", fixture("gitlab-merge-request-open.json"));
    expect(parsed.repository.fullName).toBe("shop/frontend/storefront");
    const event = toTriggerEvent(parsed);
    expect(event.name).toBe("pull_request");
    expect(event.payload).toMatchObject({
      action: "opened",
      number: 7,
      repository: storefront,
      sender: { login: "root", id: 1 },
      pull_request: {
        id: 991,
        number: 7,
        title: "Slide-in cart drawer",
        body: "Makes the cart drawer slide in from the right.",
        state: "open",
        draft: false,
        html_url: "https://gitlab.example.com/shop/frontend/storefront/-/merge_requests/7",
        user: { login: "root", id: 1 },
        labels: [{ id: 206, name: "frontend", color: "428BCA", description: "UI work" }],
        head: {
          ref: "cart-drawer",
          sha: "f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e",
          label: "jsmith:cart-drawer",
          repo: {
            full_name: "jsmith/storefront",
            clone_url: "https://gitlab.example.com/jsmith/storefront.git",
          },
        },
        base: { ref: "main", label: "shop/frontend:main", repo: { full_name: "shop/frontend/storefront" } },
        merged: false,
        merged_by: null,
        merge_commit_sha: null,
      },
    });
    // GitLab does not send the target branch's commit; the server reads it from its mirror.
    expect(event.payload.pull_request).not.toHaveProperty("base.sha");
    expect(event.changedFiles).toBeUndefined();
    expect(eventRef(event)).toBe("refs/pull/7/merge");
    expect(eventSha(event)).toBe("f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e");
    expect(matchWorkflowTrigger(await onConfig("pull_request:\n  branches: [main]"), event).matched).toBe(
      true,
    );
    expect(matchWorkflowTrigger(await onConfig("pull_request:\n  branches: [release]"), event).matched).toBe(
      false,
    );
  });

  test("update with oldrev becomes synchronize, with before and after", async () => {
    const event = toTriggerEvent(
      gitlab("Merge Request Hook", fixture("gitlab-merge-request-update.json")).parsed,
    );
    expect(event.payload).toMatchObject({
      action: "synchronize",
      before: "f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e",
      after: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d",
      pull_request: { head: { sha: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d" } },
    });
    expect(eventSha(event)).toBe("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d");
    expect(matchWorkflowTrigger(await onConfig("pull_request"), event).matched).toBe(true);
  });

  test("update without new commits: edited for a title or description change, else ignored", () => {
    const update = fixture("gitlab-merge-request-update.json");
    const { oldrev: _, ...attrs } = update.object_attributes;
    const labelsOnly = {
      ...update,
      object_attributes: attrs,
      changes: { labels: { previous: [], current: [] } },
    };
    const ignored = gitlab("Merge Request Hook", labelsOnly).parsed;
    expect(ignored).toMatchObject({ kind: "ignored", eventName: "pull_request" });
    expect(ignored.reason).toMatch(/without new commits/);
    expect(ignored.repository.fullName).toBe("shop/frontend/storefront");
    const retitled = {
      ...labelsOnly,
      changes: { title: { previous: "Drawer", current: "Slide-in cart drawer" } },
    };
    expect(gitlab("Merge Request Hook", retitled).parsed.payload).toMatchObject({ action: "edited" });
  });

  test("merge becomes closed with merged true", async () => {
    const event = toTriggerEvent(
      gitlab("Merge Request Hook", fixture("gitlab-merge-request-merge.json")).parsed,
    );
    expect(event.payload).toMatchObject({
      action: "closed",
      sender: { login: "jsmith" },
      pull_request: {
        state: "closed",
        merged: true,
        merged_by: { login: "jsmith", id: 4 },
        merge_commit_sha: "7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b",
        // The author (id 1) is not the user who merged: GitLab names only the author's id.
        user: { login: null, id: 1 },
      },
    });
    expect(matchWorkflowTrigger(await onConfig("pull_request:\n  types: [closed]"), event).matched).toBe(
      true,
    );
    expect(matchWorkflowTrigger(await onConfig("pull_request"), event).matched).toBe(false);
  });

  test.each([
    ["close", "closed", "closed"],
    ["reopen", "opened", "reopened"],
  ])("%s (state %s) becomes %s", (action, state, expected) => {
    const open = fixture("gitlab-merge-request-open.json");
    const payload = { ...open, object_attributes: { ...open.object_attributes, action, state } };
    expect(gitlab("Merge Request Hook", payload).parsed.payload).toMatchObject({
      action: expected,
      pull_request: { state: state === "opened" ? "open" : "closed", merged: false },
    });
  });

  test.each(["approved", "unapproved", "approval", "unapproval"])("%s is ignored", (action) => {
    const open = fixture("gitlab-merge-request-open.json");
    const payload = { ...open, object_attributes: { ...open.object_attributes, action } };
    const parsed = gitlab("Merge Request Hook", payload).parsed;
    expect(parsed.kind).toBe("ignored");
    expect(parsed.reason).toContain(`'${action}'`);
  });
});

describe("other GitLab events", () => {
  test("are ignored with a reason and still name their repository", () => {
    const note = { object_kind: "note", event_type: "note", project: fixture("gitlab-push.json").project };
    const parsed = gitlab("Note Hook", note).parsed;
    expect(parsed).toMatchObject({ kind: "ignored", repository: { fullName: "shop/frontend/storefront" } });
    expect(parsed.reason).toMatch(/Note Hook/);
  });

  test("System Hooks other than pushes and merge requests are ignored", () => {
    const parsed = gitlab("System Hook", {
      event_name: "project_create",
      name: "x",
      path_with_namespace: "a/x",
    }).parsed;
    expect(parsed).toMatchObject({ kind: "ignored", repository: { cloneUrls: [] } });
    expect(parsed.reason).toMatch(/project_create/);
  });
});
