// Importing docker-compose.yml, driven by testdata/compose-<case>/docker-compose.yml: either expected.yaml
// (the printed deploy section, its header listing the warnings) or expected-error.txt (the problems).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig } from "../config/index.js";
import { formatProblem, UserError } from "../lib/errors.js";
import { formatDuration } from "../lib/format.js";
import { importCompose, splitCommand } from "./compose/import.js";
import { resolveDeploySpec } from "./spec.js";

const testdata = join(import.meta.dirname, "testdata");

describe("compose fixtures", () => {
  for (const name of readdirSync(testdata)
    .filter((d) => d.startsWith("compose-"))
    .sort()) {
    it(name, () => {
      const dir = join(testdata, name);
      const text = readFileSync(join(dir, "docker-compose.yml"), "utf8");
      if (existsSync(join(dir, "expected-error.txt"))) {
        let err: unknown;
        try {
          importCompose(text, "docker-compose.yml");
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(UserError);
        const got = (err as UserError).problems.map(formatProblem).join("\n");
        expect(got).toBe(readFileSync(join(dir, "expected-error.txt"), "utf8").trim());
        return;
      }
      const result = importCompose(text, "docker-compose.yml");
      expect(result.yaml).toBe(readFileSync(join(dir, "expected.yaml"), "utf8"));
      // What is printed is a valid slipway.yaml, and says what `config` holds.
      const loaded = parseConfig(result.yaml, "slipway.yaml");
      expect(loaded.config.deploy).toBeDefined();
      expect(parse(result.yaml)).toEqual(result.config);
      for (const w of result.warnings) expect(result.yaml).toContain(`# - ${w}\n`);
    });
  }
});

describe("importCompose", () => {
  const chat = readFileSync(join(testdata, "compose-chat", "docker-compose.yml"), "utf8");

  it("imports a four-service app that resolves into a deploy spec", () => {
    const { config, yaml, warnings } = importCompose(chat, "docker-compose.yml");
    const deploy = parseConfig(yaml, "slipway.yaml").config.deploy!;
    expect(config).toEqual({ deploy: expect.objectContaining({ app: "chat" }) });
    const spec = resolveDeploySpec(deploy, { env: "production", configDir: "/srv/chat", defaultApp: "x" });
    expect(spec.services.map((s) => s.name)).toEqual(["db", "redis", "api", "worker"]);
    const api = spec.services[2];
    expect(api).toMatchObject({
      image: "registry.example.com/chat/api:latest",
      command: ["node", "dist/server.js"],
      replicas: 3,
      port: 3000,
      publish: { host: "127.0.0.1", port: 8080 },
      dependsOn: [
        { service: "db", condition: "healthy" },
        { service: "redis", condition: "started" },
      ],
      restart: { policy: "on-failure", backoffMs: 5000 },
      strategy: { type: "rolling", maxSurge: 2, maxUnavailable: 0 },
      stopTimeoutMs: 90_000,
    });
    expect(spec.services[0]).toMatchObject({
      health: { type: "exec", command: ["sh", "-c", "pg_isready -U chat -d chat"], unhealthyThreshold: 5 },
      volumes: [
        { source: "pgdata", kind: "named" },
        { source: "/srv/chat/db/init.sql", kind: "bind", readOnly: true },
      ],
    });
    expect(spec.services[1].resources).toEqual({ memoryBytes: 256 * 1024 ** 2, cpus: 0.5 });
    expect(spec.services[3]).toMatchObject({
      image: "chat-worker",
      secrets: [{ name: "DB_PASSWORD", file: "/run/secrets/db" }],
      resources: { memoryBytes: 512 * 1024 ** 2, cpus: 1.5 },
    });
    expect(warnings.filter((w) => w.includes("networks"))).toHaveLength(4);
  });

  it("names the app from the option, else compose's name, else not at all", () => {
    expect(importCompose(chat, "c.yml", { app: "talk" }).config).toMatchObject({ deploy: { app: "talk" } });
    const plain = importCompose("services:\n  web: { image: nginx }\n", "c.yml");
    expect(plain.config).toEqual({ deploy: { services: { web: { image: "nginx" } } } });
    expect(plain.warnings).toEqual([]);
    expect(plain.yaml).toBe(
      "# Imported from c.yml by `slipway deploy import-compose`.\n\ndeploy:\n  services:\n    web:\n      image: nginx\n",
    );
    const badName = importCompose("name: My App\nservices:\n  web: { image: nginx }\n", "c.yml");
    expect(badName.config).toEqual({ deploy: { services: { web: { image: "nginx" } } } });
    expect(badName.warnings).toEqual([
      "c.yml:1:7: name 'My App' is not a valid app name: set deploy.app (a-z, 0-9, '.', '_', '-')",
    ]);
  });

  it("warns that relative binds move when the compose file is in another directory", () => {
    const { warnings } = importCompose(
      "services:\n  web:\n    image: nginx\n    volumes: [./html:/usr/share/nginx/html]\n",
      "deploy/compose.yml",
    );
    expect(warnings).toEqual([
      "deploy/compose.yml:4:15: service 'web': bind paths are relative to slipway.yaml's directory, compose's were relative to deploy",
    ]);
  });

  it("rejects what is not a compose file", () => {
    expect(() => importCompose("- a\n", "c.yml")).toThrow(/c.yml is not a compose file/);
    expect(() => importCompose("services: [web]\n", "c.yml")).toThrow(/c.yml has no services/);
    expect(() => importCompose("services:\n  web: nginx\n", "c.yml")).toThrow(UserError);
    expect(() => importCompose("services:\n  web: { image: nginx }\n", "c.yml", { app: "My App" })).toThrow(
      /cannot import c.yml/,
    );
  });
});

describe("splitCommand", () => {
  it.each([
    ["node server.js", ["node", "server.js"]],
    ["  a   b  ", ["a", "b"]],
    [`sh -c "echo 'hi there'"`, ["sh", "-c", "echo 'hi there'"]],
    [`printf '%s\\n' x`, ["printf", "%s\\n", "x"]],
    [`a\\ b "c\\"d" ''`, ["a b", 'c"d', ""]],
  ])("%s", (text, words) => {
    expect(splitCommand(text)).toEqual(words);
  });

  it("gives up on unbalanced quotes", () => {
    expect(splitCommand(`echo "oops`)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [500, "500ms"],
    [1500, "1s500ms"],
    [90_000, "1m30s"],
    [7_200_000, "2h"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms, "exact")).toBe(text);
  });
});
