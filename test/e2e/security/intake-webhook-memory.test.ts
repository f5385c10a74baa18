// Finding 9: unauthenticated webhook bodies must not grow the server's memory without bound. Against a
// real `slipway serve`: eight concurrent 24 MB forged deliveries (per-repository URL and legacy URL)
// keep the server's RSS bounded and /healthz answering; when the in-flight budget is spent a delivery
// is refused with 503 + Retry-After before its body is read.
import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { addRepo, cleanupAfterAll, listRuns, makeRepo, pingPayload, sleep, test } from "../server/helpers.js";
import { rssOf, sampleRss, streamPost } from "./intake-helpers.js";

cleanupAfterAll();

const MB = 1024 * 1024;
const fullName = "acme/app";

/** A ping payload for the repository, padded to `size` bytes with a JSON string (valid JSON throughout). */
function paddedPing(repo: ReturnType<typeof makeRepo>, size: number): { head: string; size: number } {
  const p = pingPayload(repo, fullName);
  const json = JSON.stringify(p);
  // `{...,"padding":"xxxx…"}`: the head, then `size - head - 2` x's, then `"}` — streamed as x's.
  const head = `${json.slice(0, -1)},"padding":"`;
  return { head, size };
}

function hookHeaders(): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": "ping",
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
  };
}

describe("webhook memory is bounded", () => {
  test("eight concurrent 24 MB forged deliveries keep the server's memory bounded; /healthz answers", {
    timeout: 120_000,
  }, async ({ h }) => {
    const server = await h.startServer();
    const repo = makeRepo({ "README.md": "hi\n" });
    await addRepo(server, repo, fullName);
    // Warm up (first requests allocate lazily), then take the baseline.
    for (let i = 0; i < 3; i++) await fetch(`${server.url}/healthz`);
    await sleep(500);
    const baseline = rssOf(server.pid);
    const sampler = sampleRss(server.pid);
    const body = paddedPing(repo, 24 * MB);
    const urls = [`${server.url}/hooks/github/${fullName}`, `${server.url}/hooks/github`];
    const posts = urls.flatMap((url) =>
      Array.from({ length: 8 }, () => ({ url, ...streamPost(url, hookHeaders(), body.head, body.size) })),
    );
    // The server keeps answering while the bodies arrive.
    const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(200);
    const results = await Promise.all(posts.map(async (p) => ({ url: p.url, ...(await p.response) })));
    const peak = sampler.stop();

    // Before: +309 MB for eight such bodies (everything buffered and parsed). Now at most the
    // budget's 64 MiB of bodies plus their handling.
    process.stderr.write(`webhook memory: baseline ${baseline >> 20} MiB, peak ${peak >> 20} MiB\n`);
    expect(peak - baseline).toBeLessThan(150 * MB);
    const perRepo = results.filter((r) => r.url === urls[0]).map((r) => r.status);
    const legacy = results.filter((r) => r.url === urls[1]).map((r) => r.status);
    // Per-repository URL: each forged body is refused (401), or not taken at all while the budget
    // (64 MiB: two 24 MB bodies) is spent (503).
    expect(perRepo.every((s) => s === 401 || s === 503)).toBe(true);
    expect(perRepo.filter((s) => s === 503).length).toBeGreaterThan(0);
    // Legacy URL: over its 5 MiB cap, refused from the declared length.
    expect(legacy).toEqual(Array(8).fill(413));
    const retryAfter = results.find((r) => r.status === 503)?.headers["retry-after"];
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(await listRuns(server)).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  test("with the budget spent, a delivery gets 503 + Retry-After before its body is read, then is taken again", {
    timeout: 60_000,
  }, async ({ h }) => {
    const server = await h.startServer({ args: ["--webhook-max-inflight", String(30 * MB)] });
    const repo = makeRepo({ "README.md": "hi\n" });
    await addRepo(server, repo, fullName);
    const url = `${server.url}/hooks/github/${fullName}`;
    const body = paddedPing(repo, 24 * MB);
    // A slow sender holds 24 MB of the 30 MB budget.
    const slow = streamPost(url, hookHeaders(), body.head, body.size, { hold: 1 * MB });
    await sleep(500);
    const second = streamPost(url, hookHeaders(), body.head, body.size, {
      hold: body.size - body.head.length,
    });
    const refused = await second.response;
    expect(refused.status).toBe(503);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // Refused before its body: only what it wrote before the answer came, not its 24 MB.
    expect(second.sent()).toBeLessThan(24 * MB);
    second.release();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    slow.release();
    expect((await slow.response).status).toBe(401);
    // The budget is given back: the next delivery is read (and refused for its signature).
    const third = streamPost(url, hookHeaders(), body.head, 2 * MB);
    expect((await third.response).status).toBe(401);
  });
});
