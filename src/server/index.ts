// The HTTP server of `slipway serve`: a thin adapter over the ci domain (routes, auth by role,
// webhook signatures, SSE, metrics) and its start/stop lifecycle.
export { createApp } from "./app.js";
export { createMetrics } from "./metrics.js";
export { openApiDocument } from "./openapi.js";
export {
  parseListen,
  type RunningServer,
  resetAdminToken,
  type ServeOptions,
  startServer,
} from "./serve.js";
