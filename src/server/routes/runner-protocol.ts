// The runner protocol: claim a queued leg (long poll), heartbeat, logs, step reports and completion.
// Checked by runner token (a removed or disabled runner's is refused); a runner claims only with the
// labels it was registered with and may only touch the legs it claimed. Every message is validated
// (ci/runner-protocol.ts): a bad one is a 400 naming the field, and nothing of it is stored.
import type { Hono } from "hono";
import { ConflictError, UserError } from "../../lib/errors.js";
import {
  type CiService,
  claimBody,
  claimLabels,
  heartbeatBody,
  jobRowIdParam,
  logBody,
  parseRunnerMessage,
  RunnerApi,
  stepBody,
} from "../../ci/index.js";
import { type Env, type Guards, jsonBody, problem } from "../http.js";

export function mountRunnerProtocolRoutes(app: Hono<Env>, o: { ci: CiService; guards: Guards }): void {
  const { ci } = o;
  const { requireRunner } = o.guards;
  const runnerApi = new RunnerApi(ci);
  app.post("/api/v1/runner/claim", requireRunner, async (c) => {
    const runner = c.get("runner");
    const body = parseRunnerMessage(claimBody, await jsonBody(c), "claim");
    const labels = claimLabels(runner.labels, body.labels);
    const deadline = Date.now() + (body.waitMs ?? 0);
    for (;;) {
      // The long poll outlives the token check: a runner removed or disabled meanwhile gets nothing.
      const current = await ci.store.runners.get(runner.id);
      if (!current || current.disabledAt !== null) return problem(c, 401, "a valid runner token is required");
      const claimed = await runnerApi.claim(runner.id, labels, body.untrusted === true);
      if (claimed) return c.json(claimed);
      const left = deadline - Date.now();
      if (left <= 0) return c.body(null, 204);
      // Long poll: wake when a leg is queued.
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 5000));
        function done() {
          clearTimeout(t);
          ci.events.off("queued", done);
          resolve();
        }
        ci.events.on("queued", done);
      });
    }
  });
  app.post("/api/v1/runner/jobs/:id/heartbeat", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    parseRunnerMessage(heartbeatBody, await jsonBody(c), "heartbeat");
    return c.json({ ok: await runnerApi.heartbeat(c.get("runner").id, id) });
  });
  app.post("/api/v1/runner/jobs/:id/logs", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    const body = parseRunnerMessage(logBody, await jsonBody(c), "log chunk");
    const ok = await runnerApi.appendLog(c.get("runner").id, id, body.seq, body.content);
    if (!ok) throw new ConflictError("the job is not this runner's");
    return c.json({ ok });
  });
  app.post("/api/v1/runner/jobs/:id/steps", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    const body = parseRunnerMessage(stepBody, await jsonBody(c), "step report");
    const ok = await runnerApi.step(c.get("runner").id, id, body);
    if (!ok) throw new ConflictError("the job is not this runner's");
    return c.json({ ok });
  });
  app.post("/api/v1/runner/jobs/:id/complete", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    const r = await runnerApi.complete(c.get("runner").id, id, await jsonBody(c));
    // The job has ended either way (a bad report fails it); the runner is told what was wrong.
    if (r.problems) throw new UserError(`invalid job result: ${r.problems}`);
    return c.json({ ok: r.ok });
  });
}
