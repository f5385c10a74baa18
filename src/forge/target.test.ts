import { describe, expect, it } from "vitest";
import { appBadge, healthBadge, type LiveStatus, renderBadge, workflowBadge } from "./badges.js";
import { forgeState, statusRequest } from "./requests.js";
import { parseRemote, resolveTarget } from "./target.js";

describe("forge targets", () => {
  it.each([
    ["https://github.com/acme/app.git", { host: "github.com", path: "acme/app" }],
    ["git@github.com:acme/app.git", { host: "github.com", path: "acme/app" }],
    ["ssh://git@git.example:2222/group/sub/app", { host: "git.example:2222", path: "group/sub/app" }],
    ["/srv/git/app", undefined],
    ["https://github.com/acme", undefined],
  ])("reads %s", (url, expected) => {
    expect(parseRemote(url)).toEqual(expected);
  });

  it("needs no setting for github.com; settings win; other hosts must say", () => {
    expect(resolveTarget("https://github.com/acme/app", null)).toEqual({
      provider: "github",
      apiUrl: "https://api.github.com",
      project: "acme/app",
    });
    expect(
      resolveTarget("https://ghe.example/acme/app", { provider: "github", apiUrl: null, project: null }),
    ).toEqual({
      provider: "github",
      apiUrl: "https://ghe.example/api/v3",
      project: "acme/app",
    });
    expect(
      resolveTarget("https://git.example/acme/app", { provider: "gitea", apiUrl: null, project: null }),
    ).toMatchObject({
      apiUrl: "https://git.example/api/v1",
    });
    expect(resolveTarget("https://git.example/acme/app", null)).toEqual({
      reason: "git.example is not github.com: set the forge (github, gitea or gitlab) and its API URL",
    });
    expect(resolveTarget("/srv/app", { provider: "gitea", apiUrl: null, project: "a/b" })).toEqual({
      reason: "set the forge's API URL",
    });
  });

  it("spells states as each forge does and encodes paths", () => {
    expect(forgeState("github", "running")).toBe("pending");
    expect(forgeState("gitlab", "failure")).toBe("failed");
    expect(forgeState("gitlab", "error")).toBe("canceled");
    const t = { provider: "gitlab" as const, apiUrl: "https://g/api/v4", project: "a/b c" };
    expect(
      statusRequest(t, { sha: "abc", state: "running", context: "x".repeat(300), description: "d" }),
    ).toMatchObject({
      path: "/projects/a%2Fb%20c/statuses/abc",
      body: { state: "running", name: `${"x".repeat(254)}…` },
    });
  });
});

describe("badges", () => {
  it("escapes every text: a workflow name with markup stays text", () => {
    const svg = renderBadge(workflowBadge(`<script>alert(1)</script>"&'`, "success"));
    expect(svg).not.toMatch(/<script|"&'/);
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&apos;");
    expect(svg.match(/<text/g)).toHaveLength(2);
  });

  it("says passing, failing or no runs; an app's health from its newest release", () => {
    expect(workflowBadge("ci", "failure").message).toBe("failing");
    expect(workflowBadge("ci", undefined).message).toBe("no runs");
    expect(appBadge("web", "prod", undefined).message).toBe("not deployed");
    expect(appBadge("web", "prod", { status: "succeeded", version: "v2", number: 3 } as never).message).toBe(
      "healthy v2",
    );
    expect(appBadge("web", "prod", { status: "failed", version: null, number: 3 } as never).color).toBe(
      "#e05d44",
    );
  });

  describe("an app's live health from its agent's status", () => {
    const release = { status: "succeeded", version: "v1.2.3", number: 4 } as never;
    const instance = (
      o: { revision?: string; state?: string; healthy?: boolean; address?: string } = {},
    ) => ({
      id: "shop-api-4f2a",
      revision: o.revision ?? "r2",
      state: o.state ?? "ready",
      healthy: o.healthy ?? true,
      address: o.address ?? "10.1.2.3:41234",
    });
    const live = (instances: ReturnType<typeof instance>[], more: Partial<LiveStatus> = {}): LiveStatus => ({
      agent: { pid: 1 },
      current: { number: 4, version: "v1.2.3" },
      active: null,
      services: [{ revision: "r2", replicas: 2, instances }],
      ...more,
    });
    const badge = (s: LiveStatus | undefined, r: unknown = release) =>
      healthBadge("shop", "prod", s, r as never);

    it.each([
      ["every replica healthy", live([instance(), instance()]), "healthy v1.2.3", "#4c1"],
      ["one unhealthy", live([instance(), instance({ healthy: false })]), "degraded 1/2", "#dfb317"],
      [
        "one still starting",
        live([instance(), instance({ state: "starting", healthy: false })]),
        "degraded 1/2",
        "#dfb317",
      ],
      ["none healthy", live([instance({ healthy: false })]), "down", "#e05d44"],
      ["no instance", live([]), "down", "#e05d44"],
      // An old revision's instance kept for a rollback serves nothing: it does not count.
      [
        "a kept old revision",
        live([instance(), instance({ revision: "r1", state: "kept" })]),
        "degraded 1/2",
        "#dfb317",
      ],
      ["more instances than replicas", live([instance(), instance(), instance()]), "healthy v1.2.3", "#4c1"],
      ["a deploy in progress", live([instance()], { active: { number: 5 } }), "deploying v1.2.3", "#007ec6"],
    ])("%s", (_, status, message, color) => {
      const b = badge(status);
      expect([b.message, b.color]).toEqual([message, color]);
      // Counts only: no instance id, revision or address.
      const svg = renderBadge(b);
      expect(svg).not.toMatch(/10\.1\.2\.3|41234|4f2a|r2/);
    });

    it("says unknown when no agent answers, with the last release", () => {
      expect(badge({ agent: null, current: null }).message).toBe("unknown, last v1.2.3");
      expect(badge(undefined).color).toBe("#9f9f9f");
      expect(badge(undefined, { status: "failed", version: "v1.2.4", number: 5 })).toMatchObject({
        message: "unknown, last failed",
        color: "#e05d44",
      });
      expect(healthBadge("shop", "prod", undefined, undefined).message).toBe("not deployed");
    });

    it("sums the services: both must be whole for healthy", () => {
      const two = live([], {
        services: [
          { revision: "a", replicas: 1, instances: [instance({ revision: "a" })] },
          { revision: "b", replicas: 2, instances: [instance({ revision: "b" })] },
        ],
      });
      expect(badge(two).message).toBe("degraded 2/3");
    });
  });
});
