// The `deploy:` section: the text forms it reads (durations, sizes, publish, volumes) and what the schema
// adds beyond the fixtures of ../testdata/deploy-* (which load.test.ts runs with their expected problems).
import { describe, expect, it } from "vitest";
import { formatProblem, UserError } from "../../lib/errors.js";
import {
  configJsonSchema,
  parseConfig,
  parseDuration,
  parsePublish,
  parseSize,
  parseVolume,
  serviceRuntime,
} from "../index.js";

function problems(text: string): string[] {
  try {
    parseConfig(text, "slipway.yaml");
  } catch (err) {
    if (err instanceof UserError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error("expected the config to be rejected");
}

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h2m3s4ms", 3_723_004],
    ["30", 30_000],
    [" 2s ", 2000],
    [0, 0],
    [2.5, 2500],
  ] as const)("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "soon", "10 s", "1d", "-1s", "1s-", "s"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration .*500ms, 10s, 5m, 1h/);
  });

  it("rejects negative and non-finite numbers", () => {
    expect(() => parseDuration(-1)).toThrow(/invalid duration -1/);
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(/invalid duration/);
  });
});

describe("parseSize", () => {
  it.each([
    ["256m", 256 * 1024 ** 2],
    ["1g", 1024 ** 3],
    ["1G", 1024 ** 3],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["512kb", 512 * 1024],
    ["100b", 100],
    ["2048", 2048],
    [4096, 4096],
  ] as const)("%s is %d bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["lots", "1x", "m", "-1m", ""])("rejects %j", (text) => {
    expect(() => parseSize(text)).toThrow(/invalid size/);
  });
});

describe("parsePublish", () => {
  it("reads a port, host:port and [ipv6]:port; the host defaults to loopback", () => {
    expect(parsePublish(8080)).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parsePublish("8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parsePublish("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parsePublish("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parsePublish("example.internal:443")).toEqual({ host: "example.internal", port: 443 });
  });

  it.each([0, 70000, "localhost:http", "a:b:1", "", 80.5])("rejects %j", (v) => {
    expect(() => parsePublish(v)).toThrow(/invalid publish/);
  });
});

describe("parseVolume", () => {
  it("tells named volumes from binds and reads the mode", () => {
    expect(parseVolume("data:/var/lib/data")).toEqual({
      source: "data",
      kind: "named",
      target: "/var/lib/data",
      readOnly: false,
    });
    expect(parseVolume("./conf:/etc/conf:ro")).toEqual({
      source: "./conf",
      kind: "bind",
      target: "/etc/conf",
      readOnly: true,
    });
    expect(parseVolume("/abs:/x:rw")).toMatchObject({ source: "/abs", kind: "bind", readOnly: false });
    expect(parseVolume("../shared:/shared")).toMatchObject({ kind: "bind" });
    expect(parseVolume(".:/src")).toMatchObject({ kind: "bind", source: "." });
  });

  it.each([
    ["data", /SOURCE:TARGET/],
    ["data:relative", /absolute/],
    ["data:/x:z", /ro or rw/],
    ["~/x:/x", /~ is not expanded/],
    ["my vol:/x", /named volume/],
    ["a:/b:ro:extra", /SOURCE:TARGET/],
  ])("rejects %j", (text, message) => {
    expect(() => parseVolume(text)).toThrow(message);
  });
});

describe("serviceRuntime", () => {
  it("takes the service's runtime, then the default, then what the service names", () => {
    expect(serviceRuntime({ runtime: "process", image: "x" }, "docker")).toBe("process");
    expect(serviceRuntime({ image: "x" }, "process")).toBe("process");
    expect(serviceRuntime({ image: "x", command: "y" })).toBe("docker");
    expect(serviceRuntime({ command: "y" })).toBe("process");
    expect(serviceRuntime({})).toBeUndefined();
  });
});

describe("deploy section", () => {
  it("fills defaults and keeps the forms as written", () => {
    const { config } = parseConfig(
      "deploy:\n  services:\n    api: { command: node server.js, health: { http: / } }\n",
      "slipway.yaml",
    );
    expect(config.deploy).toEqual({
      router: "auto",
      max_starting: 2,
      services: {
        api: {
          command: "node server.js",
          replicas: 1,
          health: {
            http: "/",
            interval: "1s",
            timeout: "2s",
            healthy_threshold: 1,
            unhealthy_threshold: 3,
            start_period: "0s",
            deadline: "60s",
          },
          restart: "always",
          strategy: "rolling",
          drain_timeout: "30s",
          stop_timeout: "10s",
        },
      },
    });
  });

  it("reports a mistake inside one form of a value where it is", () => {
    expect(
      problems("deploy:\n  services:\n    api:\n      command: x\n      restart: { policy: sometimes }\n"),
    ).toEqual([
      'slipway.yaml:5:26: deploy.services.api.restart.policy: Invalid option: expected one of "always"|"on-failure"|"no"',
    ]);
    expect(
      problems("deploy:\n  services:\n    api:\n      command: x\n      secrets: [{ env: X }]\n"),
    ).toEqual(["slipway.yaml:5:17: deploy.services.api.secrets[0]: missing required field 'name'"]);
    expect(problems("deploy:\n  services:\n    api:\n      command: x\n      depends_on: db\n")).toEqual([
      'slipway.yaml:5:19: deploy.services.api.depends_on: expected a list of services or a mapping service → {condition}, got a string ("db")',
    ]);
  });

  it("requires services and checks cross-references even when other fields are wrong", () => {
    expect(problems("deploy: {}\n")).toEqual(["slipway.yaml:1:1: deploy: missing required field 'services'"]);
    expect(
      problems("deploy:\n  max_starting: many\n  services:\n    api: { command: x, depends_on: [db] }\n"),
    ).toEqual([
      'slipway.yaml:2:17: deploy.max_starting: expected a number, got a string ("many")',
      "slipway.yaml:4:37: deploy.services.api.depends_on[0]: unknown service 'db' in depends_on of 'api' (services: api)",
    ]);
  });

  it("accepts 0.0.0.0 and 127.0.0.1 on different ports, and the same port on two specific hosts", () => {
    const text = [
      "deploy:",
      "  services:",
      "    a: { command: a, publish: '10.0.0.1:80' }",
      "    b: { command: b, publish: '10.0.0.2:80' }",
      "    c: { command: c, publish: '0.0.0.0:81' }",
      "    d: { command: d, publish: 82 }",
    ].join("\n");
    expect(Object.keys(parseConfig(text, "slipway.yaml").config.deploy?.services ?? {})).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);
  });

  it("locates values for problems found later (the resolver's)", () => {
    const loaded = parseConfig("deploy:\n  services:\n    api:\n      image: x\n", "slipway.yaml");
    expect(loaded.locate(["deploy", "services", "api", "image"])).toEqual({ line: 4, col: 7 });
  });

  it("describes every form of a value in the JSON Schema", () => {
    const schema = configJsonSchema() as {
      properties: { deploy: { properties: Record<string, any>; required: string[] } };
    };
    const deploy = schema.properties.deploy;
    expect(deploy.required).toEqual(["services"]);
    const service = deploy.properties.services.additionalProperties;
    expect(service.additionalProperties).toBe(false);
    expect(service.properties.restart.anyOf.map((f: { type: string }) => f.type)).toEqual([
      "string",
      "object",
    ]);
    expect(service.properties.command.anyOf.map((f: { type: string }) => f.type)).toEqual([
      "string",
      "array",
    ]);
    expect(service.properties.replicas.default).toBe(1);
    // The forms are embedded without their own $schema: one, at the top.
    expect(JSON.stringify(schema).match(/"\$schema"/g)).toHaveLength(1);
  });
});

describe("canary match values", () => {
  it("refuses control characters at their line and column (they would reach HAProxy's runtime API)", () => {
    const yaml = (value: string) =>
      `deploy:\n  services:\n    api:\n      command: x\n      publish: 8080\n      strategy:\n        type: canary\n        steps: [{ set_weight: 50 }]\n        match: { header: X-Canary, value: ${JSON.stringify(value)} }\n`;
    const found = problems(yaml("always\nshow info"));
    expect(found).toHaveLength(1);
    expect(found[0]).toBe(
      "slipway.yaml:9:43: deploy.services.api.strategy.match.value: must not contain control characters (newlines, tabs, …)",
    );
    expect(problems(yaml("a\tb"))[0]).toMatch(/control characters/);
    // An ordinary value is fine.
    expect(() => parseConfig(yaml("always"), "slipway.yaml")).not.toThrow();
  });
});
