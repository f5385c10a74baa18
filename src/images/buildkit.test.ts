// What slipway.yaml's BuildKit keys do in a real build (Docker Engine + a real registry): build secrets from
// the environment and from files, refused when missing or outside the repository; a registry cache through
// the inline cache; a multi-platform image as an index in the registry.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import type { BuildConfig } from "../config/index.js";
import { connectEngine } from "../engines/index.js";
import { UserError } from "../lib/errors.js";
import { applyBuild, type BuildEvent, planBuild, RegistryClient } from "./index.js";

const engine = connectEngine();
const base = "slipway/busybox:latest";
const run = Date.now().toString(36);
const dirs: string[] = [];
const images: string[] = [];

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bk-project-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

function plan(services: BuildConfig["services"], extra: Partial<BuildConfig> = {}) {
  const config: BuildConfig = { tag: "{version}", latest: false, builder: "auto", services, ...extra };
  return planBuild({
    config,
    all: true,
    version: `1.0.${run}`,
    git: { sha: "0".repeat(40), branch: "main" },
  });
}

async function fileIn(ref: string, path: string): Promise<string> {
  const id = await engine.createContainer({ image: ref, cmd: ["cat", path] });
  try {
    await engine.startContainer(id);
    await engine.waitContainer(id);
    return (await engine.containerLogs(id)).stdout;
  } finally {
    await engine.removeContainer(id, { force: true });
  }
}

let registry: TestRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const i of images) await engine.removeImage(i, { force: true }).catch(() => {});
});

describe("build secrets from slipway.yaml", () => {
  const dockerfile = [
    `FROM ${base}`,
    "RUN --mount=type=secret,id=npm,required=true --mount=type=secret,id=key,required=true \\",
    "    cat /run/secrets/npm /run/secrets/key | md5sum > /sums",
    "",
  ].join("\n");

  it("reads them from the environment and from files next to slipway.yaml", async () => {
    const dir = project({ "api/Dockerfile": dockerfile, "secrets/key": "key-material" });
    const p = plan({
      api: {
        context: "api",
        image: `slipway-test/bk-secrets`,
        secrets: { npm: { env: "NPM_TOKEN_TEST" }, key: { file: "secrets/key" } },
      },
    });
    images.push(p.services.api.reference);
    const logs: string[] = [];
    const result = await applyBuild(p, {
      engine,
      root: dir,
      env: { NPM_TOKEN_TEST: `npm-${run}` },
      // BuildKit leaves secret values out of its cache keys: an earlier run's layer would be reused.
      noCache: true,
      onLog: (_s, l) => logs.push(l),
    });
    expect(result.services.api.status).toBe("built");
    const { createHash } = await import("node:crypto");
    const expected = createHash("md5").update(`npm-${run}key-material`).digest("hex");
    expect((await fileIn(p.services.api.reference, "/sums")).split(" ")[0]).toBe(expected);
    expect(logs.join("\n")).not.toContain(`npm-${run}`);
    // The plan names where each secret comes from, never a value.
    expect(JSON.stringify(p)).not.toContain(`npm-${run}`);
  });

  it("builds nothing when a secret is missing, and names every missing one", async () => {
    const dir = project({ "api/Dockerfile": dockerfile, "web/Dockerfile": `FROM ${base}\n` });
    const p = plan({
      api: {
        context: "api",
        image: "slipway-test/bk-missing",
        secrets: { npm: { env: "NOT_SET_ANYWHERE" }, key: { file: "nope/key" } },
      },
      web: { context: "web", image: "slipway-test/bk-missing-web" },
    });
    const events: BuildEvent[] = [];
    const err = await applyBuild(p, { engine, root: dir, env: {}, onEvent: (e) => events.push(e) }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      /^cannot build: api: build secret 'npm' needs the environment variable NOT_SET_ANYWHERE, which is not set; api: build secret 'key' file nope\/key: ENOENT/,
    );
    expect(events).toEqual([]);
  });

  it("refuses a secret file outside the repository, directly or through a link (a pull request's config)", async () => {
    const outside = project({ "stolen.txt": "host secret" });
    const dir = project({ "api/Dockerfile": dockerfile });
    symlinkSync(join(outside, "stolen.txt"), join(dir, "link"));
    for (const file of [join(outside, "stolen.txt"), "../x/stolen.txt", "link"]) {
      const p = plan({
        api: { context: "api", image: "slipway-test/bk-escape", secrets: { key: { file } } },
      });
      const err = await applyBuild(p, { engine, root: dir, env: {} }).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/outside the directory of slipway.yaml/);
    }
  });
});

describe("registry features", () => {
  it("reuses the layers of a pushed image with inline cache metadata (cache_from)", async () => {
    const dockerfile = `FROM ${base}\nRUN echo ${run} expensive > /work\n`;
    const repository = `${registry.host}/bk/cached`;
    const first = project({ "api/Dockerfile": dockerfile });
    const p1 = plan({ api: { context: "api", image: repository, cache_to: ["inline"] } }, { tag: "first" });
    images.push(p1.services.api.reference);
    await applyBuild(p1, { engine, root: first, push: true });
    await engine.removeImage(p1.services.api.reference, { force: true });
    // A fresh build elsewhere, told to use the pushed image as its cache.
    const second = project({ "api/Dockerfile": dockerfile });
    const p2 = plan(
      { api: { context: "api", image: repository, cache_from: [p1.services.api.reference] } },
      { tag: "second" },
    );
    images.push(p2.services.api.reference);
    const logs: string[] = [];
    await applyBuild(p2, { engine, root: second, onLog: (_s, l) => logs.push(l) });
    expect(logs.join("\n")).toMatch(/importing cache manifest from .*bk\/cached:first/);
  });

  it("pushes several platforms as one index, and refuses them without --push", async () => {
    const dir = project({ "api/Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "api/hello.txt": run });
    const repository = `${registry.host}/bk/multi`;
    const p = plan({ api: { context: "api", image: repository, platforms: ["linux/amd64", "linux/arm64"] } });
    const refused = await applyBuild(p, { engine, root: dir }).catch((e) => e);
    expect((refused as Error).message).toMatch(
      /makes a multi-platform image, which only a registry can hold/,
    );
    for (const suffix of ["linux-amd64", "linux-arm64"]) images.push(`${p.services.api.reference}-${suffix}`);
    const result = await applyBuild(p, { engine, root: dir, push: true });
    const client = new RegistryClient({ host: registry.host, credentials: null });
    const index = await client.manifest("bk/multi", p.services.api.tags[0]);
    expect(index.mediaType).toBe("application/vnd.docker.distribution.manifest.list.v2+json");
    expect(index.digest).toBe(result.services.api.digest);
    expect(index.json.manifests?.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual([
      "linux/amd64",
      "linux/arm64",
    ]);
    const arm = await client.imageConfig("bk/multi", index.json.manifests?.[1].digest ?? "");
    expect(arm.architecture).toBe("arm64");
  });
});
