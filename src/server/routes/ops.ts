// Operations: liveness, readiness (the store answers; a fixed text either way), Prometheus metrics and the OpenAPI document.
import type { Hono } from "hono";
import type { Store } from "../../store/index.js";
import type { Env } from "../http.js";
import type { Metrics } from "../metrics.js";
import { openApiDocument } from "../openapi.js";

export function mountOpsRoutes(
  app: Hono<Env>,
  o: { store: Store; metrics: Metrics; isReady: () => boolean; log?: (line: string) => void },
): void {
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/readyz", async (c) => {
    if (!o.isReady()) return c.text("shutting down\n", 503);
    try {
      await o.store.repos.list();
      return c.text("ready\n");
    } catch (err) {
      // Probes are often unauthenticated: the database's own message (host, user, file) stays in the log.
      o.log?.(`readyz: the database does not answer: ${(err as Error).message}`);
      return c.text("database unavailable\n", 503);
    }
  });
  app.get("/metrics", async (c) => {
    const text = await o.metrics.render();
    return c.body(text, 200, { "content-type": o.metrics.contentType });
  });
  app.get("/api/v1/openapi.json", (c) => c.json(openApiDocument()));
}
