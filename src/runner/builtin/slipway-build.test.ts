// slipway/build: for a fork's pull request it may build, never push with the server's credentials; build
// secrets come from the step's environment only.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeRepo, makeTempDir } from "../../../test/support/git.js";
import { UserError } from "../../lib/errors.js";
import { slipwayBuild } from "./slipway-build.js";
import { makeContext } from "./testing.js";

describe("slipway/build", () => {
  it("refuses to push for a fork's pull request, before building anything", async () => {
    const { ctx, rec } = makeContext({ inputs: { push: "true" }, untrusted: true });
    const err = await slipwayBuild.main(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/cannot push for a pull request from a fork/);
    expect(rec.logs).toEqual([]);
  });

  it("reads env: build secrets from the step's environment, never from slipway's own", async () => {
    const { dir: parent, cleanup } = await makeTempDir("build-secret");
    const previous = process.env.SLIPWAY_TEST_SERVER_ONLY;
    process.env.SLIPWAY_TEST_SERVER_ONLY = "server-secret";
    try {
      const repo = await makeRepo(parent, "app");
      const dir = repo.dir;
      writeFileSync(
        join(dir, "slipway.yaml"),
        "build:\n  services:\n    api:\n      context: .\n      image: slipway-test/builtin-secret\n      secrets:\n        tok: { env: SLIPWAY_TEST_SERVER_ONLY }\n",
      );
      writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
      await repo.git("add", "-A");
      await repo.commit("feat: api");
      const { ctx } = makeContext({
        workspace: dir,
        inputs: { all: "true" },
        env: { PATH: process.env.PATH ?? "" },
      });
      const err = await slipwayBuild.main(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toBe(
        "cannot build: api: build secret 'tok' needs the environment variable SLIPWAY_TEST_SERVER_ONLY, which is not set",
      );
    } finally {
      if (previous === undefined) delete process.env.SLIPWAY_TEST_SERVER_ONLY;
      else process.env.SLIPWAY_TEST_SERVER_ONLY = previous;
      await cleanup();
    }
  });
});
