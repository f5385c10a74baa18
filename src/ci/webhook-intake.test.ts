// The webhook intake over a real store, with run creation faked: what is read, parsed, stored and
// started for genuine, forged, replayed and interrupted deliveries.
import { createHmac, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMasterKey, type MasterKey, sealWebhookSecret } from "../secrets/index.js";
import { openStore, type Repo, type Run, type Store } from "../store/index.js";
import { createTestDatabase, type TestDatabase } from "../store/testing.js";
import { WebhookError } from "../triggers/index.js";
import type { TriggerEvent } from "../workflow/index.js";
import { WebhookIntake, type WebhookRequest, webhookLimits } from "./webhook-intake.js";

const secret = "s3cret-for-tests";
const sign = (body: string, key = secret) => `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;

let tdb: TestDatabase;
let store: Store;
let key: MasterKey;

beforeAll(async () => {
  tdb = await createTestDatabase("sqlite");
  store = await openStore({ url: tdb.url, dataDir: tdb.dataDir });
  key = loadMasterKey({ dataDir: tdb.dataDir, env: {} });
  await store.repos.create({
    name: "acme/app",
    url: "https://git.example.com/acme/app.git",
    webhookSecret: sealWebhookSecret(key, "acme/app", secret),
  });
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

type Trigger = (repo: Repo, event: TriggerEvent, deliveryId: string) => Promise<Run[]>;

/** A trigger that records its calls and creates one real run per call (so runIdsOf finds it). */
function recordingTrigger(calls: string[]): Trigger {
  return async (r, event, deliveryId) => {
    calls.push(deliveryId);
    const run = await store.runs.create({
      repoId: r.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "CI",
      eventName: event.name,
      event: event.payload,
      sha: String(event.payload.after),
      ref: "refs/heads/main",
      trigger: "webhook",
      deliveryId,
    });
    return [run];
  };
}

function intake(trigger: Trigger): WebhookIntake {
  return new WebhookIntake({ store, masterKey: key, limits: webhookLimits(), trigger });
}

let pushes = 0;
function pushBody(): string {
  pushes++;
  return JSON.stringify({
    ref: "refs/heads/main",
    before: "0".repeat(40),
    after: pushes.toString(16).padStart(40, "a"),
    commits: [],
    repository: { full_name: "acme/app", clone_url: "https://git.example.com/acme/app.git" },
  });
}

/** A request whose body is read only when the intake asks; `reads` tells whether (and how) it did. */
function request(
  body: string,
  opts: { repoName?: string; signature?: string | null; deliveryId?: string } = {},
) {
  const reads: { keep: boolean | undefined }[] = [];
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": opts.deliveryId ?? randomUUID(),
  };
  if (opts.signature !== null) headers["x-hub-signature-256"] = opts.signature ?? sign(body);
  const req: WebhookRequest = {
    provider: "github",
    headers,
    repoName: "repoName" in opts ? opts.repoName : "acme/app",
    readBody: async (sink) => {
      reads.push({ keep: sink?.keep });
      const bytes = Buffer.from(body);
      // In three chunks, as a socket delivers them.
      for (const part of [bytes.subarray(0, 5), bytes.subarray(5, 40), bytes.subarray(40)])
        sink?.onChunk?.(part);
      return sink?.keep === false ? Buffer.alloc(0) : bytes;
    },
  };
  return { req, reads, deliveryId: headers["x-github-delivery"] };
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WebhookError);
  return { status: (err as WebhookError).status, message: (err as WebhookError).message };
}

describe("per-repository URL", () => {
  it("a genuine delivery starts its runs and is recorded processed with them", async () => {
    const calls: string[] = [];
    const { req, deliveryId } = request(pushBody());
    const res = await intake(recordingTrigger(calls)).handle(req);
    expect(res.status).toBe(202);
    expect(calls).toEqual([deliveryId]);
    expect(await store.deliveries.get("github", deliveryId)).toMatchObject({
      status: "processed",
      runIds: res.body.runs,
    });
  });

  it("a forged body is refused when it ends and never parsed or stored", async () => {
    const calls: string[] = [];
    // Not even JSON: had it been parsed, the answer would be 400, not 401.
    const { req, reads, deliveryId } = request("{not json", { signature: sign("{not json", "guess") });
    expect(await refusal(intake(recordingTrigger(calls)).handle(req))).toEqual({
      status: 401,
      message: "signature verification failed",
    });
    expect(reads).toHaveLength(1);
    expect(calls).toEqual([]);
    expect(await store.deliveries.get("github", deliveryId)).toBeNull();
  });

  it("an unsigned delivery is refused without reading its body", async () => {
    const { req, reads } = request(pushBody(), { signature: null });
    expect((await refusal(intake(recordingTrigger([])).handle(req))).status).toBe(401);
    expect(reads).toEqual([]);
  });

  it("an unknown repository is answered exactly as a bad signature, its body dropped as read", async () => {
    const unknown = request(pushBody(), { repoName: "acme/nope" });
    const forged = request(pushBody(), { signature: sign("x", "guess") });
    const a = await refusal(intake(recordingTrigger([])).handle(unknown.req));
    const b = await refusal(intake(recordingTrigger([])).handle(forged.req));
    expect(a).toEqual(b);
    expect(unknown.reads).toEqual([{ keep: false }]);
    const unsignedUnknown = request(pushBody(), { repoName: "acme/nope", signature: null });
    expect(await refusal(intake(recordingTrigger([])).handle(unsignedUnknown.req))).toEqual(a);
  });

  it("the same body replayed under a new delivery id starts one run", async () => {
    const calls: string[] = [];
    const body = pushBody();
    const first = await intake(recordingTrigger(calls)).handle(request(body).req);
    const replay = await intake(recordingTrigger(calls)).handle(request(body).req);
    expect(first.status).toBe(202);
    expect(replay).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(calls).toHaveLength(1);
  });

  it("racing redeliveries of one id start its runs once", async () => {
    const calls: string[] = [];
    const slow: Trigger = async (r, event, id) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return recordingTrigger(calls)(r, event, id);
    };
    const one = intake(slow);
    const body = pushBody();
    const deliveryId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => one.handle(request(body, { deliveryId }).req)),
    );
    expect(calls).toEqual([deliveryId]);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
  });

  it("a commit id that is not hex is refused before anything runs", async () => {
    const body = JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: "../../../etc",
      repository: { full_name: "acme/app" },
    });
    const calls: string[] = [];
    const r = await refusal(intake(recordingTrigger(calls)).handle(request(body).req));
    expect(r.status).toBe(422);
    expect(r.message).toContain('"../../../etc"');
    expect(calls).toEqual([]);
  });
});

describe("legacy URL", () => {
  it("an unknown repository and a bad signature get the same answer", async () => {
    const other = JSON.stringify({
      ref: "refs/heads/main",
      before: "0".repeat(40),
      after: "b".repeat(40),
      repository: { full_name: "someone/else", clone_url: "https://elsewhere.example/x.git" },
    });
    const unknown = await refusal(
      intake(recordingTrigger([])).handle(request(other, { repoName: undefined }).req),
    );
    const body = pushBody();
    const forged = await refusal(
      intake(recordingTrigger([])).handle(
        request(body, { repoName: undefined, signature: sign(body, "guess") }).req,
      ),
    );
    expect(unknown).toEqual(forged);
    expect(unknown.status).toBe(401);
  });

  it("still starts runs for a genuine delivery", async () => {
    const calls: string[] = [];
    const res = await intake(recordingTrigger(calls)).handle(
      request(pushBody(), { repoName: undefined }).req,
    );
    expect(res.status).toBe(202);
    expect(calls).toHaveLength(1);
  });
});

describe("a crash between recording a delivery and creating its runs", () => {
  it("leaves it pending; the next start creates its runs once", async () => {
    // The first process records the delivery, then "dies" while creating its runs: it never returns.
    const { req, deliveryId } = request(pushBody());
    const dying = intake(() => new Promise<Run[]>(() => {}));
    void dying.handle(req);
    await expect
      .poll(async () => (await store.deliveries.get("github", deliveryId))?.status, { timeout: 5000 })
      .toBe("pending");
    // The restarted server (a new intake over the same store) finishes it from what was stored.
    const calls: string[] = [];
    const restarted = intake(recordingTrigger(calls));
    expect(await restarted.resumePending()).toBeGreaterThanOrEqual(1);
    expect(calls).toEqual([deliveryId]);
    const done = await store.deliveries.get("github", deliveryId);
    expect(done).toMatchObject({ status: "processed" });
    expect(done?.runIds).toHaveLength(1);
    // Nothing is left pending, and a later redelivery is the duplicate it now is.
    expect((await store.deliveries.pending()).map((d) => d.deliveryId)).not.toContain(deliveryId);
    expect(await restarted.resumePending()).toBe(0);
  });

  it("a redelivery of a pending delivery is processed, not deduped", async () => {
    const body = pushBody();
    const first = request(body);
    void intake(() => new Promise<Run[]>(() => {})).handle(first.req);
    await expect
      .poll(async () => (await store.deliveries.get("github", first.deliveryId))?.status, { timeout: 5000 })
      .toBe("pending");
    const calls: string[] = [];
    const res = await intake(recordingTrigger(calls)).handle(
      request(body, { deliveryId: first.deliveryId }).req,
    );
    expect(res.status).toBe(202);
    expect(calls).toEqual([first.deliveryId]);
  });

  it("runs created just before the crash are taken as the delivery's runs, not created again", async () => {
    const { req, deliveryId } = request(pushBody());
    const calls: string[] = [];
    // Creates the run, then dies before the delivery is marked processed.
    const createThenDie: Trigger = async (r, event, id) => {
      await recordingTrigger(calls)(r, event, id);
      return new Promise<Run[]>(() => {});
    };
    void intake(createThenDie).handle(req);
    await expect.poll(() => calls.length, { timeout: 5000 }).toBe(1);
    const again: string[] = [];
    await intake(recordingTrigger(again)).resumePending();
    expect(again).toEqual([]);
    expect(await store.deliveries.get("github", deliveryId)).toMatchObject({ status: "processed" });
    expect((await store.deliveries.get("github", deliveryId))?.runIds).toHaveLength(1);
  });
});
