// Webhooks: checked by signature, not by token.
import type { Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { maxWebhookBody, type WebhookProvider, webhookProviders } from "../../triggers/index.js";
import { type Env, problem, readBody } from "../http.js";

export function mountWebhookRoutes(app: Hono<Env>, o: { ci: CiService }): void {
  app.post("/hooks/:provider", async (c) => {
    const provider = c.req.param("provider") as WebhookProvider;
    if (!webhookProviders.includes(provider))
      return problem(c, 404, `unknown webhook provider '${provider}'`);
    const body = await readBody(c, maxWebhookBody);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    const result = await o.ci.handleWebhook(provider, headers, body);
    return c.json(result.body, result.status as 200);
  });
}
