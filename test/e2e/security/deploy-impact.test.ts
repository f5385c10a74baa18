// A release's recorded impact counts every request the router received in the window, including those
// no version could take (issue 10, reliability): a `recreate` deploy under a bounded probe, through the
// Node router and through HAProxy — the failures the release records are at least the 5xx the probe saw
// (before, the router's own no-route 503s were counted nowhere and the release said "0 failed").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, makeAppDir, startLoad } from "../deploy/helpers.js";

function spec(port: number, router: "node" | "haproxy", version: string) {
  return {
    app: `impact-${router}`,
    router,
    services: {
      api: {
        command: "node server.mjs",
        cwd: "./app",
        replicas: 1,
        publish: port,
        // The new version listens only after 1.5 s: the recreate's gap, where the router has no route.
        env: { APP_VERSION: version, READY_AFTER_MS: version === "v1" ? "0" : "1500" },
        health: { http: "/healthz", interval: "100ms", deadline: "20s" },
        drain_timeout: "1s",
        strategy: "recreate",
      },
    },
  };
}

type Impact = {
  services: Record<string, Record<string, { requests: number; failed: number; errors5xx: number }>>;
};

describe.each(["node", "haproxy"] as const)("release impact under a recreate (%s router)", (router) => {
  let app: AppDir;
  let port: number;
  beforeAll(async () => {
    app = makeAppDir(`impact-${router}`);
    port = await freePort();
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("records at least as many failures as the probe saw 5xx", async () => {
    app.writeSpec(spec(port, router, "v1"));
    const first = await app.cli(["deploy", "--json"]);
    expect(first.code, first.stderr).toBe(0);

    const load = startLoad(`http://127.0.0.1:${port}/`, { concurrency: 2 });
    await new Promise((r) => setTimeout(r, 300));
    app.writeSpec(spec(port, router, "v2"));
    const second = await app.cli(["deploy", "--json"]);
    const seen = await load.stop();
    expect(second.code, second.stderr).toBe(0);
    const release = JSON.parse(second.stdout) as { status: string; impact: Impact };
    expect(release.status).toBe("succeeded");

    const probe5xx = Object.entries(seen.statuses)
      .filter(([status]) => Number(status) >= 500)
      .reduce((n, [, count]) => n + count, 0);
    // The gap is real: the probe saw the router's 503s.
    expect(probe5xx, JSON.stringify(seen.statuses)).toBeGreaterThan(0);
    const versions = Object.values(release.impact.services.api ?? {});
    const recorded = versions.reduce((n, v) => n + v.failed + v.errors5xx, 0);
    expect(recorded, JSON.stringify(release.impact)).toBeGreaterThanOrEqual(probe5xx);
    expect(release.impact.services.api["(no route)"]?.failed ?? 0).toBeGreaterThan(0);
  });
});
