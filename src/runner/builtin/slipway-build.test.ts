// slipway/build: for a fork's pull request it may build, never push with the server's credentials; build
// secrets come from the step's environment only.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeRepo, makeTempDir } from "../../../test/support/git.js";
import { pushTestImage } from "../../../test/support/images.js";
import { startRegistry } from "../../../test/support/registry.js";
import { connectEngine } from "../../engines/index.js";
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

  it("builds a fork's pull request without the server's registry credentials: a private base image stays private", async () => {
    const registry = await startRegistry({ basic: { username: "alice", password: "s3cret" } });
    const { dir: parent, cleanup } = await makeTempDir("build-fork-creds");
    const engine = connectEngine();
    const base = `${registry.host}/private/base:1`;
    const saved = process.env.DOCKER_CONFIG;
    try {
      // The server user's docker config can read the private registry.
      const config = join(parent, "docker");
      mkdirSync(config);
      const auth = Buffer.from("alice:s3cret").toString("base64");
      writeFileSync(join(config, "config.json"), JSON.stringify({ auths: { [registry.host]: { auth } } }));
      process.env.DOCKER_CONFIG = config;
      await pushTestImage(engine, `${registry.host}/private/base`, ["1"], "private", {
        username: "alice",
        password: "s3cret",
        serveraddress: registry.host,
      });
      const repo = await makeRepo(parent, "app");
      writeFileSync(
        join(repo.dir, "slipway.yaml"),
        `build:\n  services:\n    api:\n      context: .\n      image: ${registry.host}/fork/api\n`,
      );
      writeFileSync(join(repo.dir, "Dockerfile"), `FROM ${base}\nRUN echo built > /built\n`);
      await repo.git("add", "-A");
      await repo.commit("feat: api");
      const run = (untrusted: boolean) =>
        slipwayBuild.main(
          makeContext({
            workspace: repo.dir,
            inputs: { all: "true", "no-cache": "true" },
            untrusted,
            env: {},
          }).ctx,
        );
      const refused = await run(true).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(
        /^build failed \(api\)\napi: build of .* failed at \[internal\] load metadata for .*private\/base:1\n.*401 Unauthorized/,
      );
      // The same build on the repository's own behalf may read it.
      await run(false);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
      await engine.removeImage(base, { force: true }).catch(() => {});
      await registry.stop();
      await cleanup();
    }
  }, 120_000);
});
