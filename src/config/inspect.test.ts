// What `slipway config show` prints: an environment's overrides merged as deploy/spec.ts merges them, and
// no credential written inline.
import { describe, expect, it } from "vitest";
import { redactUrl } from "./inspect.js";
import { parseConfig, redacted, resolveConfig, summarizeConfig } from "./index.js";

const text = `deploy:
  services:
    api:
      image: team/api
      port: 8080
      env: { LOG: info, KEEP: "1" }
      secrets: [DATABASE_URL, { name: TLS_KEY, file: /run/tls.key }]
    worker: { command: node worker.js }
  environments:
    staging: {}
    production:
      env: { REGION: eu, LOG: warn }
      services:
        api: { replicas: 3, publish: 8080, env: { LOG: debug }, strategy: blue-green }
notify:
  channels:
    team: { slack: { webhook_url: "https://hooks.slack.com/services/T0/B0/SECRETPART" } }
    ops: { slack: { webhook_url_secret: OPS_SLACK } }
  rules:
    - { on: [deploy.failed], channels: [team, ops] }
`;
const config = parseConfig(text, "slipway.yaml").config;

describe("resolveConfig", () => {
  it("applies an environment's overrides: env merged (most specific wins), the rest replaced", () => {
    const r = resolveConfig(config, "production");
    expect(r.deploy?.environments).toBeUndefined();
    expect(r.deploy).toMatchObject({ environment: "production" });
    expect(r.deploy?.services.api).toMatchObject({
      replicas: 3,
      publish: 8080,
      strategy: "blue-green",
      env: { REGION: "eu", LOG: "debug", KEEP: "1" },
      secrets: ["DATABASE_URL", { name: "TLS_KEY", file: "/run/tls.key" }],
    });
    expect(r.deploy?.services.worker).toMatchObject({ replicas: 1, env: { REGION: "eu", LOG: "warn" } });
    // Defaults the file left out are filled in.
    expect(r.deploy?.services.worker).toMatchObject({ restart: "always", stop_timeout: "10s" });
  });

  it("leaves the services as written without an environment, or with one that overrides nothing", () => {
    expect(resolveConfig(config).deploy?.services).toEqual(config.deploy?.services);
    expect(resolveConfig(config).deploy?.environments).toEqual(config.deploy?.environments);
    expect(resolveConfig(config, "staging").deploy?.services).toEqual(config.deploy?.services);
  });

  it("refuses an environment the file does not list, and accepts any when it lists none", () => {
    expect(() => resolveConfig(config, "prod")).toThrow(
      "unknown environment 'prod' (deploy.environments: staging, production)",
    );
    const plain = parseConfig("deploy:\n  services:\n    api: { image: a }\n", "f").config;
    expect(resolveConfig(plain, "anything").deploy?.services).toEqual(plain.deploy?.services);
  });

  it("never returns a Slack webhook URL written inline, and leaves the config it was given alone", () => {
    const r = resolveConfig(config, "production");
    expect(JSON.stringify(r)).not.toContain("SECRETPART");
    expect(r.notify?.channels.team).toEqual({ slack: { webhook_url: redacted } });
    expect(r.notify?.channels.ops).toEqual({ slack: { webhook_url_secret: "OPS_SLACK" } });
    expect(JSON.stringify(config)).toContain("SECRETPART");
  });
});

describe("redactUrl", () => {
  it("keeps a plain URL as written", () => {
    expect(redactUrl("https://hooks.example.com/slipway/runs")).toBe(
      "https://hooks.example.com/slipway/runs",
    );
  });
  it("hides a password and every query value, keeping names, host and path", () => {
    const out = redactUrl("https://bot:hunter2@hooks.example.com/in?token=abc123&team=a&token=def456");
    expect(out).toBe(
      `https://bot:${redacted}@hooks.example.com/in?token=${redacted}&team=${redacted}&token=${redacted}`,
    );
    for (const secret of ["hunter2", "abc123", "def456"]) expect(out).not.toContain(secret);
  });
  it("prints nothing of what it cannot parse", () => {
    expect(redactUrl("not a url ?token=abc")).toBe(redacted);
  });
  it("is applied to a generic webhook's url by resolveConfig", () => {
    const withHook = parseConfig(
      "notify:\n  channels:\n    hook:\n      webhook:\n        url: https://h.example/x?key=TOPSECRET\n",
      "f",
    ).config;
    const r = resolveConfig(withHook);
    expect(JSON.stringify(r)).not.toContain("TOPSECRET");
    expect(r.notify?.channels.hook).toEqual({ webhook: { url: `https://h.example/x?key=${redacted}` } });
  });
});

describe("summarizeConfig", () => {
  it("counts what each section holds", () => {
    expect(summarizeConfig(config)).toBe(
      "2 deploy services, 2 environments, 2 notify channels, 1 notify rule",
    );
    expect(summarizeConfig({})).toBe("no sections");
  });
});
