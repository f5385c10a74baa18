// `slipway build`, `slipway registry …` and `slipway images prune` through their run* functions, on a git
// repository made from the images monorepo fixture, with the real engine and a real registry.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "@commander-js/extra-typings";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { UserError } from "../lib/errors.js";
import { type CommandIo, registerBuild, runBuild } from "./build.js";
import { registerImages, runImagesPrune } from "./images.js";
import { registerRegistry, runRegistryLatest, runRegistryPrune, runRegistryTags } from "./registry.js";

function capture(): CommandIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    env: { ...process.env, CI: "true" },
    out: () => out,
    err: () => err,
  };
}

async function gitIn(dir: string, ...args: string[]) {
  await execa("git", ["-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid", ...args], {
    cwd: dir,
  });
}

describe("slipway build / registry / images", () => {
  let registry: TestRegistry;
  let repo: string;
  beforeAll(async () => {
    registry = await startRegistry();
    repo = mkdtempSync(join(tmpdir(), "slipway-cli-build-"));
    cpSync(join(import.meta.dirname, "..", "images", "testdata", "monorepo"), repo, { recursive: true });
    const config = join(repo, "slipway.yaml");
    writeFileSync(config, readFileSync(config, "utf8").replace("127.0.0.1:5000", registry.host));
    await gitIn(repo, "init", "-q", "-b", "main");
    await gitIn(repo, "add", "-A");
    await gitIn(repo, "commit", "-q", "-m", "initial");
    await gitIn(repo, "tag", "v2.0.0");
  });
  afterAll(async () => {
    await registry?.stop();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("registers its commands", () => {
    const program = new Command();
    registerBuild(program);
    registerRegistry(program);
    registerImages(program);
    expect(program.commands.map((c) => c.name())).toEqual(["build", "registry", "images"]);
    expect(program.commands[1].commands.map((c) => c.name())).toEqual(["tags", "latest", "prune"]);
  });

  it("builds and pushes, printing the result as JSON and to a file", async () => {
    const io = capture();
    const code = await runBuild(
      { config: "slipway.yaml", directory: repo, push: true, json: true, result: "out/result.json" },
      io,
    );
    expect(code).toBe(0);
    const result = JSON.parse(io.out());
    expect(result.version).toBe("2.0.0");
    expect(Object.values(result.services).map((s) => (s as { status: string }).status)).toEqual([
      "built",
      "built",
      "built",
    ]);
    expect(JSON.parse(readFileSync(join(repo, "out", "result.json"), "utf8"))).toEqual(result);
    expect(io.err()).toContain("build 2.0.0 (no previous release)");
    // The api image builds on the base image this release built (SLIPWAY_IMAGE_BASE), in BuildKit's log.
    expect(io.err()).toMatch(/\[api\] #\d+ \[1\/\d+\] FROM [^ ]*\/team\/monorepo:mono-base_2\.0\.0/);
  });

  it("prints the plan of the next release with --dry-run", async () => {
    appendFileSync(join(repo, "services/worker/worker.txt"), "worker v2\n");
    await gitIn(repo, "commit", "-q", "-am", "worker");
    const io = capture();
    expect(
      await runBuild(
        { config: "slipway.yaml", directory: repo, dryRun: true, json: true, version: "2.1.0" },
        io,
      ),
    ).toBe(0);
    const plan = JSON.parse(io.out());
    expect(
      Object.fromEntries(Object.entries(plan.services).map(([n, s]) => [n, (s as { build: boolean }).build])),
    ).toEqual({
      base: false,
      worker: true,
      api: false,
    });
    expect(plan.services.worker.reference).toBe(`${registry.host}/team/monorepo:mono-worker_2.1.0`);
    expect(io.err()).toContain("changes since v2.0.0");
  });

  it("refuses a configuration without a build section", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-cli-empty-"));
    try {
      writeFileSync(join(dir, "slipway.yaml"), "# nothing\n");
      await expect(runBuild({ config: "slipway.yaml", directory: dir }, capture())).rejects.toThrow(
        UserError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists tags, finds the latest, and prunes", async () => {
    const repository = `${registry.host}/team/monorepo`;
    const tags = capture();
    await runRegistryTags(repository, { insecure: [] }, tags);
    expect(tags.out()).toBe("mono-api_2.0.0\nmono-base_2.0.0\nmono-worker_2.0.0\n");

    const latest = capture();
    await runRegistryLatest(
      repository,
      { insecure: [], match: "mono-api_*", by: "semver", ref: true },
      latest,
    );
    expect(latest.out()).toBe(`${repository}:mono-api_2.0.0\n`);
    await expect(
      runRegistryLatest(repository, { insecure: [], match: "*-main", by: "semver" }, capture()),
    ).rejects.toThrow(`no tag of ${repository} matches '*-main' and carries a version`);

    const prune = capture();
    await runRegistryPrune(
      repository,
      { insecure: [], keep: "1", protect: ["mono-base_*"], by: "time", dryRun: true, json: true },
      prune,
    );
    const r = JSON.parse(prune.out());
    expect(r.dryRun).toBe(true);
    expect(r.protected).toEqual(["mono-base_2.0.0"]);
    expect(r.kept.length + r.delete.length + r.spared.length).toBe(2);
    await expect(
      runRegistryPrune(repository, { insecure: [], keep: "x", protect: [], by: "time" }, capture()),
    ).rejects.toThrow(/--keep must be a whole number/);
  });

  it("prunes dangling images on the engine host", async () => {
    const io = capture();
    expect(await runImagesPrune({ onlySlipway: true, json: true, yes: true }, io)).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({
      deleted: expect.any(Array),
      spaceReclaimed: expect.any(Number),
    });
  });
});
