// Traffic: the router in front of each HTTP service, and its admin interface.
// A router listens for one service and forwards each request to an instance of one version: the first
// header/cookie rule that matches picks the version, else the weights do (smooth weighted round-robin,
// exact proportions); within a version, least-connections (or round-robin). Invariants the deploy
// strategies rely on: a reconfiguration is one object swap (in-flight requests finish where they
// started, no connection is dropped); a draining instance gets no new request from the moment drain()
// is called; a request that failed before anything was sent is retried once on another instance of
// the same version (docs/internals/router.md has the exact rule), so an instance that dies costs no failed
// request; counters per version (requests, 5xx, failed, latency) feed stats() and Prometheus, and
// LiveFigures samples them into a few minutes of per-version series for the dashboard's charts.
// The Router interface (types.ts) has two implementations: node/ (slipway's own proxy, in this process)
// and haproxy/ (a haproxy process per router, driven through its runtime API: no reload for any
// change; changes apply asynchronously, hence settled(); figures arrive with its log, hence
// statsCaughtUp()). createRouter(kind) makes either; routerKinds() says which this machine can run,
// preferred first. docs/internals/router.md compares them.
export { createRouterAdmin, type RouterAdminHandler, routerMetricsText } from "./admin.js";
export { createRouter, type RouterOptionsOf, routerKinds } from "./choose.js";
export { createHaproxyRouter, type HaproxyRouter, type HaproxyRouterOptions } from "./haproxy/router.js";
export { createNodeRouter } from "./node/router.js";
export {
  LiveFigures,
  type LiveFiguresDocument,
  type LiveFiguresOptions,
  type ServiceFigures,
  type VersionSeries,
} from "./live-figures.js";
export { unroutedVersion } from "./stats.js";
export type {
  Backends,
  Balance,
  DrainOptions,
  DrainResult,
  InstanceSpec,
  InstanceState,
  Router,
  RouteRule,
  RouterEvent,
  RouterKind,
  RouterOptions,
  Routes,
  StatsOptions,
  VersionStats,
} from "./types.js";
