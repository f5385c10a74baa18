// The Deployer applying plans, on a runtime of records and a real SQLite store: what a deploy touches
// (only what the plan changes), what it records, and how a failed rollout is put back.
import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../store/index.js";
import { Deployer, type ReleaseDocument } from "./controller.js";
import { tempDir, testService } from "./runtimes/testing.js";
import { memoryRuntime } from "./testing.js";
import type { DeploySpec, HealthSpec, ServiceSpec } from "./types.js";

// The probe is the runtime's exec: instant, and failing for the images the test names.
const health: HealthSpec = {
  type: "exec",
  command: ["true"],
  intervalMs: 5,
  timeoutMs: 100,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  startPeriodMs: 0,
  deadlineMs: 200,
};
const svc = (name: string, image: string, extra: Partial<ServiceSpec> = {}) =>
  testService({
    name,
    runtime: "docker",
    image,
    health,
    strategy: { type: "rolling", maxSurge: 1, maxUnavailable: 0 },
    ...extra,
  });
const spec = (...services: ServiceSpec[]): DeploySpec => ({ app: "shop", maxStarting: 4, services });

describe("Deployer", () => {
  let dir: string;
  let store: Store;
  let runtime: ReturnType<typeof memoryRuntime>;
  let deployer: Deployer;

  beforeEach(async () => {
    dir = tempDir("slipway-deployer-");
    store = await openStore({ dataDir: dir });
    runtime = memoryRuntime({ unhealthy: new Set(["api:bad"]) });
    deployer = new Deployer({
      app: "shop",
      env: "test",
      runtime,
      store,
      holder: "test",
      monitorIntervalMs: 60_000,
    });
    await deployer.start();
  });
  afterEach(async () => {
    await deployer.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const deploy = (s: DeploySpec, only?: string[]) =>
    deployer.deploy({ spec: s, only, trigger: "test", actor: "tester" });

  it("rolls out only what the plan changes, and records the plan's revisions", async () => {
    const first = await deploy(spec(svc("api", "api:1", { replicas: 2 }), svc("web", "web:1")));
    expect(first.status).toBe("succeeded");
    expect((first.spec as ReleaseDocument).revisions).toEqual({ api: "r1", web: "r1" });
    expect(runtime.running()).toHaveLength(3);

    runtime.ops.length = 0;
    const same = await deploy(spec(svc("api", "api:1", { replicas: 2 }), svc("web", "web:1")));
    expect(same.status).toBe("succeeded");
    expect((same.spec as ReleaseDocument).changed).toEqual([]);
    expect(runtime.ops, "an unchanged deploy touches nothing").toEqual([]);

    const next = await deploy(spec(svc("api", "api:2", { replicas: 2 }), svc("web", "web:1")));
    expect((next.spec as ReleaseDocument).changed).toEqual(["api"]);
    expect((next.spec as ReleaseDocument).revisions).toEqual({ api: "r3", web: "r1" });
    expect(runtime.ops.filter((op) => op.startsWith("start"))).toEqual(["start api r3", "start api r3"]);
    expect(runtime.ops.filter((op) => op.startsWith("stop"))).toEqual(["stop api r1", "stop api r1"]);
    expect(runtime.running("api").map((i) => i.labels.release)).toEqual(["r3", "r3"]);
  });

  it("a service that fails its health check is put back; the release says failed, rolled back", async () => {
    await deploy(spec(svc("api", "api:1", { replicas: 2 })));
    const failed = await deploy(spec(svc("api", "api:bad", { replicas: 2 })));
    expect(failed.status).toBe("failed");
    expect(failed.phase).toBe("rolled back");
    expect(failed.error).toContain("did not become ready");
    expect(runtime.running("api").map((i) => i.labels.release)).toEqual(["r1", "r1"]);
    expect((await store.releases.current("shop", "test"))?.number).toBe(1);
  });

  it("stops a service the spec no longer has, and keeps the others with --service", async () => {
    await deploy(spec(svc("api", "api:1"), svc("web", "web:1")));
    const narrowed = await deploy(spec(svc("api", "api:2")), ["api"]);
    expect((narrowed.spec as ReleaseDocument).spec.services.map((s) => s.name)).toEqual(["api", "web"]);
    expect(runtime.running("web")).toHaveLength(1);

    const removed = await deploy(spec(svc("api", "api:2")));
    expect(removed.status).toBe("succeeded");
    expect(runtime.running("web")).toEqual([]);
    expect(runtime.running("api").map((i) => i.labels.release)).toEqual(["r2"]);
  });
});
