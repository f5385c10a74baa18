// The server's background work: its own runner, the lease reaper, polling and the cron scheduler.
import { cpus } from "node:os";
import { join } from "node:path";
import { sleep } from "../lib/async.js";
import { withLedger } from "../lib/process-ledger.js";
import { cachedRepo, runClaimedLeg, type UntrustedPolicy, untrustedPolicy } from "../runner/index.js";
import { RunnerApi } from "./runner-api.js";
import type { CiEvent, CiService } from "./service.js";

export type BackgroundOptions = {
  /** Legs the server's own runner runs at once; 0 disables it. */
  localConcurrency?: number;
  /** Labels of the server's own runner; undefined = any. */
  localLabels?: string[];
  /** What the server's own runner does with forks' legs; default from the environment (SLIPWAY_UNTRUSTED*). */
  untrusted?: UntrustedPolicy;
  pollEveryMs?: number;
  scheduleEveryMs?: number;
  /** How often expired artifacts are deleted (default every 10 minutes). */
  artifactSweepEveryMs?: number;
  /** Stops claiming; running legs go on. */
  signal: AbortSignal;
  /** Aborts running legs (graceful-shutdown timeout). */
  abortLegs: AbortSignal;
};

/** The loops stop by checking the signal: a wait it cuts short just ends. */
const untilStopped = { resolveOnAbort: true } as const;

/** Runs until `signal` aborts; resolves when the running legs have finished. */
export async function runBackground(ci: CiService, opts: BackgroundOptions): Promise<void> {
  const api = new RunnerApi(ci);
  const loops: Promise<void>[] = [];
  const concurrency = opts.localConcurrency ?? cpus().length;
  if (concurrency > 0) loops.push(localRunner(ci, api, concurrency, opts));
  loops.push(
    (async () => {
      while (!opts.signal.aborted) {
        await ci.reapLeases().catch(() => {});
        await sleep(Math.max(200, Math.floor(ci.leaseMs / 3)), opts.signal, untilStopped);
      }
    })(),
  );
  loops.push(
    (async () => {
      // Expired artifacts, and what uploads that died left behind.
      while (!opts.signal.aborted) {
        await ci.artifacts.sweep().catch((err) => ci.log(`artifact sweep: ${(err as Error).message}`));
        await sleep(opts.artifactSweepEveryMs ?? 10 * 60_000, opts.signal, untilStopped);
      }
    })(),
  );
  loops.push(
    (async () => {
      while (!opts.signal.aborted) {
        await ci.pollRepos().catch(() => {});
        await sleep(opts.pollEveryMs ?? 5000, opts.signal, untilStopped);
      }
    })(),
  );
  loops.push(
    (async () => {
      let last = new Date();
      while (!opts.signal.aborted) {
        await sleep(opts.scheduleEveryMs ?? 30_000, opts.signal, untilStopped);
        const now = new Date();
        await ci.runSchedules(last, now).catch(() => {});
        last = now;
      }
    })(),
  );
  await Promise.all(loops);
}

async function localRunner(
  ci: CiService,
  api: RunnerApi,
  concurrency: number,
  opts: BackgroundOptions,
): Promise<void> {
  // The server's own runner declares what it does with forks' legs the way a remote runner does.
  const untrusted = opts.untrusted ?? untrustedPolicy({});
  const transport = api.transport(
    ci.localRunnerId,
    async () => opts.localLabels ?? (await api.queuedLabels()),
    untrusted.accepts,
  );
  const running = new Set<Promise<unknown>>();
  let wake: (() => void) | undefined;
  // Counts jobs queued, so one queued while a claim was under way (before `wake` was set) is not
  // left waiting for the next poll.
  let queued = 0;
  const onQueued = () => {
    queued++;
    wake?.();
  };
  ci.events.on("queued", onQueued);
  try {
    while (!opts.signal.aborted) {
      if (running.size >= concurrency) {
        await Promise.race([...running, sleep(1000, opts.signal, untilStopped)]);
        continue;
      }
      const queuedBefore = queued;
      const claimed = await transport.claim(opts.signal).catch(() => null);
      if (!claimed) {
        if (queued !== queuedBefore) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(500, opts.signal, untilStopped).then(resolve);
        });
        wake = undefined;
        continue;
      }
      // Step processes and leg directories go into the server's ledger (found again after a kill -9).
      const p = withLedger(ci.processLedger, () =>
        runClaimedLeg(transport, claimed, {
          dataDir: join(ci.dataDir, "runner"),
          concurrency,
          untrusted,
          signal: opts.signal,
          abortLegs: opts.abortLegs,
          heartbeatMs: Math.max(100, Math.floor(ci.leaseMs / 3)),
          watchCancel: (jobRowId, cancel) => {
            const onEvent = (e: CiEvent) => {
              if (e.type === "job" && String(e.jobRowId) === jobRowId && e.status === "cancelled") cancel();
            };
            ci.events.on("event", onEvent);
            return () => ci.events.off("event", onEvent);
          },
          resolveRepo: async (url, sha) =>
            claimed.spec.serverMirror ?? (await cachedRepo(join(ci.dataDir, "runner"), url, sha)),
        }),
      )
        .catch(() => {})
        .finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.allSettled(running);
  } finally {
    ci.events.off("queued", onQueued);
  }
}
