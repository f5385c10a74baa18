// `slipway demo --server`: one command from a clone to the dashboard — it prints the URL and a token, and
// a browser signed in with that token sees the sample run finish with its job graph.
import { describe, expect } from "vitest";
import { cleanupAfterAll, tempDir, test, waitFor } from "../server/helpers.js";
import { signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

describe("demo --server", { timeout: 240_000 }, () => {
  test("prints the dashboard URL and a token that signs in; the sample run is on the dashboard", async ({
    h,
  }) => {
    const proc = h.spawn(["demo", "--server", "--json", "--dir", tempDir("slipway-demo-")], h.env());
    const printed = await waitFor(
      "the demo's URL",
      () => {
        const line = proc
          .stdout()
          .split("\n")
          .find((l) => l.startsWith("{"));
        return line ? (JSON.parse(line) as { url: string; token: string }) : undefined;
      },
      60_000,
    );
    expect(printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const server = { url: printed.url.replace(/\/$/, "") };
    const s = await signIn(browser(), server, printed.token);
    await s.page.click("tr[data-run] a");
    await s.page.waitForSelector(".run-head [data-state=success]", { timeout: 120_000 });
    // The graph: build's two matrix legs in one box, and the needs edges drawn.
    expect(await s.page.locator("[data-job=build] .leg").count()).toBe(2);
    expect(await s.page.locator(".graph polyline").count()).toBe(3);
    expect(s.errors).toEqual([]);
    await s.context.close();
    proc.kill("SIGINT");
    expect((await proc.exited).code).toBe(0);
  });
});
