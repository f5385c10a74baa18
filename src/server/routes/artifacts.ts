// Artifacts of server runs. Viewers list a run's artifacts and download one as a tar stream, or as a
// zip as GitHub serves artifacts (`…/zip`, `?format=zip` or `Accept: application/zip`); runners
// upload (a tar stream) and read artifacts only of the run of a job they hold while it runs — the
// runner token decides whose job it is, never the URL. Sizes are capped as the bytes arrive
// (ci/artifacts.ts): an upload over the run's cap is a 413 and leaves nothing behind.
import { PassThrough, Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Context, Hono } from "hono";
import { type CiService, jobRowIdParam, RunnerApi, runIdParam } from "../../ci/index.js";
import { NotFoundError, UserError } from "../../lib/errors.js";
import type { Env, Guards } from "../http.js";

/** A tar stream as the answer, named after the artifact. */
function tarResponse(c: Context<Env>, name: string, tar: Readable): Response {
  const web = Readable.toWeb(tar) as unknown as ReadableStream;
  return c.body(web, 200, {
    "content-type": "application/x-tar",
    "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(`${name}.tar`)}`,
    "x-content-type-options": "nosniff",
  });
}

/** A zip stream as the answer, named after the artifact (what GitHub's `…/artifacts/{id}/zip` gives). */
function zipResponse(c: Context<Env>, name: string, zip: Readable): Response {
  const web = Readable.toWeb(zip) as unknown as ReadableStream;
  return c.body(web, 200, {
    "content-type": "application/zip",
    "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(`${name}.zip`)}`,
    "x-content-type-options": "nosniff",
  });
}

/**
 * Which archive a viewer asked for: `?format=zip|tar` decides; without it, an Accept header that
 * names application/zip and not application/x-tar gets a zip; tar otherwise (what the CLI has read).
 */
function archiveFormat(c: Context<Env>): "zip" | "tar" {
  const format = c.req.query("format");
  if (format !== undefined) {
    if (format === "zip" || format === "tar") return format;
    throw new UserError(`format must be zip or tar, got ${JSON.stringify(format.slice(0, 20))}`);
  }
  const accept = (c.req.header("accept") ?? "").toLowerCase();
  return accept.includes("application/zip") && !accept.includes("application/x-tar") ? "zip" : "tar";
}

function requestTar(c: Context<Env>): Readable {
  const body = c.req.raw.body;
  if (!body) throw new UserError("the upload has no body: send the artifact's files as a tar stream");
  return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
}

function retentionParam(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[1-9]\d{0,5}$/.test(value))
    throw new UserError(
      `retentionDays must be a whole number of days above 0, got ${JSON.stringify(value.slice(0, 20))}`,
    );
  return Number(value);
}

export function mountArtifactRoutes(app: Hono<Env>, o: { ci: CiService; guards: Guards }): void {
  const { ci } = o;
  const { requireRole, requireRunner } = o.guards;
  const runnerApi = new RunnerApi(ci);
  const runOr404 = async (id: string) => {
    const run = /^[1-9]\d{0,15}$/.test(id) ? await ci.store.runs.get(Number(id)) : null;
    if (!run) throw new NotFoundError(`no run ${id.slice(0, 40)}`);
    return run;
  };

  app.get("/api/v1/runs/:id/artifacts", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    return c.json({ run: run.id, artifacts: await ci.artifacts.list(run.id) });
  });
  app.get("/api/v1/runs/:id/artifacts/:name", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    if (archiveFormat(c) === "zip") {
      const { artifact, zip } = await ci.artifacts.openZip(run.id, c.req.param("name"));
      return zipResponse(c, artifact.name, zip);
    }
    const { artifact, tar } = await ci.artifacts.open(run.id, c.req.param("name"));
    return tarResponse(c, artifact.name, tar);
  });
  app.get("/api/v1/runs/:id/artifacts/:name/zip", requireRole("viewer"), async (c) => {
    const run = await runOr404(c.req.param("id"));
    const { artifact, zip } = await ci.artifacts.openZip(run.id, c.req.param("name"));
    return zipResponse(c, artifact.name, zip);
  });

  app.get("/api/v1/runner/jobs/:id/artifacts", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    // ?run=N: another run of the job's repository (download-artifact's run-id), if the job may read it.
    const run = runIdParam(c.req.query("run"));
    return c.json({ artifacts: await runnerApi.listArtifacts(c.get("runner").id, id, run) });
  });
  app.get("/api/v1/runner/jobs/:id/artifacts/:name", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    const run = runIdParam(c.req.query("run"));
    const { artifact, tar } = await runnerApi.openArtifact(c.get("runner").id, id, c.req.param("name"), run);
    return tarResponse(c, artifact.name, tar);
  });
  // The name travels in the query: every byte of it reaches the name check, `/` and `..` included.
  app.post("/api/v1/runner/jobs/:id/artifacts", requireRunner, async (c) => {
    const id = jobRowIdParam(c.req.param("id"));
    const name = c.req.query("name");
    if (name === undefined) throw new UserError("name: the artifact's name is required");
    const overwrite = c.req.query("overwrite");
    if (overwrite !== undefined && overwrite !== "true" && overwrite !== "false")
      throw new UserError(`overwrite must be true or false, got ${JSON.stringify(overwrite.slice(0, 20))}`);
    const retentionDays = retentionParam(c.req.query("retentionDays"));
    const source = requestTar(c);
    // The store reads from a pipe of its own: when it refuses the upload (too large, a bad entry) the
    // rest of the request is read and dropped, so the runner gets the answer saying why rather than a
    // connection reset in the middle of sending.
    const body = new PassThrough();
    source.pipe(body);
    try {
      const artifact = await runnerApi.uploadArtifact(
        c.get("runner").id,
        id,
        { name, retentionDays, overwrite: overwrite === "true" },
        body,
      );
      return c.json({ artifact }, 201);
    } catch (err) {
      source.unpipe(body);
      source.resume();
      await finished(source).catch(() => {});
      throw err;
    }
  });
}
