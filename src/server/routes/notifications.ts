// Notifications: the delivery log (no bodies, no channel definitions) and test messages.
import type { Hono } from "hono";
import type { CiService } from "../../ci/index.js";
import { UserError } from "../../lib/errors.js";
import { deliveryView, type Notifier, type NotifyConfig } from "../../notify/index.js";
import { type NotificationStatus, notificationStatuses } from "../../store/index.js";
import { type Env, type Guards, jsonBody, queryInt } from "../http.js";

export function mountNotificationRoutes(
  app: Hono<Env>,
  o: { ci: CiService; notifier: Notifier; notifyConfig?: NotifyConfig; guards: Guards },
): void {
  const { ci, notifier } = o;
  const { requireRole } = o.guards;
  const store = ci.store;
  app.get("/api/v1/notifications/deliveries", requireRole("viewer"), async (c) => {
    const status = c.req.query("status") || undefined;
    if (status !== undefined && !notificationStatuses.includes(status as NotificationStatus))
      throw new UserError(`'status' must be one of ${notificationStatuses.join(", ")}, got '${status}'`);
    const repo = c.req.query("repo");
    const before = c.req.query("before");
    const list = await store.notifications.list({
      status: status as NotificationStatus | undefined,
      channel: c.req.query("channel") || undefined,
      ...(repo !== undefined ? { scope: repo || null } : {}),
      ...(before ? { beforeId: queryInt(before, "before", 1, Number.MAX_SAFE_INTEGER) } : {}),
      limit: queryInt(c.req.query("limit"), "limit", 50, 1000),
    });
    return c.json({ deliveries: list.map(deliveryView) });
  });
  app.post("/api/v1/notifications/test", requireRole("developer"), async (c) => {
    const body = await jsonBody<{ channel?: unknown; repo?: unknown }>(c);
    if (typeof body.channel !== "string" || !body.channel)
      throw new UserError("'channel' is required: a channel name of the server's or a repository's notify:");
    if (body.repo !== undefined && body.repo !== null && typeof body.repo !== "string")
      throw new UserError("'repo' must be a repository name");
    const repo = typeof body.repo === "string" && body.repo ? body.repo : undefined;
    const config = repo ? await ci.repoNotifyConfigAtHead(repo) : o.notifyConfig;
    if (!config)
      throw new UserError(
        repo
          ? `${repo}'s slipway.yaml has no notify: section on its default branch`
          : "the server has no notification channels (slipway serve --notify-config FILE)",
      );
    const delivery = await notifier.test(body.channel, config, { scope: repo ?? null });
    return c.json({ delivery: deliveryView(delivery) });
  });
}
