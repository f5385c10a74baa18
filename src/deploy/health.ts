// Health: one probe of an instance (http, tcp, exec, or "is it running"), and readiness — probing until
// enough consecutive successes, a deadline, or the instance's exit, whichever comes first. An instance that
// exits while it is awaited fails at once, with its exit code and last output, rather than at the deadline.
import { sleep } from "../lib/async.js";
import { request } from "node:http";
import { connect } from "node:net";
import type { HealthSpec, InstanceInfo, ProbeResult, Runtime, ServiceSpec } from "./types.js";

/**
 * A health spec as probed: slipway.yaml's kinds, or "running" (the instance's process or container is up),
 * which is what a service without a port and without a health check gets.
 */
export type EffectiveHealth = Omit<HealthSpec, "type"> & { type: HealthSpec["type"] | "running" };

export type ReadyResult = { ok: boolean; detail: string; durationMs: number; probes: number };

/** Where a wait for readiness stands: how long so far, the limit, and the last probe's answer. */
export type WaitProgress = { elapsedMs: number; deadlineMs: number; last: ProbeResult };

/** How often a wait that has not ended says so (a wait shorter than this says nothing). */
export const waitProgressEveryMs = 5000;

/** `api-r2-1f2e3d: waiting for health, 12 s of 60 s (GET …: HTTP 503)`: what is awaited, how long, why. */
export function describeWait(what: string, p: WaitProgress): string {
  const s = (ms: number) => `${Math.floor(ms / 1000)} s`;
  return `${what}: waiting for health, ${s(p.elapsedMs)} of ${s(p.deadlineMs)}${p.last.ok ? "" : ` (${firstLineOf(p.last.detail)})`}`;
}

const firstLineOf = (s: string) => s.split("\n")[0];

const defaultTiming = {
  intervalMs: 500,
  timeoutMs: 2000,
  unhealthyThreshold: 3,
  startPeriodMs: 0,
  deadlineMs: 60_000,
};

/**
 * What an instance of a service without a health check is judged by: a tcp connect when it listens
 * (port or publish), else being up for a second (3 checks 500 ms apart), so an instant crash is caught.
 */
export function defaultHealth(service: ServiceSpec): EffectiveHealth {
  const listens = service.port !== undefined || service.publish !== undefined;
  return listens
    ? { type: "tcp", ...defaultTiming, healthyThreshold: 1 }
    : { type: "running", ...defaultTiming, healthyThreshold: 3 };
}

/** The spec to use for an instance: its own, or the default for what it is (an address: tcp). */
function effective(health: EffectiveHealth | undefined, instance: InstanceInfo): EffectiveHealth {
  if (health) return health;
  return instance.address
    ? { type: "tcp", ...defaultTiming, healthyThreshold: 1 }
    : { type: "running", ...defaultTiming, healthyThreshold: 3 };
}

const where = (a: { host: string; port: number }) =>
  (a.host.includes(":") ? `[${a.host}]` : a.host) + `:${a.port}`;

function probeHttp(
  address: { host: string; port: number },
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const url = `http://${where(address)}${path}`;
    const req = request(
      {
        host: address.host,
        port: address.port,
        path,
        method: "GET",
        agent: false,
        headers: { "user-agent": "slipway-health", connection: "close" },
        signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        clearTimeout(timer);
        resolve({ ok: status >= 200 && status < 400, detail: `GET ${url}: HTTP ${status}` });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ ok: false, detail: `GET ${url}: no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `GET ${url}: ${err.message}` });
    });
    req.end();
  });
}

function probeTcp(
  address: { host: string; port: number },
  timeoutMs: number,
  behindProxy: boolean,
  signal?: AbortSignal,
) {
  return new Promise<ProbeResult>((resolve) => {
    const socket = connect({ host: address.host, port: address.port, signal });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, detail: `tcp ${where(address)}: no connection within ${timeoutMs} ms` }),
      timeoutMs,
    );
    // A port proxy in front of a container (Docker's userland proxy) accepts the connection even when
    // nothing listens behind it, and then closes it at once. So there a connection only counts once it
    // has stayed open for a moment. (A process is reached directly: a connect is proof enough.)
    socket.once("connect", () => {
      if (!behindProxy) return done({ ok: true, detail: `tcp ${where(address)}: connected` });
      const settle = setTimeout(
        () => done({ ok: true, detail: `tcp ${where(address)}: connected` }),
        Math.min(tcpSettleMs, timeoutMs),
      );
      const closed = () => {
        clearTimeout(settle);
        done({
          ok: false,
          detail: `tcp ${where(address)}: connection closed at once (nothing listening behind the port?)`,
        });
      };
      socket.once("end", closed);
      socket.once("close", closed);
    });
    socket.once("error", (err) => done({ ok: false, detail: `tcp ${where(address)}: ${err.message}` }));
  });
}

/** How long a tcp probe's connection must stay open to count. */
const tcpSettleMs = 150;

function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** One probe. Never throws for a failing instance: the failure is the result's detail. */
export async function probeInstance(
  health: EffectiveHealth | undefined,
  instance: InstanceInfo,
  runtime: Runtime,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const h = effective(health, instance);
  try {
    if (h.type === "running") {
      const now = await runtime.inspect(instance.id);
      if (!now) return { ok: false, detail: `instance ${instance.id} is gone` };
      return now.running
        ? { ok: true, detail: "running" }
        : { ok: false, detail: `exited with code ${now.exitCode ?? "unknown"}` };
    }
    if (h.type === "exec") {
      if (!h.command?.length) return { ok: false, detail: "exec health check without a command" };
      const r = await runtime.exec(instance.id, h.command, { timeoutMs: h.timeoutMs, signal });
      const out = lastLines(r.output, 5);
      const status = r.timedOut ? `timed out after ${h.timeoutMs} ms` : `exit code ${r.exitCode}`;
      return { ok: r.exitCode === 0 && !r.timedOut, detail: out ? `${status}: ${out}` : status };
    }
    if (!instance.address)
      return { ok: false, detail: `${h.type} health check, but the instance has no port` };
    return h.type === "http"
      ? await probeHttp(instance.address, h.path ?? "/", h.timeoutMs, signal)
      : await probeTcp(instance.address, h.timeoutMs, instance.runtime === "docker", signal);
  } catch (err) {
    signal?.throwIfAborted();
    return { ok: false, detail: (err as Error).message };
  }
}

/**
 * Probes every intervalMs until healthyThreshold consecutive successes (ready), the deadline (not ready,
 * with the last failure), or the instance's exit (not ready at once, with its exit code and last ~20 lines
 * of output). Failures within startPeriodMs do not break a run of successes. An abort rejects with the
 * signal's reason.
 */
export async function waitReady(
  health: EffectiveHealth | undefined,
  instance: InstanceInfo,
  runtime: Runtime,
  options: {
    signal?: AbortSignal;
    onProbe?: (r: ProbeResult) => void;
    /** Called every progressEveryMs (default waitProgressEveryMs) while not yet ready. */
    onWaiting?: (p: WaitProgress) => void;
    progressEveryMs?: number;
  } = {},
): Promise<ReadyResult> {
  const { signal } = options;
  const h = effective(health, instance);
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const every = options.progressEveryMs ?? waitProgressEveryMs;
  let reported = 0;
  let probes = 0;
  let streak = 0;
  let lastFailure: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const probeStarted = Date.now();
    const result = await probeInstance(h, instance, runtime, signal);
    signal?.throwIfAborted();
    probes++;
    options.onProbe?.(result);
    if (result.ok) {
      streak++;
      if (streak >= h.healthyThreshold)
        return { ok: true, detail: result.detail, durationMs: elapsed(), probes };
    } else {
      lastFailure = result.detail;
      if (elapsed() >= h.startPeriodMs) streak = 0;
      const now = await runtime.inspect(instance.id).catch(() => undefined);
      if (!now?.running) {
        const code = now ? `exited with code ${now.exitCode ?? "unknown"}` : "is gone";
        const logs = await runtime.logs(instance.id, { tail: 20 }).catch(() => "");
        const tail = logs.trim() ? `\n--- last output ---\n${logs.trimEnd()}` : "";
        return {
          ok: false,
          detail: `instance ${instance.id} ${code} before it was ready (${result.detail})${tail}`,
          durationMs: elapsed(),
          probes,
        };
      }
    }
    const left = h.deadlineMs - elapsed();
    if (left > 0 && options.onWaiting && elapsed() - reported >= every) {
      reported = elapsed();
      options.onWaiting({ elapsedMs: reported, deadlineMs: h.deadlineMs, last: result });
    }
    if (left <= 0) {
      const why = lastFailure ?? result.detail;
      const need = h.healthyThreshold > 1 ? ` (${h.healthyThreshold} successes in a row needed)` : "";
      return {
        ok: false,
        detail: `not ready after ${h.deadlineMs} ms${need}: ${why}`,
        durationMs: elapsed(),
        probes,
      };
    }
    await sleep(Math.min(left, Math.max(0, h.intervalMs - (Date.now() - probeStarted))), signal);
  }
}
