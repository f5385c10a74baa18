// planBuild is pure: change detection, dependency forcing, order and naming as tables.
import { describe, expect, it } from "vitest";
import type { BuildConfig } from "../config/index.js";
import { UserError } from "../lib/errors.js";
import {
  dependencyLevels,
  lastReleaseTag,
  planBuild,
  renderRepository,
  renderTag,
  tagVersion,
} from "./index.js";

const config: BuildConfig = {
  registry: "registry:5000",
  prefix: "chat",
  tag: "{prefix}-{service}_{version}",
  latest: false,
  builder: "auto",
  services: {
    base: { context: "images/base", image: "team/app" },
    gateway: {
      context: "services/gateway",
      image: "team/app",
      depends_on: ["base"],
      paths: ["libs/proto/**"],
    },
    worker: {
      context: "services/worker",
      image: "team/app",
      depends_on: ["base"],
      dockerfile: "../../docker/worker.Dockerfile",
    },
    web: { context: "web", image: "team/web", paths: ["package-lock.json", "shared"] },
    edge: { context: "edge", image: "team/edge", depends_on: ["gateway"] },
  },
};

const git = { sha: "0123456789abcdef0123456789abcdef01234567", branch: "main" };

function built(changedFiles: string[] | undefined, extra: Partial<Parameters<typeof planBuild>[0]> = {}) {
  const plan = planBuild({
    config,
    changedFiles,
    version: "1.3.0",
    git,
    previous: { version: "1.2.0", sha: "f".repeat(40) },
    ...extra,
  });
  return Object.values(plan.services)
    .filter((s) => s.build)
    .map((s) => s.name)
    .sort();
}

describe("planBuild change detection", () => {
  const cases: [string, string[] | undefined, string[]][] = [
    ["nothing changed", [], []],
    ["a file outside every service", ["README.md", "docs/x.md"], []],
    ["a file of a leaf", ["web/index.html"], ["web"]],
    ["a prefix that is not a directory boundary", ["webapp/x"], []],
    [
      "a dependency forces its dependents, transitively",
      ["images/base/Dockerfile"],
      ["base", "edge", "gateway", "worker"],
    ],
    ["a middle service forces only what depends on it", ["services/gateway/main.go"], ["edge", "gateway"]],
    ["a `paths` glob", ["libs/proto/chat.proto"], ["edge", "gateway"]],
    ["a `paths` directory without glob", ["shared/util.ts"], ["web"]],
    ["a `paths` file", ["package-lock.json"], ["web"]],
    ["a Dockerfile outside the context", ["docker/worker.Dockerfile"], ["worker"]],
    ["no previous release builds all", undefined, ["base", "edge", "gateway", "web", "worker"]],
  ];
  for (const [name, files, expected] of cases) it(name, () => expect(built(files)).toEqual(expected));

  it("--all builds all", () => {
    expect(built([], { all: true })).toEqual(["base", "edge", "gateway", "web", "worker"]);
  });

  it("takes the config directory into account (slipway.yaml not at the repository root)", () => {
    expect(built(["deploy/web/a.html"], { base: "deploy" })).toEqual(["web"]);
    expect(built(["web/a.html"], { base: "deploy" })).toEqual([]);
    expect(built(["deploy/libs/proto/a.proto"], { base: "deploy/" })).toEqual(["edge", "gateway"]);
  });

  it("says why", () => {
    const plan = planBuild({
      config,
      changedFiles: ["images/base/a", "images/base/b", "images/base/c", "images/base/d"],
      version: "1.3.0",
      git,
      previous: { version: "1.2.0", sha: git.sha },
    });
    expect(plan.services.base.reasons).toEqual([
      "changed: images/base/a, images/base/b, images/base/c (+1 more)",
    ]);
    expect(plan.services.edge.reasons).toEqual(["depends on gateway, rebuilt"]);
    expect(plan.services.web.reasons).toEqual(["unchanged since the last release"]);
  });

  it("builds a skipped dependency when there is no previous image to build on", () => {
    const plan = planBuild({ config, changedFiles: ["edge/x"], version: "1.3.0", git });
    expect(
      Object.values(plan.services)
        .filter((s) => s.build)
        .map((s) => s.name)
        .sort(),
    ).toEqual(["base", "edge", "gateway"]);
    expect(plan.services.gateway.reasons).toEqual(["needed by edge and no previous image is known"]);
  });
});

describe("planBuild order and names", () => {
  it("orders by topological levels", () => {
    const plan = planBuild({ config, version: "1.3.0", git });
    expect(plan.levels).toEqual([["base", "web"], ["gateway", "worker"], ["edge"]]);
    expect(plan.concurrency).toBe(2);
  });

  it("names one repository for many services: {prefix}-{service}_{version}", () => {
    const plan = planBuild({ config, version: "1.3.0", git, previous: { version: "1.2.0", sha: git.sha } });
    expect(plan.services.gateway).toMatchObject({
      repository: "registry:5000/team/app",
      tags: ["chat-gateway_1.3.0"],
      reference: "registry:5000/team/app:chat-gateway_1.3.0",
      previous: "registry:5000/team/app:chat-gateway_1.2.0",
      dockerfile: "Dockerfile",
    });
  });

  it("tags with sha, sha7, branch (sanitised) and latest", () => {
    const plan = planBuild({
      config: {
        ...config,
        tag: "{branch}-{sha7}",
        latest: true,
        services: { web: { context: "web", image: "ghcr.io/{prefix}/{service}" } },
      },
      version: "2.0.0+build.5",
      git: { sha: git.sha, branch: "feature/Login page" },
    });
    expect(plan.services.web.repository).toBe("ghcr.io/chat/web");
    expect(plan.services.web.tags).toEqual(["feature-Login-page-0123456", "latest"]);
  });

  it("sanitises values for tags and repositories", () => {
    const values = { service: "api", prefix: "p", version: "2.0.0+build.5", sha: git.sha, branch: "-x" };
    expect(renderTag("{version}", values)).toBe("2.0.0-build.5");
    expect(renderTag("{branch}", values)).toBe("_x");
    expect(renderTag("{sha}", values)).toBe(git.sha);
    expect(renderRepository("{prefix}/{service}", { service: "Chat_Gateway", prefix: "Team A" })).toBe(
      "team-a/chat_gateway",
    );
    expect(renderRepository("team/app", { service: "x", prefix: "" }, "localhost:5000")).toBe(
      "localhost:5000/team/app",
    );
    expect(renderRepository("other.io/team/app", { service: "x", prefix: "" }, "localhost:5000")).toBe(
      "other.io/team/app",
    );
    expect(() => renderRepository("team//app", { service: "x", prefix: "" })).toThrow(UserError);
  });

  it("refuses a dependency cycle before anything, naming it", () => {
    const cyclic: BuildConfig = {
      ...config,
      services: {
        a: { context: "a", image: "a", depends_on: ["b"] },
        b: { context: "b", image: "b", depends_on: ["a"] },
      },
    };
    expect(() => planBuild({ config: cyclic, version: "1", git })).toThrow(
      new UserError("depends_on cycle: a → b → a; nothing was built"),
    );
    expect(() => dependencyLevels({ x: ["x"] })).toThrow(/x → x/);
  });
});

describe("release tags", () => {
  it("finds the last release tag below HEAD", () => {
    expect(lastReleaseTag(["v1.0.0", "v1.10.0", "v1.9.0", "other"], [])).toBe("v1.10.0");
    expect(lastReleaseTag(["v1.0.0", "v1.1.0"], ["v1.1.0"])).toBe("v1.0.0");
    expect(lastReleaseTag(["v1.1.0"], ["v1.1.0"])).toBeUndefined();
    expect(lastReleaseTag(["x", "1.0.0"], [])).toBe("1.0.0");
    expect(tagVersion("v2.0.0-rc.1")).toBe("2.0.0-rc.1");
    expect(tagVersion("release-2")).toBeUndefined();
  });
});
