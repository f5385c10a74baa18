// planDeploy: for each service, the revision it ends on and why it rolls out or is left alone, exact
// (with what preparing found and the secret values) and from the spec alone (a dry run).
import { describe, expect, it } from "vitest";
import { type CurrentRelease, type ImageRef, planDeploy, serviceHash } from "./plan.js";
import { testService } from "./runtimes/testing.js";
import type { DeploySpec, ServiceSpec } from "./types.js";

const api = testService({
  name: "api",
  runtime: "docker",
  image: "app:1.2",
  replicas: 2,
  env: { MODE: "prod" },
  strategy: { type: "blue-green", keepOldMs: 1000 },
});
const web = testService({
  name: "web",
  runtime: "docker",
  image: "web:1",
  dependsOn: [{ service: "api", condition: "healthy" }],
});

const spec = (...services: ServiceSpec[]): DeploySpec => ({ app: "shop", maxStarting: 2, services });
const images = (services: ServiceSpec[]): Record<string, ImageRef> =>
  Object.fromEntries(services.map((s) => [s.name, { image: s.image, digest: `sha256:${s.image}` }]));

/** Release #3: api and web as above, both on r3, hashed as the controller hashes them. */
function current(services = [api, web], secrets: Record<string, string> = {}): CurrentRelease {
  const imgs = images(services);
  return {
    number: 3,
    doc: {
      spec: spec(...services),
      revisions: Object.fromEntries(services.map((s) => [s.name, "r3"])),
      hashes: Object.fromEntries(services.map((s) => [s.name, serviceHash(s, imgs[s.name], secrets)])),
      changed: services.map((s) => s.name),
    },
    images: imgs,
  };
}
const running = { api: { revision: "r3", ready: 2 }, web: { revision: "r3", ready: 1 } };
const exact = (services: ServiceSpec[], secrets: Record<string, string> = {}) => ({
  revision: "r4",
  spec: spec(...services),
  prepared: { images: images(services), secrets },
});
const byName = (plan: ReturnType<typeof planDeploy>, name: string) =>
  plan.services.find((s) => s.name === name);

describe("planDeploy", () => {
  it("leaves an unchanged service on its revision, and says so", () => {
    const plan = planDeploy(current(), exact([api, web]), running);
    expect(plan.changed).toEqual([]);
    expect(byName(plan, "api")).toMatchObject({ revision: "r3", from: "r3", skip: "unchanged" });
    expect(byName(plan, "api")?.reasons).toBeUndefined();
    expect(plan.exact).toBe(true);
    expect(plan.revisions).toEqual({ api: "r3", web: "r3" });
    expect(plan.hashes).toEqual(current().doc.hashes);
  });

  it("rolls a service out when its image changed, with the old and new images", () => {
    const next = { ...api, image: "app:1.3" };
    const plan = planDeploy(current(), exact([next, web]), running);
    expect(plan.changed).toEqual(["api"]);
    expect(byName(plan, "api")).toMatchObject({
      revision: "r4",
      from: "r3",
      image: "app:1.3",
      fromImage: "app:1.2",
      strategy: "blue-green",
      reasons: ["image"],
    });
    expect(byName(plan, "web")?.skip).toBe("unchanged");
  });

  it("sees a new digest behind the same tag as an image change", () => {
    const prepared = {
      images: { ...images([api, web]), api: { image: "app:1.2", digest: "sha256:rebuilt" } },
      secrets: {},
    };
    const plan = planDeploy(current(), { revision: "r4", spec: spec(api, web), prepared }, running);
    expect(byName(plan, "api")?.reasons).toEqual(["image"]);
  });

  it("rolls a service out when its environment changed", () => {
    const plan = planDeploy(current(), exact([{ ...api, env: { MODE: "debug" } }, web]), running);
    expect(byName(plan, "api")?.reasons).toEqual(["env"]);
  });

  it("rolls a service out when its other settings changed (config)", () => {
    const plan = planDeploy(current(), exact([{ ...api, replicas: 3 }, web]), running);
    expect(byName(plan, "api")?.reasons).toEqual(["config"]);
  });

  it("tells several reasons at once", () => {
    const plan = planDeploy(current(), exact([{ ...api, image: "app:2", env: {}, port: 80 }, web]), running);
    expect(byName(plan, "api")?.reasons).toEqual(["image", "env", "config"]);
  });

  it("rolls a service out when a secret's value changed, which only the hash shows", () => {
    const withSecret = { ...api, secrets: [{ name: "TOKEN" }] };
    const before = current([withSecret, web], { TOKEN: "old" });
    expect(planDeploy(before, exact([withSecret, web], { TOKEN: "old" }), running).changed).toEqual([]);
    const plan = planDeploy(before, exact([withSecret, web], { TOKEN: "new" }), running);
    expect(byName(plan, "api")).toMatchObject({ revision: "r4", reasons: ["secrets"] });
  });

  it("forces a rollout when what runs is not what the release recorded", () => {
    const plan = planDeploy(current(), exact([api, web]), { ...running, api: { revision: "r3", ready: 1 } });
    expect(byName(plan, "api")).toMatchObject({ revision: "r4", reasons: ["forced"] });
    expect(byName(plan, "api")?.detail).toContain("1/2 ready");
    expect(byName(plan, "web")?.skip).toBe("unchanged");
  });

  it("deploys a service the current release does not have as new", () => {
    const worker = testService({ name: "worker", runtime: "docker", image: "worker:1" });
    const plan = planDeploy(current(), exact([api, web, worker]), running);
    expect(byName(plan, "worker")).toMatchObject({ revision: "r4", reasons: ["new"], from: undefined });
    expect(plan.changed).toEqual(["worker"]);
  });

  it("deploys everything as new on the first release", () => {
    const plan = planDeploy(undefined, exact([api, web]), {});
    expect(plan.changed).toEqual(["api", "web"]);
    expect(plan.services.every((s) => s.reasons?.[0] === "new")).toBe(true);
    expect(plan.current).toBeUndefined();
  });

  it("removes the services no longer in the spec", () => {
    const plan = planDeploy(current(), exact([api]), running);
    expect(plan.removed).toEqual([{ name: "web", revision: "r3" }]);
    expect(plan.spec.services.map((s) => s.name)).toEqual(["api"]);
  });

  it("with --service keeps the others as they are: not selected, not removed", () => {
    const next = { ...api, image: "app:1.3" };
    const plan = planDeploy(current(), { ...exact([next]), only: ["api"] }, running);
    expect(plan.removed).toEqual([]);
    expect(plan.spec.services.map((s) => s.name)).toEqual(["api", "web"]);
    expect(byName(plan, "web")).toMatchObject({ revision: "r3", skip: "not-selected", image: "web:1" });
    expect(plan.strategy).toEqual({ api: "blue-green" });
  });

  it("gives a rollback's services the revisions of the release it goes back to", () => {
    const older = { ...api, image: "app:1.1" };
    const plan = planDeploy(
      current(),
      { ...exact([older, web]), rollbackRevisions: { api: "r2", web: "r2" } },
      running,
    );
    expect(byName(plan, "api")).toMatchObject({ revision: "r2", reasons: ["image"] });
    expect(byName(plan, "web")).toMatchObject({ revision: "r3", skip: "unchanged" });
  });

  it("without preparing (a dry run) judges by the spec and records no hash", () => {
    const plan = planDeploy(current(), { revision: "r4", spec: spec({ ...api, image: "app:1.3" }, web) });
    expect(plan.exact).toBe(false);
    expect(plan.hashes).toEqual({});
    expect(byName(plan, "api")).toMatchObject({ revision: "r4", reasons: ["image"], from: "r3" });
    expect(byName(plan, "web")).toMatchObject({ skip: "unchanged", from: "r3" });
  });

  it("ignores where a snapshotted process service's checkout lies", () => {
    const proc = testService({ name: "p", cwd: "/work/a/app", command: ["node", "app.js"] });
    const moved = { ...proc, cwd: "/work/b/app" };
    const snap = { p: { image: "/snapshots/abc", digest: "abc" } };
    const before: CurrentRelease = {
      number: 1,
      doc: {
        spec: spec(proc),
        revisions: { p: "r1" },
        hashes: { p: serviceHash(proc, snap.p, {}) },
        changed: ["p"],
      },
      images: snap,
    };
    const plan = planDeploy(
      before,
      { revision: "r2", spec: spec(moved), prepared: { images: snap, secrets: {} } },
      { p: { revision: "r1", ready: 1 } },
    );
    expect(byName(plan, "p")?.skip).toBe("unchanged");
  });

  it("in a dry run, a process service running from a snapshot is unchanged when its spec is", () => {
    const proc = testService({ name: "p", cwd: "/work/a/app", command: ["node", "app.js"] });
    const snap = { p: { image: "/snapshots/abc", digest: "abc" } };
    const before: CurrentRelease = {
      number: 1,
      doc: {
        spec: spec(proc),
        revisions: { p: "r1" },
        hashes: { p: serviceHash(proc, snap.p, {}) },
        changed: ["p"],
      },
      images: snap,
    };
    const plan = planDeploy(
      before,
      { revision: "r2", spec: spec(proc) },
      { p: { revision: "r1", ready: 1 } },
    );
    expect(byName(plan, "p")?.skip).toBe("unchanged");
    expect(
      byName(planDeploy(before, { revision: "r2", spec: spec({ ...proc, replicas: 2 }) }), "p")?.reasons,
    ).toEqual(["config"]);
  });
});
