// Runs: list and read (viewer), logs, live events over Server-Sent Events, re-run and cancel, approve and
// reject a run waiting for approval (developer).
// Event streams are capped (503 past `maxEventStreams`) and each one's queue is bounded: a client too
// slow to keep up is sent one `resync` event (re-read the run and its logs) instead of a growing queue.

import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import {
  type CiEvent,
  type CiService,
  describeReviewers,
  type RerunRequest,
  reviewRefusal,
  runActor,
} from "../../ci/index.js";
import { NotFoundError, UserError } from "../../lib/errors.js";
import { roleAllows } from "../../store/index.js";
import { type Env, type Guards, jsonBody, problem, queryInt } from "../http.js";
import { environmentOf } from "./environments.js";

export const defaultMaxEventStreams = 256;
/** Events (and characters of log text) a stream holds for a slow client before it resyncs instead. */
const maxQueuedEvents = 1000;
const maxQueuedChars = 8 * 1024 * 1024;

export function mountRunRoutes(
  app: Hono<Env>,
  o: { ci: CiService; guards: Guards; maxEventStreams?: number },
): void {
  const { ci } = o;
  const maxEventStreams = o.maxEventStreams ?? defaultMaxEventStreams;
  let openStreams = 0;
  const { requireRole } = o.guards;
  const store = ci.store;

  app.get("/api/v1/runs", requireRole("viewer"), async (c) => {
    const repoName = c.req.query("repo");
    const repo = repoName ? await ci.repoByName(repoName) : undefined;
    const status = (c.req.query("status") || undefined) as
      | "waiting"
      | "queued"
      | "running"
      | "completed"
      | undefined;
    if (status !== undefined && !["waiting", "queued", "running", "completed"].includes(status))
      throw new UserError(
        `'status' must be waiting, queued, running or completed, got ${JSON.stringify(status.slice(0, 40))}`,
      );
    const runs = await store.runs.list({
      repoId: repo?.id,
      status,
      limit: queryInt(c.req.query("limit"), "limit", 50, 1000),
    });
    return c.json({ runs });
  });
  const runOr404 = async (id: string) => {
    const run = Number.isInteger(Number(id)) ? await store.runs.get(Number(id)) : null;
    if (!run) throw new NotFoundError(`no run ${id}`);
    return run;
  };
  app.get("/api/v1/runs/:id", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const attempts = [];
    for (let a = 1; a <= run.attempt; a++) {
      const jobs = await store.jobs.list(run.id, a);
      const reports = await store.jobReports.forJobs(jobs.map((j) => j.id));
      attempts.push({
        attempt: a,
        jobs: await Promise.all(
          jobs.map(async (j) => ({
            ...j,
            spec: undefined,
            // The jobs this one needs (for the dashboard's job graph), from its spec's needs context.
            needs: Object.keys((j.spec as { needs?: Record<string, unknown> } | null)?.needs ?? {}),
            steps: await store.steps.list(j.id),
            // What `slipway run` prints after a run: ::error/::warning/::notice and $GITHUB_STEP_SUMMARY.
            annotations: reports.get(j.id)?.annotations ?? [],
            summary: reports.get(j.id)?.summary ?? "",
            // `environment.url` as the job's runner evaluated it at its end (steps context and all).
            ...(reports.get(j.id)?.environmentUrl !== undefined
              ? { environmentUrl: reports.get(j.id)?.environmentUrl }
              : {}),
          })),
        ),
      });
    }
    // Who approved or rejected a fork's run or its environments, from the audit log (newest first).
    const decisions = [
      ...(run.fork ? await store.audit.list({ actionPrefix: "run.", subject: `run ${run.id}` }) : []),
      ...(await store.audit.list({ actionPrefix: "environment.", subject: `run ${run.id}` })),
    ].sort((a, b) => b.id - a.id);
    const approvals = decisions.map((a) => ({
      action: a.action,
      actor: a.actor,
      at: a.at,
      ...(a.env ? { environment: a.env } : {}),
      detail: a.detail,
    }));
    // The environments its jobs were bound for: each gate's state, who may approve, the URL; and whether
    // the reader may decide a pending one, by the rules approve/reject apply (the dashboard shows its
    // buttons from these, and does not judge the rules itself; the decision is checked again).
    const { name, role } = c.get("identity");
    const triggeredBy = runActor(run);
    const environments = (await ci.environmentGates(run.id)).map((g) => {
      // The approve and reject routes need a developer before they look at the rules.
      const open = g.status === "pending" && g.attempt === run.attempt && g.reviewers.length > 0;
      const may = roleAllows(role, "developer");
      const refusal = (verb: "approve" | "reject") =>
        open ? reviewRefusal(g, { name, role }, verb, triggeredBy) : "not waiting for a decision";
      return {
        ...g,
        mayApprove: g.reviewers.length ? describeReviewers(g.reviewers) : null,
        canApprove: open && may && refusal("approve") === undefined,
        canReject: open && may && refusal("reject") === undefined,
        ...(open && !may
          ? { approveRefusal: `deciding needs the developer role; you are ${name} (${role})` }
          : open && refusal("approve")
            ? { approveRefusal: refusal("approve") }
            : {}),
      };
    });
    return c.json({ run, attempts, approvals, environments });
  });
  app.get("/api/v1/runs/:id/logs", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const attempt = queryInt(c.req.query("attempt"), "attempt", run.attempt, Math.max(run.attempt, 1));
    const job = c.req.query("job");
    const jobs = (await store.jobs.list(run.id, attempt)).filter(
      (j) => !job || j.jobKey === job || j.jobId === job,
    );
    if (job && jobs.length === 0)
      throw new NotFoundError(`no job '${job}' in run ${run.id} attempt ${attempt}`);
    const out = [];
    for (const j of jobs) {
      const after = c.req.query("after");
      const chunks = await store.logs.read(j.id, {
        afterSeq: after === undefined || after === "0" ? 0 : queryInt(after, "after", 0, 1_000_000_000),
        // Chunks per answer (default 1000): the dashboard reads a long log in one request, not ten.
        limit: queryInt(c.req.query("limit"), "limit", 1000, 10_000),
      });
      out.push({ jobRowId: j.id, jobKey: j.jobKey, name: j.name, status: j.status, chunks });
    }
    return c.json({ run: run.id, attempt, jobs: out });
  });
  app.get("/api/v1/runs/:id/events", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    if (openStreams >= maxEventStreams)
      return problem(c, 503, `too many event streams open (${maxEventStreams}); try again later`);
    openStreams++;
    return streamSSE(c, async (stream) => {
      const queue: CiEvent[] = [];
      let queuedChars = 0;
      let overflowed = false;
      let wake: (() => void) | undefined;
      const onEvent = (e: CiEvent) => {
        if (e.runId !== run.id || overflowed) return;
        const size = e.type === "log" ? e.content.length : 0;
        if (queue.length >= maxQueuedEvents || queuedChars + size > maxQueuedChars) {
          // What the client missed is in the store: it re-reads instead of the server holding it.
          overflowed = true;
          queue.length = 0;
          queuedChars = 0;
        } else {
          queue.push(e);
          queuedChars += size;
        }
        wake?.();
      };
      ci.events.on("event", onEvent);
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        const fresh = await store.runs.get(run.id);
        await stream.writeSSE({
          event: "run",
          data: JSON.stringify({
            type: "run",
            runId: run.id,
            status: fresh?.status,
            conclusion: fresh?.conclusion,
          }),
        });
        if (fresh?.status === "completed") return;
        while (!closed) {
          if (overflowed) {
            // Cleared first: what comes while the resync is written is queued as usual.
            overflowed = false;
            await stream.writeSSE({
              event: "resync",
              data: JSON.stringify({ type: "resync", runId: run.id, reason: "events were dropped; re-read" }),
            });
            // The run's end may have been among the dropped events.
            const now = await store.runs.get(run.id);
            if (now?.status === "completed") {
              await stream.writeSSE({
                event: "run",
                data: JSON.stringify({
                  type: "run",
                  runId: run.id,
                  status: now.status,
                  conclusion: now.conclusion,
                }),
              });
              return;
            }
          }
          while (queue.length) {
            const e = queue.shift()!;
            if (e.type === "log") queuedChars -= e.content.length;
            await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
            if (e.type === "run" && e.status === "completed") return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000);
          });
          wake = undefined;
          if (!queue.length && !closed) await stream.writeSSE({ event: "ping", data: "{}" });
        }
      } finally {
        ci.events.off("event", onEvent);
        openStreams--;
      }
    });
  });
  app.post("/api/v1/runs/:id/rerun", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const body = await jsonBody<RerunRequest>(c);
    return c.json({ run: await ci.rerun(run.id, body) }, 202);
  });
  // With jobs waiting at an environment's gate these decide the gate (all of them, or `environment`);
  // otherwise they decide a fork's run held for approval.
  app.post("/api/v1/runs/:id/approve", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const env = environmentOf(await jsonBody<unknown>(c));
    const { name, role } = c.get("identity");
    return c.json({ run: await ci.approve(run.id, { name, role }, env) }, 202);
  });
  app.post("/api/v1/runs/:id/reject", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const body = await jsonBody<{ reason?: unknown; environment?: unknown }>(c);
    const env = environmentOf(body);
    const reason = body.reason;
    if (reason !== undefined && reason !== null) {
      // The reason is shown on the run and in notifications: one short line of printable text.
      if (typeof reason !== "string" || reason.length > 500 || /[\p{Cc}]/u.test(reason))
        throw new UserError(
          `'reason' must be one line of printable text of at most 500 characters, got ${JSON.stringify(String(reason).slice(0, 80))}`,
        );
    }
    const why = typeof reason === "string" && reason.trim() ? reason.trim() : undefined;
    const { name, role } = c.get("identity");
    return c.json({ run: await ci.reject(run.id, { name, role }, why, env) });
  });
  app.post("/api/v1/runs/:id/cancel", requireRole("developer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    return c.json({ run: await ci.cancel(run.id) });
  });
}
