// The load of `slipway demo`: a probe that sends steady keep-alive requests to the published URLs during
// the v2 rollout and counts the answers by version (any failure is one the blue-green switch dropped),
// and the one-off version check of what web serves after each deploy.
import http from "node:http";
import { sleep } from "../lib/async.js";

export type ProbeCounts = {
  requests: number;
  failed: number;
  versions: Record<string, number>;
  errors: string[];
};
export type ProbeReport = ProbeCounts & {
  durationMs: number;
  targets: Record<string, ProbeCounts & { url: string }>;
};

/**
 * Sends GET requests to each target at a steady rate over keep-alive connections until stop(); any
 * answer but a 200, and any connection error or timeout, counts as failed. The version of each answer
 * is its x-app-version header.
 */
export function startProbe(
  targets: Record<string, string>,
  options: { intervalMs?: number; concurrency?: number } = {},
) {
  const intervalMs = options.intervalMs ?? 20;
  const concurrency = options.concurrency ?? 2;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * Object.keys(targets).length });
  const started = Date.now();
  const counts: Record<string, ProbeCounts & { url: string }> = {};
  let running = true;
  const one = (name: string, url: string) =>
    new Promise<void>((done) => {
      const c = counts[name];
      const fail = (why: string) => {
        c.failed++;
        if (c.errors.length < 5) c.errors.push(`${name}: ${why}`);
        done();
      };
      c.requests++;
      const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (body.length < 200) body += d;
        });
        res.on("error", (e) => fail(e.message));
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(`${res.statusCode} ${body.trim().slice(0, 120)}`);
          const v = String(res.headers["x-app-version"] ?? "?");
          c.versions[v] = (c.versions[v] ?? 0) + 1;
          done();
        });
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
      req.on("error", (e) => fail(e.message));
    });
  const loops = Object.entries(targets).flatMap(([name, url]) => {
    counts[name] = { url, requests: 0, failed: 0, versions: {}, errors: [] };
    return Array.from({ length: concurrency }, async () => {
      while (running) {
        const t0 = Date.now();
        await one(name, url);
        await sleep(Math.max(1, intervalMs - (Date.now() - t0)));
      }
    });
  });
  return {
    async stop(): Promise<ProbeReport> {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      const all = Object.values(counts);
      const versions: Record<string, number> = {};
      for (const c of all)
        for (const [v, n] of Object.entries(c.versions)) versions[v] = (versions[v] ?? 0) + n;
      return {
        durationMs: Date.now() - started,
        requests: all.reduce((n, c) => n + c.requests, 0),
        failed: all.reduce((n, c) => n + c.failed, 0),
        versions,
        errors: all.flatMap((c) => c.errors),
        targets: counts,
      };
    },
  };
}

/** The x-app-version of a GET, or null when it does not answer 200. */
export async function fetchVersion(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok ? res.headers.get("x-app-version") : null;
  } catch {
    return null;
  }
}
