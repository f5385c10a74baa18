// Delivery through the store's queue on SQLite and PostgreSQL, against real local receivers: retries
// with growing delays, timeouts, closed connections, permanent failures, order per channel, a caller
// never held up by a slow receiver, and pending deliveries resumed after the store is reopened.
import { afterEach, describe, expect, it } from "vitest";
import { type NotifyConfig, parseConfig } from "../config/index.js";
import { createSecretStore, loadMasterKey, type SecretValue } from "../secrets/index.js";
import type { Store } from "../store/index.js";
import { testBackends, useStore } from "../../test/support/store.js";
import {
  Notifier,
  type NotifierOptions,
  type RunEvent,
  validateBlockKit,
  verifyWebhookSignature,
} from "./index.js";
import { type ReceivedRequest, type Receiver, type Reply, startReceiver } from "./testing.js";

const backends = await testBackends();

function event(n: number, overrides: Partial<RunEvent> = {}): RunEvent {
  return {
    kind: "run",
    id: `evt-${n}`,
    repository: "acme/api",
    workflow: "CI",
    runNumber: n,
    branch: "main",
    sha: "0123456789abcdef",
    jobs: [{ name: "build", status: "failure", durationMs: 1000 }],
    conclusion: "failure",
    ...overrides,
  };
}

function config(channels: Record<string, unknown>, on = "[run.failed, run.completed]"): NotifyConfig {
  const names = Object.keys(channels);
  const yaml = `notify:\n  channels: ${JSON.stringify(channels)}\n  rules:\n    - { on: ${on}, channels: ${JSON.stringify(names)} }\n`;
  const cfg = parseConfig(yaml, "slipway.yaml").config.notify;
  if (!cfg) throw new Error("no notify section");
  return cfg;
}

describe.each(backends)("notification delivery on %s", (backend) => {
  const ctx = useStore(backend);
  const receivers: Receiver[] = [];
  const notifiers: Notifier[] = [];
  const logs: string[] = [];

  afterEach(async () => {
    for (const n of notifiers.splice(0)) await n.stop();
    for (const r of receivers.splice(0)) await r.close();
  });

  async function receiver(reply?: (req: ReceivedRequest) => Reply | Promise<Reply>): Promise<Receiver> {
    const r = await startReceiver(reply);
    receivers.push(r);
    return r;
  }
  const secrets: Record<string, string> = { HOOK_SECRET: "s3cr3t-hmac-key" };
  function notifier(opts: Partial<NotifierOptions> = {}, on: Store = ctx.store): Notifier {
    const n = new Notifier({
      store: on,
      secret: async (name) => secrets[name],
      baseDelayMs: 100,
      timeoutMs: 1000,
      log: (l) => logs.push(l),
      ...opts,
    });
    notifiers.push(n);
    return n;
  }

  it("retries a receiver answering 500 twice, with growing delays, and delivers on the third attempt", async () => {
    const r = await receiver((req) => (req.n < 2 ? { status: 500, body: "boom" } : { status: 200 }));
    const n = notifier();
    const [d] = await n.send(
      event(1),
      config({ hook: { webhook: { url: `${r.url}/hook`, secret_name: "HOOK_SECRET" } } }),
    );
    await n.idle();
    expect(r.requests).toHaveLength(3);
    const gap1 = r.requests[1].at - r.requests[0].at;
    const gap2 = r.requests[2].at - r.requests[1].at;
    expect(gap1).toBeGreaterThanOrEqual(75); // 100 ms ± 20 %
    expect(gap2).toBeGreaterThanOrEqual(155); // 200 ms ± 20 %
    expect(gap2).toBeGreaterThan(gap1);
    // The same body each time, freshly signed each time.
    expect(new Set(r.requests.map((q) => q.text)).size).toBe(1);
    for (const q of r.requests) {
      expect(
        verifyWebhookSignature({
          body: q.body,
          secret: "s3cr3t-hmac-key",
          signature: q.headers["x-slipway-signature-256"] as string,
          timestamp: q.headers["x-slipway-timestamp"] as string,
        }),
      ).toEqual({ ok: true });
    }
    const row = await ctx.store.notifications.get(d.id);
    expect(row).toMatchObject({
      status: "delivered",
      attempts: 3,
      lastError: null,
      channel: "hook",
      eventType: "run.failed",
    });
    expect(row?.deliveredAt).toBeGreaterThan(0);
  });

  it("times out a receiver that never answers, retries, then marks the delivery failed with the error", async () => {
    const r = await receiver(() => ({ hang: true }));
    const n = notifier({ timeoutMs: 200, maxAttempts: 3, baseDelayMs: 50 });
    const [d] = await n.send(event(2), config({ slow: { webhook: { url: r.url } } }));
    await n.idle();
    expect(r.requests).toHaveLength(3);
    expect(await ctx.store.notifications.get(d.id)).toMatchObject({
      status: "failed",
      attempts: 3,
      lastError: "timed out after 200 ms",
    });
    expect(
      logs.some((l) => l.includes(`delivery ${d.id} (run.failed) to slow failed after 3 attempts`)),
    ).toBe(true);
  });

  it("retries a Slack receiver that closes the connection, and fails a 4xx at once", async () => {
    const r = await receiver((req) => (req.n < 2 ? { destroy: true } : { status: 200, body: "ok" }));
    const n = notifier();
    const [d] = await n.send(
      event(3),
      config({ team: { slack: { webhook_url: `${r.url}/services/T/B/x` } } }),
    );
    await n.idle();
    expect(r.requests).toHaveLength(3);
    expect(await ctx.store.notifications.get(d.id)).toMatchObject({ status: "delivered", attempts: 3 });
    expect(validateBlockKit(JSON.parse(r.requests[2].text))).toEqual([]);

    const gone = await receiver(() => ({ status: 404, body: "no_service" }));
    const [g] = await n.send(
      event(4),
      config({ team: { slack: { webhook_url: `${gone.url}/services/T/B/y` } } }),
    );
    await n.idle();
    expect(gone.requests).toHaveLength(1);
    expect(await ctx.store.notifications.get(g.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "Slack answered HTTP 404: no_service",
    });
  });

  it("keeps the order of 20 events per channel through failures and retries", async () => {
    // Every event's first attempt fails: with head-of-line retries the order still holds.
    const seen = new Set<string>();
    const r = await receiver(() => ({ status: 200 }));
    const flaky = await receiver((req) => {
      const id = JSON.parse(req.text).id as string;
      if (seen.has(id)) return { status: 200 };
      seen.add(id);
      return req.n % 2 === 0 ? { status: 503 } : { destroy: true };
    });
    const n = notifier({ baseDelayMs: 10, jitter: 0.5 });
    const cfg = config({ steady: { webhook: { url: r.url } }, flaky: { webhook: { url: flaky.url } } });
    const sends = Array.from({ length: 20 }, (_, i) => n.send(event(100 + i), cfg));
    await Promise.all(sends);
    await n.idle();
    const numbers = (rec: Receiver) => rec.requests.map((q) => JSON.parse(q.text).run.number as number);
    const expected = Array.from({ length: 20 }, (_, i) => 100 + i);
    expect(numbers(r)).toEqual(expected);
    // Each event failed once and was retried before the next one was tried at all.
    expect(numbers(flaky)).toEqual(expected.flatMap((x) => [x, x]));
    const rows = await ctx.store.notifications.list({ channel: "flaky", limit: 20 });
    expect(rows.every((row) => row.status === "delivered" && row.attempts === 2)).toBe(true);
  });

  it("returns to the caller at once while a receiver is slow", async () => {
    const r = await receiver(() => ({ status: 200, delayMs: 400 }));
    const n = notifier({ timeoutMs: 5000 });
    const cfg = config({ slowpoke: { webhook: { url: r.url } } });
    const started = performance.now();
    for (let i = 0; i < 5; i++) await n.send(event(200 + i), cfg);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(300);
    const rows = await ctx.store.notifications.list({ channel: "slowpoke" });
    expect(rows.filter((row) => row.status === "pending")).toHaveLength(5);
    // One at a time, in order: five 400 ms answers take about two seconds.
    await n.idle();
    expect(performance.now() - started).toBeGreaterThanOrEqual(1900);
    expect(r.requests.map((q) => JSON.parse(q.text).run.number)).toEqual([200, 201, 202, 203, 204]);
    const done = await ctx.store.notifications.list({ channel: "slowpoke" });
    expect(done.every((row) => row.status === "delivered")).toBe(true);
  });

  it("persists the delivery log and resumes pending deliveries after the store is reopened", async () => {
    const down = await receiver(() => ({ status: 502 }));
    const first = await ctx.open();
    const before = notifier({ baseDelayMs: 60_000 }, first);
    const cfg = config({ resume: { webhook: { url: down.url } } });
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(...(await before.send(event(300 + i), cfg)));
    await down.waitFor(1);
    await before.stop();
    await first.close();

    // The receiver comes back at the same place: the stored channel definition is what is used.
    const upAgain = await receiver(() => ({ status: 200 }));
    const reopened = await ctx.open();
    try {
      const pending = await reopened.notifications.list({ channel: "resume" });
      expect(pending.map((p) => [p.status, p.attempts])).toEqual([
        ["pending", 0],
        ["pending", 0],
        ["pending", 1],
      ]);
      expect(pending[2].lastError).toBe("HTTP 502");
      await reopened.db
        .updateTable("notification_deliveries")
        .set({ target_json: JSON.stringify({ webhook: { url: upAgain.url } }), next_attempt_at: 0 })
        .where("channel", "=", "resume")
        .execute();
      const after = notifier({}, reopened);
      await after.start();
      await after.idle();
      expect(upAgain.requests.map((q) => JSON.parse(q.text).id)).toEqual(["evt-300", "evt-301", "evt-302"]);
      const rows = await reopened.notifications.list({ channel: "resume" });
      expect(rows.map((row) => [row.id, row.status])).toEqual(sent.map((s) => [s.id, "delivered"]).reverse());
      await after.stop();
    } finally {
      await reopened.close();
    }
  });

  it("two notifiers on one database (two processes' handles) deliver each delivery id exactly once", async () => {
    // A slow receiver keeps rows in flight while the other notifier resumes the same pending queue, as
    // a deploy agent on the server's data directory did.
    const r = await receiver(() => ({ status: 200, delayMs: 40 }));
    const mine = await ctx.open();
    const other = await ctx.open();
    try {
      const a = notifier({}, mine);
      const b = notifier({}, other);
      const cfg = config({ shared: { webhook: { url: r.url } } });
      const sent = [];
      for (let i = 0; i < 8; i++) {
        sent.push(...(await a.send(event(500 + i), cfg)));
        // Each also resumes what is pending, as a starting server or agent does.
        await b.start();
        await a.start();
      }
      for (let i = 0; i < 4; i++) sent.push(...(await b.send(event(600 + i), cfg)));
      await Promise.all([a.idle(), b.idle()]);
      const ids = r.requests.map((q) => JSON.parse(q.text).id as string);
      expect(ids.length).toBe(12);
      expect(new Set(ids).size).toBe(12);
      // The order per channel holds across the two notifiers.
      expect(ids).toEqual(sent.map((d) => d.eventId));
      const rows = await mine.notifications.list({ channel: "shared" });
      expect(rows.every((row) => row.status === "delivered" && row.claimedBy === null)).toBe(true);
    } finally {
      await mine.close();
      await other.close();
    }
  });

  it("sends channels' secrets from the secret store and fails clearly when one is missing", async () => {
    const r = await receiver();
    const secretStore = createSecretStore(ctx.store, loadMasterKey({ dataDir: ctx.database.dataDir }));
    await secretStore.set({
      name: "TEAM_SLACK_URL",
      value: `${r.url}/services/T/B/from-secret`,
      scope: { repo: "acme/api" },
      actor: "t",
    });
    await secretStore.set({
      name: "SIGNING_KEY",
      value: "repo-signing-key",
      scope: { repo: "acme/api" },
      actor: "t",
    });
    const lookups: [string, string | null][] = [];
    const n = notifier({
      secret: (name, repo): Promise<SecretValue | undefined> => {
        lookups.push([name, repo]);
        return secretStore.lookup(name, { repo });
      },
    });
    const cfg = config({
      team: { slack: { webhook_url_secret: "TEAM_SLACK_URL" } },
      signed: { webhook: { url: `${r.url}/signed`, secret_name: "SIGNING_KEY" } },
      unset: { webhook: { url: `${r.url}/unset`, secret_name: "NOT_SET" } },
    });
    const sent = await n.send(event(400), cfg, { scope: "acme/api" });
    await n.idle();
    expect(r.requests.map((q) => q.path).sort()).toEqual(["/services/T/B/from-secret", "/signed"]);
    const signed = r.requests.find((q) => q.path === "/signed");
    expect(
      verifyWebhookSignature({
        body: signed?.body ?? "",
        secret: "repo-signing-key",
        signature: signed?.headers["x-slipway-signature-256"] as string,
        timestamp: signed?.headers["x-slipway-timestamp"] as string,
      }),
    ).toEqual({ ok: true });
    expect(lookups).toContainEqual(["TEAM_SLACK_URL", "acme/api"]);
    const unset = await ctx.store.notifications.get(sent[2].id);
    expect(unset).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "secret NOT_SET is not set (slipway secret set NOT_SET --repo acme/api)",
    });
    // The stored channel definition names secrets; no secret value is stored.
    const dump = JSON.stringify(await ctx.store.notifications.list({ limit: 1000 }));
    expect(dump).not.toContain("from-secret");
    expect(dump).not.toContain("repo-signing-key");
  });

  it("sends nothing when no rule matches, and `test` delivers once and logs the outcome", async () => {
    const r = await receiver((req) => (req.n === 0 ? { status: 200 } : { status: 500, body: "down" }));
    const n = notifier();
    const cfg = config({ probe: { webhook: { url: r.url } } }, "[deploy.failed]");
    expect(await n.send(event(500), cfg)).toEqual([]);
    expect(await n.send(event(501), undefined)).toEqual([]);

    const ok = await n.test("probe", cfg);
    expect(ok).toMatchObject({ status: "delivered", attempts: 1, eventType: "test", channel: "probe" });
    const body = JSON.parse(r.requests[0].text);
    expect(body).toMatchObject({ test: true, type: "run.completed" });
    expect(r.requests[0].headers["x-slipway-event"]).toBe("test");

    const failed = await n.test("probe", cfg);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, lastError: "HTTP 500: down" });
    expect(r.requests).toHaveLength(2);
    await expect(n.test("nope", cfg)).rejects.toThrow(
      /no channel 'nope' in notify.channels \(channels: probe\)/,
    );
    // Test rows are not queued: a running notifier never picks them up again.
    await n.start();
    await n.idle();
    expect(r.requests).toHaveLength(2);
  });

  it("backs off exponentially with jitter, capped, honouring Retry-After", () => {
    const fixed = notifier({ baseDelayMs: 1000, maxDelayMs: 30_000, jitter: 0.2, random: () => 0.5 });
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => fixed.backoffMs(a))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
    expect(fixed.backoffMs(1, 7000)).toBe(7000);
    const low = notifier({ baseDelayMs: 1000, jitter: 0.2, random: () => 0 });
    const high = notifier({ baseDelayMs: 1000, jitter: 0.2, random: () => 0.999999 });
    expect(low.backoffMs(3)).toBe(3200);
    expect(high.backoffMs(3)).toBe(4800);
  });
});
