// Prometheus metrics of the CI server (prom-client): queue depth, runs and jobs by outcome, durations.
import client from "prom-client";
import type { CiEvent, CiService } from "../ci/index.js";

export type Metrics = { render(): Promise<string>; contentType: string; registry: client.Registry };

export function createMetrics(ci: CiService): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "slipway_process_" });
  new client.Gauge({
    name: "slipway_queue_depth",
    help: "Job legs waiting for a runner (queued) or for a concurrency slot (waiting)",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const rows = await ci.store.db
        .selectFrom("jobs")
        .select(["status", ci.store.db.fn.countAll<number>().as("n")])
        .where("status", "in", ["queued", "waiting"])
        .groupBy("status")
        .execute();
      this.reset();
      this.set({ status: "queued" }, 0);
      this.set({ status: "waiting" }, 0);
      for (const r of rows) this.set({ status: r.status }, Number(r.n));
    },
  });
  new client.Gauge({
    name: "slipway_runs_active",
    help: "Runs this server is driving now",
    registers: [registry],
    collect() {
      this.set(ci.activeRuns);
    },
  });
  const runs = new client.Counter({
    name: "slipway_runs_total",
    help: "Runs completed, by conclusion",
    labelNames: ["conclusion"],
    registers: [registry],
  });
  const jobs = new client.Counter({
    name: "slipway_jobs_total",
    help: "Job legs finished, by status",
    labelNames: ["status"],
    registers: [registry],
  });
  const runDuration = new client.Histogram({
    name: "slipway_run_duration_seconds",
    help: "Run duration from creation to completion",
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const jobDuration = new client.Histogram({
    name: "slipway_job_duration_seconds",
    help: "Job leg duration from claim to completion",
    buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  ci.events.on("event", (e: CiEvent) => {
    if (e.type === "run" && e.status === "completed" && e.conclusion) {
      runs.inc({ conclusion: e.conclusion });
      void ci.store.runs.get(e.runId).then((r) => {
        if (r?.finishedAt) runDuration.observe((r.finishedAt - r.createdAt) / 1000);
      });
    }
    if (e.type === "job" && ["success", "failure", "cancelled", "skipped"].includes(e.status)) {
      jobs.inc({ status: e.status });
      void ci.store.jobs.get(e.jobRowId).then((j) => {
        if (j?.finishedAt && j.startedAt) jobDuration.observe((j.finishedAt - j.startedAt) / 1000);
      });
    }
  });
  return { render: () => registry.metrics(), contentType: registry.contentType, registry };
}
