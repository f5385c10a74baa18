// applyBuild with the real engine and registry: the monorepo fixture (testdata/monorepo, three services, one
// depending on another) built as releases of a real git repository, then rebuilt after one change; a
// broken Dockerfile; an unreachable registry.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/ports.js";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { loadConfig } from "../config/index.js";
import { connectEngine } from "../engines/index.js";
import {
  applyBuild,
  BuildFailedError,
  type BuildEvent,
  type BuildResult,
  planBuild,
  pruneImages,
  RegistryClient,
  readGitState,
} from "./index.js";

const engine = connectEngine();
const fixtures = join(import.meta.dirname, "testdata");
const dirs: string[] = [];

async function gitIn(dir: string, ...args: string[]) {
  await execa("git", ["-c", "user.name=Slipway Test", "-c", "user.email=test@slipway.invalid", ...args], {
    cwd: dir,
  });
}

/** A git repository holding a copy of a fixture, committed and tagged. */
async function fixtureRepo(name: string, tag?: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${name}-`));
  dirs.push(dir);
  cpSync(join(fixtures, name), dir, { recursive: true });
  await gitIn(dir, "init", "-q", "-b", "main");
  await gitIn(dir, "add", "-A");
  await gitIn(dir, "commit", "-q", "-m", "initial");
  if (tag) await gitIn(dir, "tag", tag);
  return dir;
}

/** What `slipway build` does: config + git → plan → apply. */
async function release(repo: string, registry: string, events: BuildEvent[] = []): Promise<BuildResult> {
  const loaded = loadConfig(join(repo, "slipway.yaml"));
  const build = { ...loaded.config.build!, registry };
  const state = await readGitState(repo);
  const plan = planBuild({
    config: build,
    changedFiles: state.changedFiles,
    version: state.headVersion ?? state.sha.slice(0, 7),
    git: state,
    previous: state.previous,
  });
  return applyBuild(plan, {
    engine,
    root: loaded.dir,
    push: true,
    resultFile: join(repo, "out", "build.json"),
    onEvent: (e) => events.push(e),
    git: state,
  });
}

/** Runs a command in a fresh container of an image; its stdout. */
async function runIn(image: string, cmd: string[]): Promise<string> {
  const id = await engine.createContainer({ image, cmd, labels: { "io.slipway.test": "apply" } });
  try {
    await engine.startContainer(id);
    expect(await engine.waitContainer(id)).toBe(0);
    return (await engine.containerLogs(id)).stdout;
  } finally {
    await engine.removeContainer(id, { force: true });
  }
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("applyBuild on a monorepo", () => {
  let registry: TestRegistry;
  let repo: string;
  beforeAll(async () => {
    registry = await startRegistry();
    repo = await fixtureRepo("monorepo", "v1.0.0");
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it("builds every service of the first release in dependency order and pushes them", async () => {
    const events: BuildEvent[] = [];
    const result = await release(repo, registry.host, events);
    const image = `${registry.host}/team/monorepo`;
    expect(
      Object.fromEntries(
        Object.entries(result.services).map(([n, s]) => [n, [s.status, s.reference, s.pushed]]),
      ),
    ).toEqual({
      base: ["built", `${image}:mono-base_1.0.0`, true],
      worker: ["built", `${image}:mono-worker_1.0.0`, true],
      api: ["built", `${image}:mono-api_1.0.0`, true],
    });
    for (const s of Object.values(result.services)) expect(s.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // api waited for base; base and worker did not wait for each other.
    const order = events
      .filter((e) => e.type === "started" || e.type === "built")
      .map((e) => `${e.type}:${e.service}`);
    expect(order.indexOf("built:base")).toBeLessThan(order.indexOf("started:api"));
    expect(order.indexOf("started:worker")).toBeLessThan(order.indexOf("built:base"));

    const client = new RegistryClient({ host: registry.host, credentials: null });
    expect((await client.tags("team/monorepo")).sort()).toEqual([
      "mono-api_1.0.0",
      "mono-base_1.0.0",
      "mono-worker_1.0.0",
    ]);
    expect(await client.digest("team/monorepo", "mono-api_1.0.0")).toBe(result.services.api.digest);
    expect(JSON.parse(readFileSync(join(repo, "out", "build.json"), "utf8"))).toEqual(result);
    // api is built on this release's base, without what its .dockerignore excludes.
    expect(
      await runIn(result.services.api.reference!, [
        "sh",
        "-c",
        "cat /combined.txt; ls /README.md 2>&1 || true",
      ]),
    ).toBe("base v1\napi v1\nls: /README.md: No such file or directory\n");
  });

  it("rebuilds only the changed service and its dependents in the next release", async () => {
    appendFileSync(join(repo, "services/base/base.txt"), "base v2\n");
    await gitIn(repo, "commit", "-q", "-am", "change base");
    await gitIn(repo, "tag", "v1.1.0");
    const image = `${registry.host}/team/monorepo`;
    const second = await release(repo, registry.host);
    expect(
      Object.fromEntries(Object.entries(second.services).map(([n, s]) => [n, [s.status, s.reference]])),
    ).toEqual({
      base: ["built", `${image}:mono-base_1.1.0`],
      worker: ["skipped", `${image}:mono-worker_1.0.0`],
      api: ["built", `${image}:mono-api_1.1.0`],
    });
    expect(second.services.api.reasons).toEqual(["depends on base, rebuilt"]);
    expect(await runIn(second.services.api.reference!, ["cat", "/combined.txt"])).toBe(
      "base v1\nbase v2\napi v1\n",
    );

    // A change to a file outside any context that a service lists in `paths`; api builds on the skipped base.
    appendFileSync(join(repo, "services/api/app.txt"), "api v2\n");
    appendFileSync(join(repo, "libs/shared.txt"), "shared v2\n");
    await gitIn(repo, "commit", "-q", "-am", "change api and libs");
    await gitIn(repo, "tag", "v1.2.0");
    const third = await release(repo, registry.host);
    expect(Object.fromEntries(Object.entries(third.services).map(([n, s]) => [n, s.status]))).toEqual({
      base: "skipped",
      worker: "built",
      api: "built",
    });
    expect(third.services.base.reference).toBe(`${image}:mono-base_1.1.0`);
    expect(third.services.worker.reasons).toEqual(["changed: libs/shared.txt"]);
    expect(await runIn(third.services.api.reference!, ["cat", "/combined.txt"])).toBe(
      "base v1\nbase v2\napi v1\napi v2\n",
    );
  });
});

describe("applyBuild failures", () => {
  it("surfaces the failing instruction, builds what does not depend on it, and writes the result", async () => {
    const repo = await fixtureRepo("broken");
    const loaded = loadConfig(join(repo, "slipway.yaml"));
    const plan = planBuild({
      config: loaded.config.build!,
      version: "0.0.1",
      git: { sha: "a".repeat(40), branch: "main" },
    });
    const logs: string[] = [];
    const err = await applyBuild(plan, {
      engine,
      root: repo,
      resultFile: join(repo, "result.json"),
      onLog: (service, line) => logs.push(`${service}: ${line}`),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildFailedError);
    const result = (err as BuildFailedError).result;
    expect(result.services.ok.status).toBe("built");
    expect(result.services.broken.status).toBe("failed");
    expect(result.services.broken.error).toMatch(
      /^build of slipway-test\/broken:0.0.1 failed at step 3\/\d+: COPY missing-file.txt \/x\n.*"\/missing-file.txt" not found/,
    );
    expect(result.services.after).toMatchObject({ status: "cancelled", error: "dependency broken failed" });
    expect((err as Error).message).toContain("COPY missing-file.txt /x");
    expect((err as Error).message).toContain("not built: after");
    expect(logs.some((l) => /^broken: #\d+ \[2\/\d+\] RUN echo step one$/.test(l))).toBe(true);
    expect(JSON.parse(readFileSync(join(repo, "result.json"), "utf8"))).toEqual(result);
    // Dangling images from the failed build are the engine's to prune.
    const pruned = await pruneImages(engine, { onlySlipway: true });
    expect(pruned.spaceReclaimed).toBeGreaterThanOrEqual(0);
  });

  it("retries an unreachable registry with backoff, then fails clearly", async () => {
    const repo = await fixtureRepo("monorepo");
    const loaded = loadConfig(join(repo, "slipway.yaml"));
    const port = await freePort();
    const config = {
      ...loaded.config.build!,
      registry: `127.0.0.1:${port}`,
      services: { worker: loaded.config.build!.services.worker },
    };
    const plan = planBuild({ config, version: "9.9.9", git: { sha: "b".repeat(40), branch: "main" } });
    const events: BuildEvent[] = [];
    const err = await applyBuild(plan, {
      engine,
      root: loaded.dir,
      push: true,
      retry: { attempts: 3, baseDelayMs: 50 },
      onEvent: (e) => events.push(e),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildFailedError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `worker: push of 127.0.0.1:${port}/team/monorepo:mono-worker_9.9.9 failed: .*connection refused.*gave up after 3 attempts`,
      ),
    );
    expect(events.filter((e) => e.type === "retry").map((e) => (e as { delayMs: number }).delayMs)).toEqual([
      50, 100,
    ]);
    await engine.removeImage(`127.0.0.1:${port}/team/monorepo:mono-worker_9.9.9`, { force: true });
  });
});
