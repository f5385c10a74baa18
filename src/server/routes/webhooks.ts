// Webhooks: checked by signature, not by token. Every delivery first takes its share of a server-wide
// budget of body bytes in memory (503 with Retry-After when it is spent, before a byte is read), so
// concurrent large unauthenticated bodies cannot grow the server's memory past the budget.
//   /hooks/<provider>/<repo>  the repository (and so its secret) is known before the body: the HMAC
//                             runs on the raw bytes as they arrive; a forged body is never parsed.
//   /hooks/<provider>         legacy: the body names the repository, so it is parsed before it is
//                             verified; bodies are capped lower (`legacyMaxBody`).
import type { Context, Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { type WebhookProvider, webhookProviders } from "../../triggers/index.js";
import { ByteBudget, declaredLength, type Env, problem, readBody } from "../http.js";

/** Seconds a sender is asked to wait when the budget is spent. */
const retryAfterSeconds = 5;

export function mountWebhookRoutes(app: Hono<Env>, o: { ci: CiService }): void {
  const limits = o.ci.webhookLimits;
  const budget = new ByteBudget(limits.maxInflightBytes);

  const receive = async (c: Context<Env>, repoName: string | undefined) => {
    const provider = c.req.param("provider") as WebhookProvider;
    if (!webhookProviders.includes(provider))
      return problem(c, 404, `unknown webhook provider '${provider}'`);
    const limit = repoName === undefined ? limits.legacyMaxBody : limits.maxBody;
    const declared = declaredLength(c);
    // A body refused unread is not kept: the HTTP server discards what still arrives (for a bounded
    // time and size) so that the sender can read the answer, then closes the connection.
    if (declared !== undefined && declared > limit)
      return problem(c, 413, `the body is larger than ${limit} bytes`);
    // Without a declared length (chunked) a delivery may grow to the limit: it reserves that much.
    const release = budget.tryTake(declared ?? limit);
    if (!release) {
      c.header("retry-after", String(retryAfterSeconds));
      return problem(c, 503, "too many webhook bytes in flight; retry later");
    }
    try {
      const headers: Record<string, string> = {};
      c.req.raw.headers.forEach((v, k) => {
        headers[k.toLowerCase()] = v;
      });
      const result = await o.ci.handleWebhook({
        provider,
        headers,
        repoName,
        readBody: (sink) => readBody(c, Math.min(limit, declared ?? limit), sink),
      });
      return c.json(result.body, result.status as 200);
    } finally {
      release();
    }
  };

  app.post("/hooks/:provider/:repo{.+}", (c) => receive(c, c.req.param("repo")));
  app.post("/hooks/:provider", (c) => receive(c, undefined));
}
