// The app page in Chromium: the routers' live figures per version, drawn by uPlot under the dashboard's
// strict CSP, while a small bounded load runs through the router across two releases; and each release's
// "what changed" against the previous one. The second release's version is markup (an <img onerror>, a
// <script>): the chart's legend, the figures table and the diff show it as text, and nothing runs. A
// viewer sees all of it; the figures endpoint refuses a request without a session or token.
import http from "node:http";
import { describe, expect } from "vitest";
import { addSampleApp, appJs, deployVersion, shutdownAgent, slipwayYaml } from "../server/deploy-fixture.js";
import { api, cleanupAfterAll, test, waitFor } from "../server/helpers.js";
import { signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

const evilVersion = 'v2.0.0<img src=x onerror="alert(1)"><script>alert(2)</script>';

/** About 25 requests a second through the router until stopped, at most `max` in all. */
function steadyLoad(port: number, max: number) {
  let stopped = false;
  let sent = 0;
  let failed = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const one = () =>
    new Promise<void>((resolve) => {
      http
        .get(`http://127.0.0.1:${port}/`, { agent }, (res) => {
          if ((res.statusCode ?? 0) >= 500) failed++;
          res.resume();
          res.on("end", () => resolve());
        })
        .on("error", () => {
          failed++;
          resolve();
        });
    });
  const done = (async () => {
    while (!stopped && sent < max) {
      sent++;
      await one();
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      agent.destroy();
      return { sent, failed };
    },
  };
}

describe("app page figures and release changes", { timeout: 300_000 }, () => {
  test("shows per-version live figures and what each release changed, as text", async ({ h }) => {
    const server = await h.startServer();
    const { repo, port } = await addSampleApp(server, "acme/shop");
    const figuresPath = "/api/v1/deploy/shop/production/figures";
    let load: ReturnType<typeof steadyLoad> | undefined;
    try {
      await deployVersion(server, "v1.0.0");
      load = steadyLoad(port, 3000);
      // A few samples of r1 alone, then the second release under the same load.
      await new Promise((r) => setTimeout(r, 5000));
      // New code too: the process service's snapshot (its image) changes with it.
      repo.commit(
        { "slipway.yaml": slipwayYaml(port, "v2"), "app/server.mjs": `${appJs}\n// v2\n` },
        "release v2",
      );
      await deployVersion(server, evilVersion);
      await new Promise((r) => setTimeout(r, 5000));

      // The endpoint: no session or token, nothing; a viewer's token, the figures.
      expect((await fetch(`${server.url}${figuresPath}`)).status).toBe(401);
      const viewerToken = (
        await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name: "ro", role: "viewer" })
      ).body.token;
      const viaApi = await fetch(`${server.url}${figuresPath}`, {
        headers: { authorization: `Bearer ${viewerToken}` },
      });
      expect(viaApi.status).toBe(200);
      const doc = (await viaApi.json()) as {
        agent: boolean;
        services: { service: string; versions: Record<string, { rps: (number | null)[] }> }[];
      };
      expect(doc.agent).toBe(true);
      const api1 = doc.services.find((s) => s.service === "api");
      expect(Object.keys(api1?.versions ?? {}).sort()).toEqual(["r1", "r2"]);
      expect(Math.max(...api1!.versions.r1.rps.map((x) => x ?? 0))).toBeGreaterThan(5);
      expect(Math.max(...api1!.versions.r2.rps.map((x) => x ?? 0))).toBeGreaterThan(5);

      const v = await signIn(browser(), server, viewerToken);
      const cspViolations: string[] = [];
      v.page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      await v.page.goto(`${server.url}/apps/shop/production`);
      const section = v.page.locator("[data-testid=figures] section[data-service=api]");
      // uPlot drew a canvas with a legend entry per version, labelled with the release's version as text.
      await section.locator("[data-testid=figures-chart] canvas").first().waitFor();
      const legend = section.locator(".u-legend");
      await legend.waitFor();
      await waitFor("both versions in the legend", async () => {
        const t = (await legend.textContent()) ?? "";
        return t.includes("r1 · v1.0.0") && t.includes(`r2 · ${evilVersion}`);
      });
      const latest = section.locator("[data-testid=figures-latest]");
      expect(await latest.locator("tr[data-version=r2] td").first().textContent()).toBe(
        `r2 · ${evilVersion}`,
      );
      await waitFor("r2 serving in the latest figures", async () => {
        const rps = Number(await latest.locator("tr[data-version=r2] td").nth(1).textContent());
        return rps > 5;
      });
      // The other metrics redraw the same series.
      await section.locator("button[data-metric=p99]").click();
      await section.locator(".u-legend").waitFor();
      expect(await section.locator(".u-legend").textContent()).toContain("r1 · v1.0.0");

      // What release #2 changed against #1: the version and the spec's env, as text.
      const diff = v.page.locator("[data-testid=diff-2]");
      await diff.locator("summary").click();
      const text = (await diff.locator("[data-testid=diff-text]").textContent()) ?? "";
      expect(text).toContain(`version: v1.0.0 → ${evilVersion}`);
      expect(text).toContain('env.APP_VERSION: "v1" → "v2"');
      expect(text).toContain('revision: "r1" → "r2"');
      const image = /^ {4}image: "([^"]+)" → "([^"]+)"$/m.exec(text);
      expect(image, text).not.toBeNull();
      expect(image![1]).not.toBe(image![2]);
      expect(
        await v.page.locator("[data-testid=diff-1]").count(),
        "the first release has nothing before it",
      ).toBe(0);

      // The markup stayed text: no element was made from it, nothing ran, the CSP refused nothing.
      expect(await v.page.locator("main img, main script").count()).toBe(0);
      expect(v.dialogs).toEqual([]);
      expect(v.errors).toEqual([]);
      expect(cspViolations).toEqual([]);
      await v.context.close();

      const { sent, failed } = await load.stop();
      load = undefined;
      expect(sent).toBeGreaterThan(100);
      expect(failed, "the rollout cost the load nothing").toBe(0);
    } finally {
      await load?.stop();
      await shutdownAgent(server, "shop");
    }
  });
});
