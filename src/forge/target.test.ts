import { describe, expect, it } from "vitest";
import { appBadge, renderBadge, workflowBadge } from "./badges.js";
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
});
