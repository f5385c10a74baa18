// The dry run's diff: one line per service, what changes and why, in start order.
import { describe, expect, it } from "vitest";
import { planDeploy } from "../deploy/index.js";
import { testService } from "../deploy/runtimes/testing.js";
import { renderDeployPlan } from "./deploy-plan.js";

const api = testService({
  name: "api",
  runtime: "docker",
  image: "app:1.2",
  strategy: { type: "blue-green", keepOldMs: 1 },
});
const web = testService({ name: "web", runtime: "docker", image: "web:1" });
const old = testService({ name: "old", runtime: "docker", image: "old:1" });
const spec = (...services: (typeof api)[]) => ({ app: "shop", maxStarting: 2, services });

describe("renderDeployPlan", () => {
  it("draws changed, new, unchanged, forced and removed services", () => {
    const current = {
      number: 3,
      doc: {
        spec: spec(api, web, old),
        revisions: { api: "r3", web: "r3", old: "r3" },
        hashes: {},
        changed: [],
      },
      images: {},
    };
    const worker = testService({
      name: "worker",
      runtime: "docker",
      image: "worker:1",
      strategy: { type: "rolling", maxSurge: 1, maxUnavailable: 0 },
    });
    const plan = planDeploy(
      current,
      { revision: "r4", spec: spec({ ...api, image: "app:1.3" }, web, worker) },
      { api: { revision: "r3", ready: 1 }, web: { revision: "r3", ready: 1 } },
    );
    expect(renderDeployPlan(plan, "production")).toBe(
      [
        "plan for shop/production (current release #3):",
        "~ api     r3 → r4  image app:1.2 → app:1.3  (blue-green)",
        "= web     r3 (unchanged)",
        "+ worker  r4 (new)  (rolling)",
        "- old     r3 (removed)",
        "2 to deploy, 1 left as it runs, 1 to remove",
        "nothing was prepared: a process service's changed files and changed secret values show only in the deploy",
        "",
      ].join("\n"),
    );
    const forced = planDeploy(
      current,
      { revision: "r4", spec: spec(api, web, old) },
      { api: { revision: "r3", ready: 0 } },
    );
    expect(renderDeployPlan(forced, "production")).toContain(
      "~ api  r3 → r4  forced: 0/1 ready instance(s) of r3  (blue-green)",
    );
  });
});
