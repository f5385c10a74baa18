import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import type { PullRequestEvent, PushEvent } from "@octokit/webhooks-types";
import { afterAll, describe, expect, test } from "vitest";
import { eventRef, eventSha, loadWorkflowFile, matchWorkflowTrigger } from "../workflow/index.js";
import {
  changedFilesOf,
  deliveryIdOf,
  maxWebhookBody,
  type ParsedWebhook,
  parseWebhook,
  toTriggerEvent,
  verifySignature,
  WebhookError,
  type WebhookProvider,
} from "./index.js";

// The real payloads GitHub documents, as collected by @octokit/webhooks-examples.
const definitions = createRequire(import.meta.url)(
  "@octokit/webhooks-examples/api.github.com/index.json",
) as WebhookDefinition[];

function examplesOf(name: string): Record<string, any>[] {
  const definition = definitions.find((d) => d.name === name);
  if (definition === undefined) throw new Error(`no examples for ${name}`);
  return definition.examples as unknown as Record<string, any>[];
}

const secret = "It's a Secret to Everybody";
const hubSignature = (body: string | Buffer, key = secret) =>
  `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;

function githubHeaders(event: string, body: string, delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958") {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-hub-signature-256": hubSignature(body),
  };
}

function github(event: string, payload: object): { parsed: ParsedWebhook; body: string } {
  const body = JSON.stringify(payload);
  return { parsed: parseWebhook("github", githubHeaders(event, body), body), body };
}

// `on:` blocks go through the workflow domain's loader, as the server's planner will.
const workflowDir = mkdtempSync(join(tmpdir(), "slipway-triggers-"));
afterAll(() => rmSync(workflowDir, { recursive: true, force: true }));
let workflowCount = 0;
async function onConfig(on: string): Promise<EventsConfig> {
  const file = join(workflowDir, `w${workflowCount++}.yml`);
  const indented = on.replace(/^/gm, "  ");
  writeFileSync(file, `on:\n${indented}\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: hi }]\n`);
  return (await loadWorkflowFile(file, workflowDir)).events;
}

function expectWebhookError(fn: () => unknown, status: number, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookError);
    expect((err as WebhookError).status).toBe(status);
    expect((err as WebhookError).message).toMatch(message);
    return;
  }
  throw new Error("expected a WebhookError");
}

describe("GitHub example payloads", () => {
  test("every example of every event parses, with the repository it names", () => {
    let count = 0;
    for (const definition of definitions) {
      for (const example of definition.examples as unknown as Record<string, any>[]) {
        const { parsed } = github(definition.name, example);
        expect(parsed.kind).toBe(definition.name === "ping" ? "ping" : "event");
        expect(parsed.eventName).toBe(definition.name);
        expect(parsed.payload).toEqual(example);
        expect(parsed.repository.fullName).toBe(example.repository?.full_name);
        count++;
      }
    }
    expect(count).toBeGreaterThan(300);
  });

  const pushes = examplesOf("push") as unknown as PushEvent[];
  const branchPushes = pushes.filter((p) => p.ref.startsWith("refs/heads/"));
  const tagPushes = pushes.filter((p) => p.ref.startsWith("refs/tags/") && !p.deleted);

  test.each(branchPushes.map((p, i) => [i, p] as const))("branch push #%i", async (_, payload) => {
    const { parsed, body } = github("push", payload);
    expect(await verifySignature("github", githubHeaders("push", body), body, secret)).toBe(true);
    expect(parsed).toMatchObject({ provider: "github", kind: "event", eventName: "push" });
    expect(parsed.repository).toEqual({
      fullName: "Codertocat/Hello-World",
      cloneUrls: [
        "https://github.com/Codertocat/Hello-World.git",
        "git@github.com:Codertocat/Hello-World.git",
        "git://github.com/Codertocat/Hello-World.git",
      ],
      htmlUrl: "https://github.com/Codertocat/Hello-World",
    });
    const event = toTriggerEvent(parsed);
    expect(event.changedFiles).toEqual(["README.md"]);
    expect(eventRef(event)).toBe("refs/heads/master");
    expect(eventSha(event)).toBe(payload.after);
    expect(matchWorkflowTrigger(await onConfig("push:\n  branches: [master]"), event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  paths: ['*.md']"), event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  paths: ['src/**']"), event)).toEqual({
      matched: false,
      reason: "none of the 1 changed files matches paths [src/**]",
    });
    expect(matchWorkflowTrigger(await onConfig("push:\n  tags: ['*']"), event).matched).toBe(false);
  });

  test.each(tagPushes.map((p, i) => [i, p] as const))("tag push #%i", async (_, payload) => {
    const { parsed } = github("push", payload);
    const event = toTriggerEvent(parsed);
    expect(eventRef(event)).toBe("refs/tags/simple-tag");
    expect(eventSha(event)).toBe(payload.after);
    // No commits listed: the changed files are for the server's mirror to tell.
    expect(event.changedFiles).toBeUndefined();
    expect(matchWorkflowTrigger(await onConfig("push:\n  tags: ['simple-*']"), event).matched).toBe(true);
    expect(matchWorkflowTrigger(await onConfig("push:\n  branches: ['**']"), event).matched).toBe(false);
  });

  test("the examples hold branch and tag pushes", () => {
    expect(branchPushes.length).toBeGreaterThan(0);
    expect(tagPushes.length).toBeGreaterThan(0);
  });

  const pullRequests = examplesOf("pull_request") as unknown as PullRequestEvent[];
  const opened = pullRequests.filter((p) => p.action === "opened");
  const synchronize = pullRequests.filter((p) => p.action === "synchronize");
  // The examples' closed pull requests were closed unmerged; GitHub sends the same payload with
  // `merged: true` (and merged_by, merged_at) for a merge, so the merge case sets those.
  const merged = pullRequests
    .filter((p) => p.action === "closed")
    .map((p) => ({
      ...p,
      pull_request: {
        ...p.pull_request,
        merged: true,
        merged_at: p.pull_request.closed_at,
        merged_by: p.sender,
      },
    }));

  test.each([...opened, ...synchronize].map((p, i) => [i, p.action, p] as const))(
    "pull_request #%i (%s)",
    async (_, action, payload) => {
      const { parsed } = github("pull_request", payload);
      expect(parsed).toMatchObject({ kind: "event", eventName: "pull_request", payload: { action } });
      const event = toTriggerEvent(parsed);
      expect(event.changedFiles).toBeUndefined();
      expect(eventRef(event)).toBe(`refs/pull/${payload.number}/merge`);
      expect(eventSha(event)).toBe(payload.pull_request.head.sha);
      expect(matchWorkflowTrigger(await onConfig("pull_request:\n  branches: [master]"), event).matched).toBe(
        true,
      );
      expect(matchWorkflowTrigger(await onConfig("pull_request:\n  branches: [main]"), event).matched).toBe(
        false,
      );
      expect(matchWorkflowTrigger(await onConfig("pull_request:\n  types: [closed]"), event).matched).toBe(
        false,
      );
    },
  );

  test.each(merged.map((p, i) => [i, p] as const))(
    "pull_request closed and merged #%i",
    async (_, payload) => {
      const { parsed } = github("pull_request", payload);
      const event = toTriggerEvent(parsed);
      expect(event.payload).toMatchObject({ action: "closed", pull_request: { merged: true } });
      expect(eventSha(event)).toBe(payload.pull_request.head.sha);
      expect(matchWorkflowTrigger(await onConfig("pull_request:\n  types: [closed]"), event).matched).toBe(
        true,
      );
      // Default activity types are opened, synchronize and reopened.
      expect(matchWorkflowTrigger(await onConfig("pull_request"), event)).toMatchObject({
        matched: false,
        reason: "pull_request action 'closed' is not in types [opened, synchronize, reopened]",
      });
    },
  );

  test("the examples hold opened, synchronize and closed pull requests", () => {
    expect([opened.length, synchronize.length, merged.length].every((n) => n > 0)).toBe(true);
  });

  test.each(examplesOf("ping").map((p, i) => [i, p] as const))("ping #%i", (_, payload) => {
    const { parsed } = github("ping", payload);
    expect(parsed.kind).toBe("ping");
    expect(parsed.eventName).toBe("ping");
    expect(parsed.repository.fullName).toBe(payload.repository?.full_name);
    expect(changedFilesOf(parsed)).toBeUndefined();
    expect(() => toTriggerEvent(parsed)).toThrow(/a ping delivery .* triggers no workflow/);
  });

  test.each(examplesOf("workflow_dispatch").map((p, i) => [i, p] as const))(
    "workflow_dispatch #%i",
    async (_, payload) => {
      const { parsed } = github("workflow_dispatch", payload);
      const event = toTriggerEvent(parsed);
      expect(event.name).toBe("workflow_dispatch");
      expect(eventRef(event)).toBe(payload.ref);
      // The payload names no commit: the server resolves the ref in its mirror.
      expect(eventSha(event)).toBe("");
      expect(matchWorkflowTrigger(await onConfig("workflow_dispatch"), event).matched).toBe(true);
      expect(matchWorkflowTrigger(await onConfig("push"), event).matched).toBe(false);
    },
  );
});

describe("signatures", () => {
  const body = JSON.stringify({ ref: "refs/heads/main", zen: "Keep it logically awesome." });
  const hex = (key = secret, content = body) => createHmac("sha256", key).update(content).digest("hex");
  const headersFor: Record<WebhookProvider, (key?: string) => Record<string, string>> = {
    github: (key) => ({ "x-hub-signature-256": `sha256=${hex(key)}` }),
    gitea: (key) => ({ "x-gitea-signature": hex(key) }),
    gitlab: (key) => ({ "x-gitlab-token": key ?? secret }),
  };

  describe.each(["github", "gitea", "gitlab"] as const)("%s", (provider) => {
    test("valid", async () => {
      expect(await verifySignature(provider, headersFor[provider](), body, secret)).toBe(true);
      expect(await verifySignature(provider, headersFor[provider](), Buffer.from(body), secret)).toBe(true);
    });
    test("tampered body", async () => {
      const tampered = body.replace("main", "evil");
      // GitLab's token does not cover the body: TLS is what protects it there.
      const expected = provider === "gitlab";
      expect(await verifySignature(provider, headersFor[provider](), tampered, secret)).toBe(expected);
    });
    test("wrong secret", async () => {
      expect(await verifySignature(provider, headersFor[provider]("not the secret"), body, secret)).toBe(
        false,
      );
    });
    test("missing header", async () => {
      expect(await verifySignature(provider, {}, body, secret)).toBe(false);
      const empty = Object.fromEntries(Object.keys(headersFor[provider]()).map((k) => [k, ""]));
      expect(await verifySignature(provider, empty, body, secret)).toBe(false);
    });
    test("an empty secret accepts nothing", async () => {
      expect(await verifySignature(provider, headersFor[provider](""), body, "")).toBe(false);
    });
    test("header names in any case", async () => {
      const upper = Object.fromEntries(
        Object.entries(headersFor[provider]()).map(([k, v]) => [k.toUpperCase(), v]),
      );
      expect(await verifySignature(provider, upper, body, secret)).toBe(true);
    });
  });

  test("GitHub: a signature of the right length but wrong value", async () => {
    const wrong = `sha256=${"0".repeat(64)}`;
    expect(await verifySignature("github", { "x-hub-signature-256": wrong }, body, secret)).toBe(false);
  });

  test("GitHub: the legacy SHA-1 header alone is not enough", async () => {
    const sha1 = `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`;
    expect(await verifySignature("github", { "x-hub-signature": sha1 }, body, secret)).toBe(false);
  });

  test("GitHub: bodies that are not UTF-8 are checked byte for byte", async () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const signature = hubSignature(bytes);
    expect(await verifySignature("github", { "x-hub-signature-256": signature }, bytes, secret)).toBe(true);
    const other = Buffer.from([0x7b, 0xff, 0xfd, 0x7d]);
    expect(await verifySignature("github", { "x-hub-signature-256": signature }, other, secret)).toBe(false);
  });

  test("Forgejo's header, and Gitea's X-Hub-Signature-256 when the bare one is missing", async () => {
    expect(await verifySignature("gitea", { "x-forgejo-signature": hex() }, body, secret)).toBe(true);
    expect(await verifySignature("gitea", { "x-forgejo-signature": hex("x") }, body, secret)).toBe(false);
    expect(await verifySignature("gitea", { "x-hub-signature-256": `sha256=${hex()}` }, body, secret)).toBe(
      true,
    );
    expect(await verifySignature("gitea", { "x-gitea-signature": hex().toUpperCase() }, body, secret)).toBe(
      true,
    );
  });
});

describe("parseWebhook", () => {
  const payload = examplesOf("push")[4];
  const json = JSON.stringify(payload);

  test("a form-encoded GitHub delivery (content type application/x-www-form-urlencoded)", async () => {
    const body = new URLSearchParams({ payload: json }).toString();
    const headers = {
      "content-type": "application/x-www-form-urlencoded",
      "x-github-event": "push",
      "x-github-delivery": "d1",
      "x-hub-signature-256": hubSignature(body),
    };
    // GitHub signs the body as sent, form encoding included.
    expect(await verifySignature("github", headers, body, secret)).toBe(true);
    const parsed = parseWebhook("github", headers, body);
    expect(parsed.payload).toEqual(payload);
    expect(toTriggerEvent(parsed).changedFiles).toEqual(["README.md"]);
  });

  test("a content type with parameters, and none at all, mean JSON", () => {
    const headers = { "x-github-event": "push", "x-github-delivery": "d" };
    const withCharset = { ...headers, "content-type": "application/json; charset=utf-8" };
    expect(parseWebhook("github", withCharset, json).payload).toEqual(payload);
    expect(parseWebhook("github", headers, Buffer.from(json)).payload).toEqual(payload);
  });

  test("errors carry the HTTP status to answer", () => {
    const headers = {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": "d",
    };
    expectWebhookError(() => parseWebhook("github", headers, "{ not json"), 400, /malformed JSON/);
    expectWebhookError(() => parseWebhook("github", headers, ""), 400, /malformed JSON/);
    expectWebhookError(
      () => parseWebhook("github", { ...headers, "x-github-event": "" }, json),
      400,
      /x-github-event/,
    );
    expectWebhookError(
      () => parseWebhook("gitea", { "content-type": "application/json" }, json),
      400,
      /x-forgejo-event/,
    );
    expectWebhookError(() => parseWebhook("gitlab", {}, json), 400, /x-gitlab-event/);
    const form = { ...headers, "content-type": "application/x-www-form-urlencoded" };
    expectWebhookError(() => parseWebhook("github", form, "other=1"), 400, /no 'payload' field/);
    expectWebhookError(() => parseWebhook("github", form, "payload=%7Bnope"), 400, /malformed JSON/);
    expectWebhookError(
      () => parseWebhook("gitlab", { ...form, "x-gitlab-event": "Push Hook" }, "payload=%7B%7D"),
      415,
      /content type/,
    );
    expectWebhookError(
      () => parseWebhook("github", { ...headers, "content-type": "text/plain" }, json),
      415,
      /text\/plain/,
    );
    expectWebhookError(() => parseWebhook("github", headers, "[1, 2]"), 422, /not a JSON object/);
    expectWebhookError(() => parseWebhook("github", headers, "null"), 422, /not a JSON object/);
  });

  test("a body over 25 MB is refused with 413", () => {
    const headers = { "x-github-event": "push", "x-github-delivery": "d" };
    const big = `{"a":"${"x".repeat(maxWebhookBody)}"}`;
    expectWebhookError(() => parseWebhook("github", headers, big), 413, /larger than 26214400 bytes/);
    expectWebhookError(() => parseWebhook("github", headers, Buffer.from(big)), 413, /larger/);
    // Multi-byte characters count as bytes, not as string length.
    const wide = `{"a":"${"é".repeat(maxWebhookBody / 2)}"}`;
    expectWebhookError(() => parseWebhook("github", headers, wide), 413, /larger/);
  });
});

describe("delivery ids", () => {
  const body = '{"zen":"Design for failure."}';
  const hash = `sha256:${createHash("sha256").update(body).digest("hex")}`;

  test.each([
    [
      "github",
      { "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" },
      "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    ],
    [
      "gitea",
      { "x-gitea-delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473" },
      "f6266f16-1bf3-46a5-9ea4-602e06ead473",
    ],
    ["gitea", { "x-gitea-delivery": "gitea-id", "x-forgejo-delivery": "forgejo-id" }, "forgejo-id"],
    ["gitea", { "x-gogs-delivery": "gogs-id" }, "gogs-id"],
    [
      "gitlab",
      { "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e" },
      "13792a34-cac6-4fda-95a8-c58e00a3954e",
    ],
    ["gitlab", { "x-gitlab-event-uuid": "event-uuid", "idempotency-key": "retry-key" }, "retry-key"],
    ["gitlab", { "Idempotency-Key": "retry-key" }, "retry-key"],
    ["github", {}, hash],
    ["gitlab", { "x-gitlab-event-uuid": "" }, hash],
  ] as const)("%s %j → %s", (provider, headers, expected) => {
    expect(deliveryIdOf(provider, headers, body)).toBe(expected);
    expect(deliveryIdOf(provider, headers, Buffer.from(body))).toBe(expected);
  });

  test("a redelivery has the same id; another body without an id header another one", () => {
    const headers = { "x-github-event": "ping", "x-github-delivery": "same" };
    expect(parseWebhook("github", headers, body).deliveryId).toBe(
      parseWebhook("github", headers, body).deliveryId,
    );
    const gitlab = { "x-gitlab-event": "Push Hook" };
    // Commit ids must be hex (a payload's shas become git arguments and paths).
    const push = (after: string) => JSON.stringify({ object_kind: "push", after: after.repeat(40) });
    const a = parseWebhook("gitlab", gitlab, push("1")).deliveryId;
    const b = parseWebhook("gitlab", gitlab, push("2")).deliveryId;
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
});

describe("changedFilesOf", () => {
  const base = examplesOf("push")[4] as unknown as PushEvent;
  const commit = (i: number, files: Partial<Record<"added" | "removed" | "modified", string[]>>) => ({
    ...base.commits[0],
    id: String(i).padStart(40, "0"),
    added: [],
    removed: [],
    modified: [],
    ...files,
  });
  const parse = (payload: object) => github("push", payload).parsed;

  test("the union of the commits' added, modified and removed files", () => {
    const commits = [
      commit(1, { added: ["a.ts"], modified: ["b.ts"] }),
      commit(2, { removed: ["a.ts", "c.ts"] }),
    ];
    expect(changedFilesOf(parse({ ...base, commits }))).toEqual(["a.ts", "b.ts", "c.ts"]);
  });

  test("19 commits are read; 20 may be a list cut short, so the mirror is asked", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => commit(i, { modified: [`f${i}`] }));
    expect(changedFilesOf(parse({ ...base, commits: many(19) }))).toHaveLength(19);
    expect(changedFilesOf(parse({ ...base, commits: many(20) }))).toBeUndefined();
    expect(changedFilesOf(parse({ ...base, commits: many(25) }))).toBeUndefined();
  });

  test("a commit without file lists makes the files unknown", () => {
    const { added: _, ...bare } = commit(1, { modified: ["x"] });
    expect(changedFilesOf(parse({ ...base, commits: [commit(2, { added: ["y"] }), bare] }))).toBeUndefined();
  });

  test("no commits listed: unknown; a deletion: nothing changed", () => {
    expect(changedFilesOf(parse({ ...base, commits: [] }))).toBeUndefined();
    const deletion = { ...base, after: "0".repeat(40), deleted: true, commits: [], head_commit: null };
    expect(changedFilesOf(parse(deletion))).toEqual([]);
  });

  test("pull requests: unknown, for the server's `git diff base...head`", () => {
    const pr = examplesOf("pull_request").find((p) => p.action === "opened")!;
    expect(changedFilesOf(github("pull_request", pr).parsed)).toBeUndefined();
  });

  test("toTriggerEvent takes the mirror's files when given", () => {
    const parsed = parse({ ...base, commits: [] });
    expect(toTriggerEvent(parsed, ["src/x.ts"]).changedFiles).toEqual(["src/x.ts"]);
    expect(toTriggerEvent(parsed)).toEqual({ name: "push", payload: parsed.payload });
  });
});
