// The audit log, for admins: who changed what and when — secrets, environments and their approvals,
// repositories and their webhook secrets, forge settings, tokens and runners. Entries never hold a secret
// value. Filters: `repo`, `action` (exact, or a prefix ending in `.` such as `secret.`), `subject`; newest
// first, paged back with `before` (an entry id).
import type { Hono } from "hono";
import { UserError } from "../../lib/errors.js";
import type { AuditFilter, Store } from "../../store/index.js";
import { type Env, type Guards, queryInt } from "../http.js";

/** The filter a query asks for; a bad value is a UserError (400) naming the parameter. */
export function auditFilter(query: Record<string, string | undefined>): AuditFilter {
  const filter: AuditFilter = { limit: queryInt(query.limit, "limit", 100, 1000) };
  const action = query.action || undefined;
  if (action !== undefined) {
    if (!/^[a-z0-9][a-z0-9.-]{0,99}$/i.test(action))
      throw new UserError(
        "'action' must be an action such as secret.set, or a prefix ending in '.' such as secret.",
      );
    if (action.endsWith(".")) filter.actionPrefix = action;
    else filter.action = action;
  }
  if (query.repo) filter.repo = query.repo;
  if (query.subject) filter.subject = query.subject;
  if (query.before) filter.beforeId = queryInt(query.before, "before", 0, Number.MAX_SAFE_INTEGER);
  return filter;
}

export function mountAuditRoutes(app: Hono<Env>, o: { store: Store; guards: Guards }): void {
  const { requireRole } = o.guards;
  app.get("/api/v1/audit", requireRole("admin"), async (c) => {
    const filter = auditFilter(c.req.query());
    const audit = await o.store.audit.list(filter);
    // A full page may have more behind it: `before` for the next one.
    const next = audit.length === filter.limit ? audit[audit.length - 1]?.id : undefined;
    return c.json({ audit, ...(next === undefined ? {} : { next }) });
  });
}
