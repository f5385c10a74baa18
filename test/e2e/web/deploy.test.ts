// Applications in Chromium: a release deployed through the server shows on the app page with its
// history, and a deployer rolls it back to the earlier release with the page's button; the service then
// answers as that release again. A viewer sees the same page without the button.
import { describe, expect } from "vitest";
import { addSampleApp, deployVersion, shutdownAgent, slipwayYaml } from "../server/deploy-fixture.js";
import { api, cleanupAfterAll, test, waitFor } from "../server/helpers.js";
import { signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

describe("applications", { timeout: 300_000 }, () => {
  test("deploys a release and rolls it back from the app page", async ({ h }) => {
    const server = await h.startServer();
    const { repo, port } = await addSampleApp(server, "acme/shop");
    const answer = async () => (await fetch(`http://127.0.0.1:${port}/`)).text();
    try {
      await deployVersion(server, "v1.0.0");
      repo.commit({ "slipway.yaml": slipwayYaml(port, "v2") }, "release v2");
      await deployVersion(server, "v2.0.0");
      expect(await answer()).toContain("v2");

      const viewerToken = (
        await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name: "ro", role: "viewer" })
      ).body.token;
      const v = await signIn(browser(), server, viewerToken);
      await v.page.goto(`${server.url}/apps/shop/production`);
      await v.page.waitForSelector("[data-testid=releases] tr[data-release='1']");
      expect(await v.page.locator("[data-action^=rollback]").count()).toBe(0);
      await v.context.close();

      const s = await signIn(browser(), server, server.token);
      await s.page.click("a.tab:has-text('Applications')");
      await s.page.click("tr[data-app='shop/production'] a");
      await s.page.waitForURL(/\/apps\/shop\/production$/);
      await s.page.waitForSelector("[data-testid=current]:has-text('#2')");
      await s.page.waitForSelector("[data-testid=releases] tr[data-release='2'] [data-state=succeeded]");
      // The current release offers no rollback to itself; the earlier one does.
      expect(await s.page.locator("[data-action=rollback-2]").count()).toBe(0);
      await s.page.click("[data-action=rollback-1]");
      await s.page.waitForSelector("[data-testid=releases] tr[data-release='3']:has-text('↺ #1')");
      await s.page.waitForSelector("[data-testid=current]:has-text('#3')");
      await waitFor("the service to answer as v1 again", async () => (await answer()).includes("v1"), 60_000);
      const releases = (await api(server, "GET", "/api/v1/releases?app=shop&env=production")).body.releases;
      expect(releases[0]).toMatchObject({ number: 3, kind: "rollback", rollbackOf: 1, actor: "admin" });
      expect(s.errors).toEqual([]);
      await s.context.close();
    } finally {
      await shutdownAgent(server, "shop");
    }
  });
});
