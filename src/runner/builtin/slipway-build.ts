// `uses: slipway/build@v1`: builds the images of the workspace's slipway.yaml that changed since the last
// release (all with `all: true`), in dependency order, and pushes them with `push: true` — the same
// build as `slipway build`. Build logs stream into the job log.
//
// Inputs: `config` (default slipway.yaml), `version` (e.g. `${{ steps.version.outputs.version }}`),
// `all`, `push`, `since` (a ref to compare with instead of the last release tag), `concurrency`,
// `no-cache`, `result-file` (relative to the workspace).
// Outputs: `images` (JSON: service → { image, digest, status }), `built` (comma-separated services),
// `result-file`.
import { resolve } from "node:path";
import { UserError } from "../../lib/errors.js";
import { getBooleanInput, getInput } from "./inputs.js";
import type { BuiltinAction } from "./types.js";

export const slipwayBuild: BuiltinAction = {
  async main(ctx) {
    // Pushing uses the server's registry credentials: never on a fork's behalf (building is fine).
    if (ctx.untrusted && getBooleanInput(ctx, "push", false))
      throw new UserError(
        "slipway/build cannot push for a pull request from a fork: its code gets no registry credentials",
      );
    // Loaded on use: a run that builds no images does not load the images domain.
    const { BuildFailedError, runConfiguredBuild } = await import("../../images/index.js");
    const concurrency = getInput(ctx, "concurrency");
    const resultFile = resolve(ctx.workspace, getInput(ctx, "result-file") || "slipway-build.json");
    try {
      const { result } = await runConfiguredBuild({
        dir: ctx.workspace,
        config: getInput(ctx, "config") || "slipway.yaml",
        all: getBooleanInput(ctx, "all", false),
        push: getBooleanInput(ctx, "push", false),
        version: getInput(ctx, "version") || undefined,
        since: getInput(ctx, "since") || undefined,
        concurrency: concurrency ? Number(concurrency) : undefined,
        noCache: getBooleanInput(ctx, "no-cache", false),
        resultFile,
        // Build secrets named by `env:` come from what a `run:` step would see (the workflow maps its
        // secrets there), never from slipway's own environment: a pull request's slipway.yaml could name
        // any variable.
        secretsEnv: ctx.env ?? {},
        // Nor the server's registry credentials, which BuildKit would use for the base and cache_from
        // images a pull request's Dockerfile and slipway.yaml name.
        anonymous: ctx.untrusted ?? false,
        signal: ctx.signal,
        onPlan: (plan, since) => ctx.log(`build ${plan.version} (${since})`),
        onLog: (service, line) => ctx.log(`[${service}] ${line}`),
      });
      const services = Object.entries(result?.services ?? {});
      const images = Object.fromEntries(
        services.map(([name, s]) => [
          name,
          { image: s.reference ?? null, digest: s.digest ?? null, status: s.status },
        ]),
      );
      ctx.setOutput("images", JSON.stringify(images));
      ctx.setOutput(
        "built",
        services
          .filter(([, s]) => s.status === "built")
          .map(([name]) => name)
          .join(","),
      );
      ctx.setOutput("result-file", resultFile);
    } catch (err) {
      if (err instanceof BuildFailedError) ctx.setOutput("result-file", resultFile);
      throw err;
    }
  },
};
