// The parts of `slipway demo` that need no pipeline: the port rewrite of the example's slipway.yaml, the
// load probe against a real local server, and the report. The whole demo runs in test/e2e/deploy/demo.test.ts.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../config/index.js";
import { type DemoReport, lookAroundCommands, renderDemoReport, startProbe, withPorts } from "./demo.js";
import { makeStyle } from "./tty.js";

const exampleDir = join(import.meta.dirname, "..", "..", "examples", "demo-shop");
const plain = makeStyle({ json: true });

describe("withPorts", () => {
  it("moves both published ports and the api URL web and worker call, keeping comments", () => {
    const text = readFileSync(join(exampleDir, "slipway.yaml"), "utf8");
    const out = withPorts(text, { web: 19080, api: 19081 });
    const deploy = parse(out).deploy;
    expect(deploy.services.web.publish).toBe(19080);
    expect(deploy.services.api.publish).toBe(19081);
    expect(deploy.services.web.env.API_URL).toBe("http://127.0.0.1:19081");
    expect(deploy.services.worker.env.API_URL).toBe("http://127.0.0.1:19081");
    expect(out).toContain("# The demo shop: three services");
    expect(out).not.toMatch(/publish: 848|127.0.0.1:848/);
  });

  it("the example's slipway.yaml is valid as it ships", () => {
    const loaded = loadConfig(join(exampleDir, "slipway.yaml"));
    expect(loaded.config.deploy?.app).toBe("demo-shop");
    expect(Object.keys(loaded.config.deploy?.services ?? {}).sort()).toEqual(["api", "web", "worker"]);
  });
});

describe("startProbe", () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    let n = 0;
    server = http.createServer((req, res) => {
      if (req.url === "/broken") {
        res.writeHead(503);
        return res.end("down for maintenance");
      }
      n++;
      res.writeHead(200, { "x-app-version": n % 2 ? "1.0.0" : "2.0.0" });
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("counts answers by version, and every non-200 or connection error as failed", async () => {
    const probe = startProbe(
      { good: `${base}/`, bad: `${base}/broken`, gone: "http://127.0.0.1:1/" },
      { intervalMs: 10, concurrency: 1 },
    );
    await new Promise((r) => setTimeout(r, 200));
    const report = await probe.stop();
    const { good, bad, gone } = report.targets;
    expect(good.requests).toBeGreaterThan(5);
    expect(good.failed).toBe(0);
    expect(good.versions["1.0.0"]).toBeGreaterThan(0);
    expect(good.versions["2.0.0"]).toBeGreaterThan(0);
    expect(bad.failed).toBe(bad.requests);
    expect(bad.errors[0]).toBe("bad: 503 down for maintenance");
    expect(gone.failed).toBe(gone.requests);
    expect(gone.errors[0]).toMatch(/^gone: .*ECONNREFUSED/);
    expect(report.requests).toBe(good.requests + bad.requests + gone.requests);
    expect(report.failed).toBe(bad.failed + gone.failed);
  });
});

describe("renderDemoReport", () => {
  const report: DemoReport = {
    ok: true,
    dir: "/tmp/d",
    dataDir: "/tmp/d/.slipway/data",
    docker: { used: false, reason: "--no-docker", images: [] },
    urls: { web: "http://127.0.0.1:8480", api: "http://127.0.0.1:8481" },
    stages: [
      {
        name: "v1",
        commit: "0123456789",
        message: "[minor] first release",
        version: "0.1.0",
        run: { status: "success", jobs: [{ id: "deploy", status: "success", durationMs: 5 }] },
      },
    ],
    serving: "0.2.0",
    probe: {
      durationMs: 2000,
      requests: 10,
      failed: 0,
      versions: { "0.1.0": 6, "0.2.0": 4 },
      errors: [],
      targets: {
        web: { url: "u", requests: 10, failed: 0, versions: { "0.1.0": 6, "0.2.0": 4 }, errors: [] },
      },
    },
    releases: [
      {
        number: 1,
        version: "0.1.0",
        status: "succeeded",
        phase: "done",
        trigger: "workflow",
        kind: "deploy",
        strategy: { api: "blue-green" },
        changed: ["api"],
        durationMs: 1500,
        error: null,
      },
    ],
    kept: false,
    stopped: true,
    problems: [],
    notes: [],
  };

  it("says what ran, what serves, what the probe saw and where to look", () => {
    const text = renderDemoReport(report, plain);
    expect(text).toContain("✓ slipway demo succeeded");
    expect(text).toContain(
      'v1  0.1.0   commit 0123456 "[minor] first release": pipeline success (deploy success)',
    );
    expect(text).toContain("images  not built: --no-docker");
    expect(text).toContain("web     http://127.0.0.1:8480/   serves 0.2.0");
    expect(text).toContain("10 requests in 2.0s, 0 failed");
    expect(text).toContain("web  10 requests, 0 failed  (0.1.0 ×6, 0.2.0 ×4)");
    expect(text).toContain("#1 0.1.0 succeeded in 1.5s, by workflow; api blue-green");
    expect(text).toContain("stopped: `slipway down` stopped the agent");
    for (const c of lookAroundCommands("/tmp/d")) expect(text).toContain(c);
  });

  it("a failed demo names its problems; --keep says it still runs", () => {
    const text = renderDemoReport(
      {
        ...report,
        ok: false,
        kept: true,
        problems: ["the load probe saw 2 failed requests during the rollout"],
      },
      plain,
    );
    expect(text).toContain("✗ slipway demo failed");
    expect(text).toContain("problem: the load probe saw 2 failed requests");
    expect(text).toContain("still running (--keep)");
  });
});
