// `slipway config` as a user runs it: the built CLI in a directory holding a slipway.yaml.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { rootDir, runCli } from "./helpers.js";

let dir: string;
const slipway = (...args: string[]) =>
  runCli(args, { cwd: join(dir, "repo"), dataDir: join(dir, "data"), logDir: dir, timeoutMs: 30_000 });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-e2e-config-"));
  mkdirSync(join(dir, "repo"));
  mkdirSync(join(dir, "data"));
  writeFileSync(
    join(dir, "repo", "slipway.yaml"),
    `deploy:
  services:
    api:
      image: team/api
      port: 8080
      secrets: [DATABASE_URL]
    worker: { command: node worker.js }
  environments:
    production:
      env: { REGION: eu }
      services:
        api: { replicas: 3, publish: 8080 }
`,
  );
  writeFileSync(
    join(dir, "repo", "bad.yaml"),
    `deploy:
  services:
    api: { image: team/api, replicas: -1 }
    web: { image: team/web, depends_on: [nope] }
notfy: {}
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("slipway config (built CLI)", () => {
  it("validate: ok and exit 0 for a valid file", async () => {
    const r = await slipway("config", "validate");
    expect([r.code, r.stdout, r.stderr]).toEqual([
      0,
      "ok: slipway.yaml (2 deploy services, 1 environment)\n",
      "",
    ]);
  });

  it("validate: every problem at file:line:col on stderr and exit 2; --json on stdout", async () => {
    const r = await slipway("config", "validate", "-c", "bad.yaml");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      [
        "bad.yaml:3:39: deploy.services.api.replicas: Too small: expected number to be >=0",
        "bad.yaml:4:42: deploy.services.web.depends_on[0]: unknown service 'nope' in depends_on of 'web' (services: api, web)",
        "bad.yaml:5:1: unknown key 'notfy' (known top-level keys: build, deploy, notify)",
        "slipway: bad.yaml is invalid (3 problems)",
        "",
      ].join("\n"),
    );
    const json = await slipway("config", "validate", "-c", "bad.yaml", "--json");
    expect(json.code).toBe(2);
    expect((json.json as { valid: boolean; problems: unknown[] }).valid).toBe(false);
    expect((json.json as { problems: unknown[] }).problems[2]).toEqual({
      file: "bad.yaml",
      line: 5,
      col: 1,
      message: "unknown key 'notfy' (known top-level keys: build, deploy, notify)",
    });
    const missing = await slipway("config", "validate", "-C", "..", "-c", "none.yaml");
    expect([missing.code, missing.stderr.split("\n")[0]]).toEqual([
      2,
      "../none.yaml: cannot read: no such file",
    ]);
  });

  it("schema: prints the published schema/slipway.schema.json", async () => {
    const r = await slipway("config", "schema");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(rootDir, "schema", "slipway.schema.json"), "utf8"));
  });

  it("show: the resolved config for an environment, secrets by name", async () => {
    const r = await slipway("config", "show", "-E", "production");
    expect(r.code).toBe(0);
    const shown = parse(r.stdout);
    expect(shown.deploy.environment).toBe("production");
    expect(shown.deploy.services.api).toMatchObject({
      replicas: 3,
      publish: 8080,
      env: { REGION: "eu" },
      secrets: ["DATABASE_URL"],
      restart: "always",
    });
    const unknown = await slipway("config", "show", "-E", "staging");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown environment 'staging' (deploy.environments: production)");
  });
});
