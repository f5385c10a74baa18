// A run's event stream on a real store: a client that cannot keep up gets one `resync` instead of a
// queue that grows without bound, and the stream still ends with the run; streams past the cap get 503.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CiService } from "../ci/index.js";
import { openStore, type Store } from "../store/index.js";
import { createApp } from "./app.js";
import { createMetrics } from "./metrics.js";

describe("run event streams", () => {
  let dir: string;
  let store: Store;
  let ci: CiService;
  let app: ReturnType<typeof createApp>;
  let token: string;
  let runId: number;

  /** A run that is running, so its stream stays open. */
  async function runningRun(): Promise<number> {
    const repo = (await store.repos.getByName("acme/app"))!;
    const run = await store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: {},
      sha: "abc123",
      ref: "refs/heads/main",
      trigger: "webhook",
    });
    await store.runs.update(run.id, { status: "running" });
    return run.id;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-events-"));
    store = await openStore({ dataDir: dir });
    ci = new CiService({ store, dataDir: dir });
    app = createApp({
      ci,
      metrics: createMetrics(ci),
      isReady: () => true,
      maxEventStreams: 2,
      log: () => {},
    });
    token = (await store.tokens.create("admin", "admin")).token;
    await store.repos.create({ name: "acme/app", url: "https://example.com/x.git" });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (signal?: AbortSignal) =>
    app.request(`/api/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${token}` }, signal });

  async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, what: RegExp): Promise<string> {
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (value) text += decoder.decode(value, { stream: true });
      if (what.test(text) || done) return text;
    }
  }

  it("drops to one resync event for a client that does not keep up, and ends with the run", async () => {
    runId = await runningRun();
    const res = await open();
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect(await readUntil(reader, /event: run/)).toContain('"status":"running"');
    // 5000 events at once: far more than a stream holds for its client.
    for (let seq = 1; seq <= 5000; seq++)
      ci.emit({ type: "log", runId, jobRowId: 1, seq, content: `line ${seq}\n` });
    const resynced = await readUntil(reader, /event: resync/);
    expect(resynced).toContain("event: resync");
    expect(resynced.match(/event: log/g) ?? []).toHaveLength(0);
    // Events after the resync flow again.
    ci.emit({ type: "log", runId, jobRowId: 1, seq: 5001, content: "after the resync\n" });
    expect(await readUntil(reader, /after the resync/)).toContain("event: log");
    // As the service does: the run's end is stored, then announced.
    await store.runs.update(runId, { status: "completed", conclusion: "success" });
    ci.emit({ type: "run", runId, status: "completed", conclusion: "success" });
    const rest = await readUntil(reader, /"status":"completed"/);
    expect(rest).toContain('"conclusion":"success"');
    expect((await reader.read()).done).toBe(true);
  });

  it("answers 503 past the cap and gives the place back when a stream closes", async () => {
    runId = await runningRun();
    const a = new AbortController();
    const b = new AbortController();
    const first = await open(a.signal);
    const second = await open(b.signal);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open();
    expect(third.status).toBe(503);
    expect(((await third.json()) as { error: string }).error).toMatch(/too many event streams open \(2\)/);
    await first.body!.cancel();
    a.abort();
    let again = 0;
    for (let i = 0; i < 50 && again !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await open(b.signal);
      again = r.status;
      if (r.status === 200) await r.body!.cancel();
    }
    expect(again).toBe(200);
    b.abort();
  });
});
