// Prometheus metrics of the routers that share a registry. Counters and gauges are read from the
// routers' own counters at scrape time (nothing on the request path); the latency histogram is
// observed per request. Metric objects are created once per registry so several routers can share
// one (each contributes its `service` label).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { VersionCounters } from "./stats.js";

export type MetricsSource = { service: string; versions: () => Iterable<VersionCounters> };
type Labels = "service" | "version";

export class RouterMetrics {
  readonly sources = new Set<MetricsSource>();
  readonly duration: Histogram<Labels>;

  constructor(registry: Registry) {
    const sources = this.sources;
    const labelNames = ["service", "version"] as const;
    const each = (f: (service: string, c: VersionCounters) => void) => {
      for (const s of sources) for (const c of s.versions()) f(s.service, c);
    };
    const counter = (name: string, help: string, read: (c: VersionCounters) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          each((service, c) => this.inc({ service, version: c.version }, read(c)));
        },
      });
    const gauge = (name: string, help: string, read: (c: VersionCounters) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          each((service, c) => this.set({ service, version: c.version }, read(c)));
        },
      });
    counter(
      "slipway_router_requests_total",
      "Requests answered, by version (websocket upgrades included).",
      (c) => c.requests,
    );
    counter(
      "slipway_router_responses_5xx_total",
      "Responses with status >= 500 sent by an instance.",
      (c) => c.errors5xx,
    );
    counter(
      "slipway_router_failed_total",
      "Requests the router could not complete (connect refused or reset after the retry, no instance, timeout, cut response).",
      (c) => c.failed,
    );
    counter(
      "slipway_router_retries_total",
      "Requests retried on another instance after a connect error.",
      (c) => c.retries,
    );
    counter(
      "slipway_router_aborted_total",
      "Requests whose client went away before the response was complete.",
      (c) => c.aborted,
    );
    counter("slipway_router_websockets_total", "WebSocket connections proxied.", (c) => c.websocketsTotal);
    gauge("slipway_router_inflight_requests", "Requests in flight.", (c) => c.inflight);
    gauge("slipway_router_websockets_open", "WebSocket connections open.", (c) => c.websocketsOpen);
    this.duration = new Histogram({
      name: "slipway_router_request_duration_seconds",
      help: "Time from request received to response end, for responses from an instance.",
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }
}

const byRegistry = new WeakMap<Registry, RouterMetrics>();

export function routerMetricsFor(registry: Registry): RouterMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    m = new RouterMetrics(registry);
    byRegistry.set(registry, m);
  }
  return m;
}
