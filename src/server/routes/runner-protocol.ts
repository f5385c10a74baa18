// The runner protocol: claim a queued leg (long poll), heartbeat, logs, step reports and completion.
// Checked by runner token; a runner may only touch the legs it claimed.
import type { Hono } from "hono";
import { type CiService, RunnerApi } from "../../ci/index.js";
import { UserError } from "../../lib/errors.js";
import type { JobResult, StepReport } from "../../runner/index.js";
import { type Env, type Guards, jsonBody, problem } from "../http.js";

export function mountRunnerProtocolRoutes(app: Hono<Env>, o: { ci: CiService; guards: Guards }): void {
  const { ci } = o;
  const { requireRunner } = o.guards;
  const runnerApi = new RunnerApi(ci);
  app.post("/api/v1/runner/claim", requireRunner, async (c) => {
    const runner = c.get("runner");
    const body = await jsonBody<{ labels?: string[]; waitMs?: number }>(c);
    const labels = body.labels ?? runner.labels;
    const deadline = Date.now() + Math.min(body.waitMs ?? 0, 25_000);
    for (;;) {
      const claimed = await runnerApi.claim(runner.id, labels);
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
  app.post("/api/v1/runner/jobs/:id/heartbeat", requireRunner, async (c) =>
    c.json({ ok: await runnerApi.heartbeat(c.get("runner").id, Number(c.req.param("id"))) }),
  );
  app.post("/api/v1/runner/jobs/:id/logs", requireRunner, async (c) => {
    const body = await jsonBody<{ seq: number; content: string }>(c);
    if (!Number.isInteger(body.seq) || typeof body.content !== "string")
      throw new UserError("'seq' and 'content' are required");
    const ok = await runnerApi.appendLog(
      c.get("runner").id,
      Number(c.req.param("id")),
      body.seq,
      body.content,
    );
    return ok ? c.json({ ok }) : problem(c, 409, "the job is not this runner's");
  });
  app.post("/api/v1/runner/jobs/:id/steps", requireRunner, async (c) => {
    const body = await jsonBody<StepReport>(c);
    const ok = await runnerApi.step(c.get("runner").id, Number(c.req.param("id")), body);
    return ok ? c.json({ ok }) : problem(c, 409, "the job is not this runner's");
  });
  app.post("/api/v1/runner/jobs/:id/complete", requireRunner, async (c) => {
    const body = await jsonBody<JobResult>(c);
    return c.json({ ok: await runnerApi.complete(c.get("runner").id, Number(c.req.param("id")), body) });
  });
}
