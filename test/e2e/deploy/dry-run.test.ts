// `slipway deploy --dry-run` against a running deploy: the plan as a diff (what rolls out and why, what
// is new, left alone or removed), the plan document with --json, and nothing started or recorded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir } from "./helpers.js";

function service(extra: Record<string, unknown> = {}) {
  return {
    command: "node server.mjs",
    cwd: "./app",
    // The process runtime gives it a free port in PORT (the number only says it listens on one).
    port: 1,
    health: { http: "/healthz", interval: "100ms", deadline: "10s" },
    ...extra,
  };
}

describe("slipway deploy --dry-run", () => {
  let app: AppDir;
  let port: number;

  beforeAll(async () => {
    app = makeAppDir("dry");
    port = await freePort();
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("on a first deploy: every service is new, nothing starts, nothing is recorded", async () => {
    app.writeSpec({ app: "dry", services: { api: service({ publish: port, env: { APP_VERSION: "v1" } }) } });
    const r = await app.cli(["deploy", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("plan for dry/production (first release):");
    expect(r.stdout).toMatch(/^\+ api {2}r1 \(new\) {2}\(rolling\)$/m);
    const releases = await app.cli(["releases", "--json"]);
    expect(JSON.parse(releases.stdout)).toEqual([]);
  });

  it("against a running release: changed, new, unchanged and removed services, each with why", async () => {
    app.writeSpec({
      app: "dry",
      services: {
        api: service({ publish: port, env: { APP_VERSION: "v1" } }),
        web: service({ env: { APP_VERSION: "w1" } }),
        old: service({ env: { APP_VERSION: "o1" } }),
      },
    });
    const first = await app.cli(["deploy", "--json"]);
    expect(first.code, first.stderr).toBe(0);

    app.writeSpec({
      app: "dry",
      services: {
        api: service({ publish: port, env: { APP_VERSION: "v2" }, strategy: "blue-green" }),
        web: service({ env: { APP_VERSION: "w1" } }),
        worker: service({ env: { APP_VERSION: "k1" } }),
      },
    });
    const r = await app.cli(["deploy", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("plan for dry/production (current release #1):");
    expect(lines).toContain("~ api     r1 → r2  env changed, config changed  (blue-green)");
    expect(lines).toContain("= web     r1 (unchanged)");
    expect(lines).toContain("+ worker  r2 (new)  (rolling)");
    expect(lines).toContain("- old     r1 (removed)");
    expect(lines).toContain("2 to deploy, 1 left as it runs, 1 to remove");

    const doc = await app.cli(["deploy", "--dry-run", "--json"]);
    expect(doc.code, doc.stderr).toBe(0);
    const plan = JSON.parse(doc.stdout);
    expect(plan).toMatchObject({ app: "dry", current: 1, exact: false, changed: ["api", "worker"] });
    expect(plan.removed).toEqual([{ name: "old", revision: "r1" }]);
    expect(plan.services.find((s: { name: string }) => s.name === "api")).toMatchObject({
      from: "r1",
      revision: "r2",
      strategy: "blue-green",
      reasons: ["env", "config"],
    });

    // Nothing was touched: v1 still serves, release #1 is the only one.
    expect((await get(`http://127.0.0.1:${port}/`)).body).toMatch(/^v1 api-r1-/);
    expect(JSON.parse((await app.cli(["releases", "--json"])).stdout)).toHaveLength(1);
  });

  it("with --service: the others are left as they run, none is removed", async () => {
    const r = await app.cli(["deploy", "--dry-run", "--service", "api"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("~ api  r1 → r2");
    expect(r.stdout).toContain("= web  r1 (not deployed: --service)");
    expect(r.stdout).toContain("= old  r1 (not deployed: --service)");
    expect(r.stdout).not.toContain("(removed)");
  });
});
