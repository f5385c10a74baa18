// Rules, Slack messages (Block Kit limits, escaping, matrix grouping), webhook payloads and signatures,
// and single attempts against a real local receiver.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type NotifyRule, parseConfig } from "../config/index.js";
import {
  blockKitLimits,
  type DeployEvent,
  escapeClip,
  eventTypesOf,
  type JobSummary,
  matchRules,
  type RunEvent,
  sendSlack,
  sendWebhook,
  signPayload,
  slackMessage,
  validateBlockKit,
  verifyWebhookSignature,
  webhookPayload,
  webhookPayloadSchema,
} from "./index.js";
import { type Receiver, startReceiver } from "./testing.js";

const receivers: Receiver[] = [];
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

function run(overrides: Partial<RunEvent> = {}): RunEvent {
  return {
    kind: "run",
    repository: "acme/api",
    workflow: "CI",
    runNumber: 42,
    runUrl: "https://ci.example.com/acme/api/runs/42",
    trigger: "push",
    branch: "main",
    sha: "0123456789abcdef0123456789abcdef01234567",
    commitMessage: "Fix the flaky test\n\nLonger body",
    author: "alice",
    version: "1.4.0",
    jobs: [
      { name: "lint", status: "success", durationMs: 12_000 },
      { name: "build", matrix: { node: 18 }, status: "success", durationMs: 61_000 },
      { name: "build", matrix: { node: 20 }, status: "failure", durationMs: 75_000 },
    ],
    conclusion: "failure",
    previousConclusion: "success",
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_090_000,
    ...overrides,
  };
}

const deploy = (type: DeployEvent["type"], overrides: Partial<DeployEvent> = {}): DeployEvent => ({
  kind: "deploy",
  type,
  repository: "acme/api",
  environment: "production",
  strategy: "blue-green",
  service: "api",
  version: "1.4.0",
  previousVersion: "1.3.9",
  branch: "main",
  sha: "0123456789abcdef",
  actor: "bob",
  runUrl: "https://ci.example.com/acme/api/runs/42",
  ...overrides,
});

/** Every text of a message (header, sections, fields, context) with its type. */
function texts(message: { text: string; blocks: unknown[] }): { type: string; text: string }[] {
  const out: { type: string; text: string }[] = [{ type: "mrkdwn", text: message.text }];
  for (const b of message.blocks as Record<string, any>[]) {
    if (b.text) out.push(b.text);
    for (const f of b.fields ?? []) out.push(f);
    for (const e of b.elements ?? []) out.push(e);
  }
  return out;
}

/** No `<`, `>` or bare `&` outside the links slipway itself made. */
function expectOnlyOwnMarkup(message: { text: string; blocks: unknown[] }): void {
  for (const t of texts(message)) {
    // Our own markup: links, and `> ` quoting at the start of a line.
    const withoutLinks = t.text.replace(/<https?:\/\/[^|<>\s]+\|[^<>]*>/g, "").replace(/^> /gm, "");
    expect(withoutLinks, t.text).not.toMatch(/[<>]/);
    expect(withoutLinks.replace(/&(amp|lt|gt);/g, ""), t.text).not.toContain("&");
  }
}

describe("event types and rules", () => {
  const rules = (text: string): NotifyRule[] => {
    const cfg = parseConfig(
      `notify:\n  channels:\n    a: { webhook: { url: "https://x.example" } }\n    b: { webhook: { url: "https://y.example" } }\n  rules:\n${text}`,
      "slipway.yaml",
    ).config.notify;
    return cfg?.rules ?? [];
  };

  it("derive completed / failed / fixed from the conclusions", () => {
    expect(eventTypesOf(run({ conclusion: "failure" }))).toEqual(["run.completed", "run.failed"]);
    expect(eventTypesOf(run({ conclusion: "success", previousConclusion: "failure" }))).toEqual([
      "run.completed",
      "run.fixed",
    ]);
    expect(eventTypesOf(run({ conclusion: "success", previousConclusion: "success" }))).toEqual([
      "run.completed",
    ]);
    expect(eventTypesOf(run({ conclusion: "cancelled" }))).toEqual(["run.completed"]);
    expect(eventTypesOf(deploy("deploy.rolled_back"))).toEqual(["deploy.rolled_back"]);
  });

  it("match on event type and on every filter (GitHub patterns), each channel once", () => {
    const r = rules(
      [
        "    - { on: [run.failed], channels: [a], branch: [main, 'release/**'] }",
        "    - { on: [run.completed], channels: [b, a], repository: 'acme/*', workflow: ['!nightly', '*'] }",
        "    - { on: [deploy.failed, deploy.rolled_back], channels: [b], environment: [prod*] }",
        "    - { on: [run.fixed], channels: [b], environment: production }",
      ].join("\n"),
    );
    expect(matchRules(r, run())).toEqual(["a", "b"]);
    expect(matchRules(r, run({ branch: "release/1.x/rc" }))).toEqual(["a", "b"]);
    expect(matchRules(r, run({ branch: "feature/x", repository: "other/api" }))).toEqual([]);
    expect(matchRules(r, run({ conclusion: "success", repository: "acme/web" }))).toEqual(["b", "a"]);
    // A run has no environment: the environment-filtered fixed rule never matches it.
    expect(
      matchRules(r, run({ conclusion: "success", previousConclusion: "failure", repository: "x/y" })),
    ).toEqual([]);
    expect(matchRules(r, run({ branch: undefined, repository: "x/y" }))).toEqual([]);
    expect(matchRules(r, deploy("deploy.failed"))).toEqual(["b"]);
    expect(matchRules(r, deploy("deploy.failed", { environment: "staging" }))).toEqual([]);
    expect(matchRules(r, deploy("deploy.started"))).toEqual([]);
  });
});

describe("Slack messages", () => {
  it("show the run: header, facts, PR link, matrix legs grouped, link to the run", () => {
    const m = slackMessage(
      run({
        pullRequest: {
          number: 7,
          title: "Add caching",
          url: "https://git.example.com/acme/api/pull/7",
          author: "carol",
          merger: "dave",
        },
      }),
    );
    expect(validateBlockKit(m)).toEqual([]);
    expect(m.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: ":x: CI #42 failed · acme/api", emoji: true },
    });
    const all = texts(m)
      .map((t) => t.text)
      .join("\n");
    expect(all).toContain("*Branch*\nmain");
    expect(all).toContain("*Commit*\n0123456");
    expect(all).toContain("*Version*\n1.4.0");
    expect(all).toContain("*Pull request*\n<https://git.example.com/acme/api/pull/7|#7 Add caching>");
    expect(all).toContain("*Author*\ncarol");
    expect(all).toContain("*Merged by*\ndave");
    expect(all).toContain("*Duration*\n1m30s");
    expect(all).toContain("> Fix the flaky test");
    expect(all).not.toContain("Longer body");
    // Failed groups first; legs of a matrix job on one line with their marks; the longest leg's time.
    expect(all).toContain(":x: *build (node 18, 20)* ✓✗ · 1m15s\n:white_check_mark: *lint* · 12s");
    expect(all).toContain("<https://ci.example.com/acme/api/runs/42|View run #42>");
    expect(m.text).toBe("CI #42 failed · acme/api on main (1 failed job)");
    expectOnlyOwnMarkup(m);
  });

  it("headline fixed runs and every deploy event, within the limits", () => {
    expect(slackMessage(run({ conclusion: "success", previousConclusion: "failure" })).text).toMatch(
      /^CI #42 fixed/,
    );
    const headers = (
      ["deploy.started", "deploy.succeeded", "deploy.failed", "deploy.rolled_back"] as const
    ).map((t) => {
      const m = slackMessage(
        deploy(t, { reason: t === "deploy.failed" ? "health check failed:\nGET /healthz → 503" : undefined }),
      );
      expect(validateBlockKit(m)).toEqual([]);
      expectOnlyOwnMarkup(m);
      return (m.blocks[0] as { text: { text: string } }).text.text;
    });
    expect(headers).toEqual([
      ":rocket: Deploying api 1.4.0 to production",
      ":white_check_mark: Deployed api 1.4.0 to production",
      ":x: Deploy of api 1.4.0 to production failed",
      ":leftwards_arrow_with_hook: Rolled back api in production to 1.4.0",
    ]);
    const failed = texts(
      slackMessage(deploy("deploy.failed", { reason: "health check failed:\nGET /healthz → 503" })),
    )
      .map((t) => t.text)
      .join("\n");
    expect(failed).toContain("*Strategy*\nblue-green");
    expect(failed).toContain("*Environment*\nproduction");
    expect(failed).toContain("*Previous version*\n1.3.9");
    expect(failed).toContain("> health check failed:\n> GET /healthz → 503");
  });

  it("escape untrusted text everywhere: no mentions, no injected links, entities intact", () => {
    const evil = "<!channel> <http://evil.example|click here> & <@U123> <!subteam^S1>";
    const m = slackMessage(
      run({
        branch: `feat/<!here>&more`,
        commitMessage: `${evil}\nsecond line`,
        author: "<@U999>",
        pullRequest: {
          number: 1,
          title: evil,
          url: "https://git.example.com/pull/1?a=1&b=<2>|x",
          author: "<!everyone>",
        },
        workflow: "CI <!channel>",
        jobs: [{ name: `deploy ${evil}`, matrix: { target: "<!here>" }, status: "failure", durationMs: 1 }],
      }),
    );
    expect(validateBlockKit(m)).toEqual([]);
    expectOnlyOwnMarkup(m);
    const json = JSON.stringify(m);
    expect(json).not.toMatch(/<!channel>|<!here>|<!everyone>|<@U123>|<http:\/\/evil/);
    expect(json).toContain("&lt;!channel&gt; &lt;http://evil.example|click here&gt; &amp; &lt;@U123&gt;");
    // The PR link's URL has its own `|`, `<`, `>` and `&` made harmless.
    expect(json).toContain("<https://git.example.com/pull/1?a=1&amp;b=%3C2%3E%7Cx|#1 &lt;!channel&gt;");
    // mrkdwn objects are verbatim: Slack does not link or ping names in them on its own.
    for (const b of m.blocks as Record<string, any>[]) {
      for (const t of [b.text, ...(b.fields ?? []), ...(b.elements ?? [])].filter(Boolean)) {
        if (t.type === "mrkdwn") expect(t.verbatim).toBe(true);
      }
    }
    // Links only from http(s) URLs.
    const js = slackMessage(run({ runUrl: "javascript:alert(1)" }));
    expect(JSON.stringify(js)).not.toContain("javascript:");
  });

  it("stay within Block Kit's limits for a pipeline of 120 jobs", () => {
    const jobs: JobSummary[] = [];
    for (let i = 0; i < 30; i++)
      jobs.push({ name: `test-${i}`, status: i % 7 === 0 ? "failure" : "success", durationMs: i * 1000 });
    for (const node of [18, 20, 22])
      for (const os of ["linux", "macos", "windows"])
        for (let shard = 1; shard <= 10; shard++)
          jobs.push({
            name: "e2e",
            matrix: { node, os, shard },
            status: shard === 3 && os === "macos" ? "failure" : "success",
            durationMs: 100_000,
          });
    expect(jobs).toHaveLength(120);
    const m = slackMessage(run({ jobs }));
    expect(validateBlockKit(m)).toEqual([]);
    const all = texts(m)
      .map((t) => t.text)
      .join("\n");
    expect(all).toContain(
      ":x: *e2e (node 18, 20, 22; os linux, macos, windows; shard 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)* ",
    );
    expect(all).not.toContain("more job");
  });

  it("cut a huge pipeline short with '… and N more jobs', failures kept, every limit respected", () => {
    const long = "x".repeat(400);
    const jobs: JobSummary[] = Array.from({ length: 3000 }, (_, i) => ({
      name: `job-${i}-${long}`,
      status: i === 2999 ? "failure" : "success",
      durationMs: 1000,
    }));
    const m = slackMessage(
      run({
        jobs,
        pullRequest: { number: 1, title: "t".repeat(5000), author: "a".repeat(3000) },
        workflow: "W".repeat(500),
      }),
    );
    expect(validateBlockKit(m)).toEqual([]);
    expect(m.blocks.length).toBeLessThanOrEqual(blockKitLimits.blocks);
    expect((m.blocks[0] as { text: { text: string } }).text.text.length).toBeLessThanOrEqual(150);
    const all = texts(m)
      .map((t) => t.text)
      .join("\n");
    expect(all).toContain("job-2999-"); // the failure is listed first
    const more = /… and (\d+) more jobs/.exec(all);
    expect(more).not.toBeNull();
    const shownLines = all.split("\n").filter((l) => /^:(x|white_check_mark): \*job-/.test(l)).length;
    expect(shownLines + Number(more?.[1])).toBe(3000);
    expect(m.text.length).toBeLessThanOrEqual(3000);
  });

  it("are checked by the validator against Slack's documented limits", () => {
    const header = (n: number) => ({ type: "header", text: { type: "plain_text", text: "h".repeat(n) } });
    expect(validateBlockKit({ blocks: [header(150)] })).toEqual([]);
    expect(validateBlockKit({ blocks: [header(151)] })).toEqual([
      "blocks[0].text: text of 151 characters (limit 150)",
    ]);
    expect(validateBlockKit({ blocks: Array.from({ length: 51 }, () => ({ type: "divider" })) })).toEqual([
      "blocks: 51 blocks (limit 50)",
    ]);
    const field = { type: "mrkdwn", text: "f" };
    expect(validateBlockKit({ blocks: [{ type: "section", fields: Array(11).fill(field) }] })).toEqual([
      "blocks[0].fields: 11 fields (limit 10)",
    ]);
    expect(
      validateBlockKit({ blocks: [{ type: "section", text: { type: "mrkdwn", text: "s".repeat(3001) } }] }),
    ).toEqual(["blocks[0].text: text of 3001 characters (limit 3000)"]);
    expect(
      validateBlockKit({
        blocks: [{ type: "section", fields: [{ type: "mrkdwn", text: "s".repeat(2001) }] }],
      }),
    ).toEqual(["blocks[0].fields[0]: text of 2001 characters (limit 2000)"]);
    expect(validateBlockKit({ blocks: [{ type: "context", elements: Array(11).fill(field) }] })).toEqual([
      "blocks[0].elements: 11 elements (limit 10)",
    ]);
    expect(
      validateBlockKit({
        blocks: [{ type: "section" }, { type: "header", text: { type: "mrkdwn", text: "x" } }],
      }),
    ).toEqual(["blocks[0]: needs text or fields", "blocks[1].text: text type mrkdwn not allowed here"]);
  });

  it("clip escaped text without cutting an entity or a surrogate pair", () => {
    expect(escapeClip("a&b", 10)).toBe("a&amp;b");
    expect(escapeClip("&&&&", 11)).toBe("&amp;&amp;…");
    expect(escapeClip("&&&&", 10)).toBe("&amp;…");
    expect(escapeClip("😀😀😀", 5)).toBe("😀😀…");
  });

  it("go out through @slack/webhook as Block Kit JSON, with nothing else in the body", async () => {
    const r = await receiver(() => ({ status: 200, body: "ok" }));
    const m = slackMessage(run());
    await sendSlack(`${r.url}/services/T000/B000/XXXX`, m, { timeoutMs: 2000 });
    expect(r.requests).toHaveLength(1);
    const got = JSON.parse(r.requests[0].text);
    expect(r.requests[0].path).toBe("/services/T000/B000/XXXX");
    expect(Object.keys(got).sort()).toEqual(["blocks", "text"]);
    expect(got).toEqual(JSON.parse(JSON.stringify(m)));
    expect(validateBlockKit(got)).toEqual([]);
  });

  it("report Slack's errors without the webhook URL, retryable only when a retry can help", async () => {
    const r = await receiver((req) =>
      req.n === 0
        ? { status: 404, body: "no_service" }
        : req.n === 1
          ? { status: 500, body: "oops" }
          : { destroy: true },
    );
    const url = `${r.url}/services/T000/B000/SECRETPART`;
    const errs: any[] = [];
    for (let i = 0; i < 3; i++)
      errs.push(await sendSlack(url, slackMessage(run()), { timeoutMs: 2000 }).catch((e) => e));
    expect(errs.map((e) => [e.retryable, e.message])).toEqual([
      [false, "Slack answered HTTP 404: no_service"],
      [true, "Slack answered HTTP 500: oops"],
      [true, expect.stringMatching(/^request failed: .*(socket hang up|ECONNRESET)/)],
    ]);
    for (const e of errs) expect(e.message).not.toContain("SECRETPART");
  });
});

describe("webhook payloads and signatures", () => {
  it("follow the documented schema for runs and deploys", () => {
    const p = webhookPayload(
      run({
        pullRequest: { number: 7, title: "Add caching", url: "https://x/7", author: "carol", merger: "dave" },
      }),
      { id: "evt-1", createdAt: 1_700_000_100_000 },
    );
    expect(webhookPayloadSchema.parse(p)).toEqual(p);
    // Exactly the documented fields (the schema lets receivers accept fields added later).
    expect(Object.keys(p).sort()).toEqual(Object.keys(webhookPayloadSchema.shape).sort());
    expect(p).toMatchObject({
      schema: "slipway.notification.v1",
      id: "evt-1",
      type: "run.failed",
      types: ["run.completed", "run.failed"],
      test: false,
      created_at: "2023-11-14T22:15:00.000Z",
      repository: "acme/api",
      deploy: null,
    });
    expect(p.run).toMatchObject({
      workflow: "CI",
      number: 42,
      branch: "main",
      conclusion: "failure",
      previous_conclusion: "success",
      duration_ms: 90_000,
      pull_request: {
        number: 7,
        title: "Add caching",
        url: "https://x/7",
        author: "carol",
        merged_by: "dave",
      },
    });
    expect(p.run?.jobs[1]).toEqual({
      name: "build",
      matrix: { node: 18 },
      status: "success",
      duration_ms: 61_000,
    });
    for (const t of ["deploy.started", "deploy.succeeded", "deploy.failed", "deploy.rolled_back"] as const) {
      const d = webhookPayload(deploy(t), { id: "evt-2" });
      expect(webhookPayloadSchema.parse(d)).toEqual(d);
      expect(d).toMatchObject({
        type: t,
        run: null,
        deploy: { environment: "production", strategy: "blue-green" },
      });
    }
  });

  it("are documented in docs/notifications.md with the current JSON Schema", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "notifications.md"), "utf8");
    const embedded =
      /<!-- payload-schema:start -->\n```json\n([\s\S]*?)\n```\n<!-- payload-schema:end -->/.exec(doc);
    expect(embedded, "the schema block in docs/notifications.md").not.toBeNull();
    expect(JSON.parse(embedded?.[1] ?? "null")).toEqual(
      z.toJSONSchema(webhookPayloadSchema, { io: "output" }),
    );
  });

  it("are signed over timestamp and raw body; a receiver refuses old timestamps, other bodies and keys", async () => {
    const secret = "whsec-test-1";
    const r = await receiver();
    const body = JSON.stringify(webhookPayload(run(), { id: "evt-3" }));
    await sendWebhook(`${r.url}/hook`, body, {
      timeoutMs: 2000,
      secret,
      eventType: "run.failed",
      eventId: "evt-3",
    });
    const req = r.requests[0];
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["x-slipway-event"]).toBe("run.failed");
    expect(req.headers["x-slipway-delivery"]).toBe("evt-3");
    expect(req.headers["x-slipway-signature-256"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    const ts = String(req.headers["x-slipway-timestamp"]);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    const check = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]>) =>
      verifyWebhookSignature({
        body: req.body,
        secret,
        signature: req.headers["x-slipway-signature-256"] as string,
        timestamp: ts,
        ...over,
      });
    expect(check({})).toEqual({ ok: true });
    expect(check({ body: req.text })).toEqual({ ok: true });
    // The same request replayed 10 minutes later.
    expect(check({ now: Date.now() + 600_000 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/replay/),
    });
    // An old request with a fresh timestamp: the signature covers the timestamp.
    expect(check({ timestamp: String(Number(ts) + 1) })).toEqual({
      ok: false,
      reason: "signature does not match",
    });
    expect(check({ body: req.text.replace("acme/api", "acme/apj") })).toEqual({
      ok: false,
      reason: "signature does not match",
    });
    expect(check({ secret: "other" })).toEqual({ ok: false, reason: "signature does not match" });
    expect(check({ signature: undefined })).toMatchObject({ ok: false });
    expect(check({ timestamp: "yesterday" })).toMatchObject({ ok: false });
    expect(signPayload("{}", secret, 1000)).toEqual(signPayload(Buffer.from("{}"), secret, 1000));
  });

  it("are sent unsigned without a secret; errors say what happened", async () => {
    const r = await receiver((req) =>
      req.n === 0
        ? { status: 200 }
        : req.n === 1
          ? { status: 410, body: "gone" }
          : { status: 429, headers: { "Retry-After": "7" } },
    );
    const opts = { timeoutMs: 2000, eventType: "run.completed", eventId: "e" };
    await sendWebhook(r.url, "{}", opts);
    expect(r.requests[0].headers["x-slipway-signature-256"]).toBeUndefined();
    const gone = await sendWebhook(r.url, "{}", opts).catch((e) => e);
    expect([gone.retryable, gone.message]).toEqual([false, "HTTP 410: gone"]);
    const busy = await sendWebhook(r.url, "{}", opts).catch((e) => e);
    expect([busy.retryable, busy.retryAfterMs, busy.message]).toEqual([true, 7000, "HTTP 429"]);
  });
});
