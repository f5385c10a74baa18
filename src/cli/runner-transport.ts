// The runner protocol over a server's HTTP API (claim, heartbeat, logs, steps, artifacts, complete): what
// `slipway runner` hands to the runner domain's agent loop to take jobs from a server.
import { Readable } from "node:stream";
import { OperationError } from "../lib/errors.js";
import type { JobResult, RunnerTransport, ServerArtifact, StepReport } from "../runner/index.js";
import type { ApiClient, ApiFailure } from "./client.js";

const artifactTransferMs = 60 * 60_000;

/**
 * The runner protocol over the server's HTTP API. `onRefused` is called when the server answers 401:
 * the runner was removed or disabled, and must stop rather than retry.
 */
export function httpTransport(
  api: ApiClient,
  labels: string[],
  untrusted: boolean,
  onRefused?: () => void,
): RunnerTransport {
  const refusedIf401 = (err: unknown): never => {
    if ((err as ApiFailure).status === 401) onRefused?.();
    throw err;
  };
  const waitMs = 20_000;
  return {
    async claim() {
      const r = await api
        .request<{ jobRowId?: string; spec?: unknown }>(
          "POST",
          "/api/v1/runner/claim",
          // Says whether this runner takes forks' legs: the server offers them only then.
          { labels, waitMs, ...(untrusted ? { untrusted } : {}) },
          { extraMs: waitMs },
        )
        .catch(refusedIf401);
      return r.jobRowId ? (r as { jobRowId: string; spec: never }) : null;
    },
    async heartbeat(id) {
      try {
        return (await api.request<{ ok: boolean }>("POST", `/api/v1/runner/jobs/${id}/heartbeat`, {})).ok;
      } catch (err) {
        // Refused: the leg is no longer this runner's; stop it like a lost lease.
        if ((err as ApiFailure).status === 401) {
          onRefused?.();
          return false;
        }
        throw err;
      }
    },
    async appendLog(id, seq, content) {
      await api.request("POST", `/api/v1/runner/jobs/${id}/logs`, { seq, content });
    },
    async step(id, step: StepReport) {
      await api.request("POST", `/api/v1/runner/jobs/${id}/steps`, step);
    },
    artifacts(id) {
      const base = `/api/v1/runner/jobs/${id}/artifacts`;
      return {
        async list(runId) {
          const q = runId === undefined ? "" : `?${new URLSearchParams({ run: runId })}`;
          return (await api.request<{ artifacts: ServerArtifact[] }>("GET", `${base}${q}`)).artifacts;
        },
        async upload(a, tar) {
          const q = new URLSearchParams({ name: a.name, overwrite: String(a.overwrite) });
          if (a.retentionDays !== undefined) q.set("retentionDays", String(a.retentionDays));
          // The answer comes once every byte is in: the deadline is for the whole transfer.
          const res = await api.stream("POST", `${base}?${q}`, tar, {
            contentType: "application/x-tar",
            timeoutMs: artifactTransferMs,
          });
          return ((await res.json()) as { artifact: ServerArtifact }).artifact;
        },
        async download(name, runId) {
          const q = runId === undefined ? "" : `?${new URLSearchParams({ run: runId })}`;
          const res = await api.stream("GET", `${base}/${encodeURIComponent(name)}${q}`);
          if (!res.body) throw new OperationError(`the server sent no content for artifact ${name}`);
          return Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
        },
      };
    },
    async complete(id, result: JobResult) {
      try {
        await api.request("POST", `/api/v1/runner/jobs/${id}/complete`, result);
      } catch (err) {
        // 400: the server could not accept the result as sent and has failed the job with the reason;
        // the runner goes on with other jobs.
        if ((err as ApiFailure).status !== 400) throw err;
        process.stderr.write(
          `runner: the server refused the result of job ${id}: ${(err as Error).message}\n`,
        );
      }
    },
  };
}
