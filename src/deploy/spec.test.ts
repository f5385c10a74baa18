// Resolving the deploy section into a DeploySpec: environments, the command line's overrides, ordering and
// hashing. The config is ../config/testdata/deploy-valid (the same file the schema's fixture checks).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DeployConfig, parseConfig } from "../config/index.js";
import { UserError } from "../lib/errors.js";
import {
  commandArgv,
  defaultCanaryStrategy,
  defaultStrategy,
  type ResolveOptions,
  resolveDeploySpec,
  specHash,
  startLevels,
} from "./spec.js";
import type { DeploySpec, ServiceSpec } from "./types.js";

const fixture = join(import.meta.dirname, "..", "config", "testdata", "deploy-valid", "slipway.yaml");
const configDir = "/srv/chat";

function load(text = readFileSync(fixture, "utf8")): DeployConfig {
  const deploy = parseConfig(text, "slipway.yaml").config.deploy;
  if (!deploy) throw new Error("no deploy section");
  return deploy;
}

function resolve(options: Partial<ResolveOptions> = {}, config = load()): DeploySpec {
  return resolveDeploySpec(config, { env: "production", configDir, defaultApp: "repo", ...options });
}

const service = (spec: DeploySpec, name: string): ServiceSpec => {
  const s = spec.services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("resolveDeploySpec", () => {
  it("normalizes every field: milliseconds, bytes, argv, absolute paths", () => {
    const spec = resolve();
    expect(spec.app).toBe("chat");
    expect(spec.dockerHost).toBe("ssh://deploy@10.0.0.5");
    expect(spec.maxStarting).toBe(3);
    expect(service(spec, "db")).toEqual({
      name: "db",
      runtime: "docker",
      image: "127.0.0.1:5000/chat/postgres:16",
      replicas: 1,
      port: 5432,
      env: { POSTGRES_DB: "chat", POSTGRES_MAX_CONNECTIONS: "100" },
      secrets: [{ name: "DB_PASSWORD", env: "DB_PASSWORD" }],
      volumes: [{ source: "pgdata", kind: "named", target: "/var/lib/postgresql/data", readOnly: false }],
      health: {
        type: "exec",
        command: ["pg_isready", "-U", "postgres"],
        intervalMs: 500,
        timeoutMs: 2000,
        healthyThreshold: 1,
        unhealthyThreshold: 3,
        startPeriodMs: 5000,
        deadlineMs: 60_000,
      },
      dependsOn: [],
      resources: { memoryBytes: 1024 ** 3, cpus: 2 },
      restart: { policy: "on-failure", backoffMs: 1000, maxBackoffMs: 60_000 },
      hooks: {},
      strategy: { type: "recreate" },
      drainTimeoutMs: 30_000,
      stopTimeoutMs: 60_000,
    });
    const api = service(spec, "api");
    expect(api).toMatchObject({
      command: ["node", "server.js"],
      replicas: 2,
      publish: { host: "127.0.0.1", port: 8080 },
      env: { LOG_LEVEL: "info", DEBUG: "false" },
      secrets: [
        { name: "DB_PASSWORD", env: "DB_PASSWORD" },
        { name: "SESSION_KEY", env: "COOKIE_SECRET" },
        { name: "TLS_KEY", file: "/run/secrets/tls.key" },
      ],
      volumes: [
        { source: "/srv/chat/conf", kind: "bind", target: "/etc/chat", readOnly: true },
        { source: "/srv/uploads", kind: "bind", target: "/uploads", readOnly: false },
      ],
      health: { type: "http", path: "/healthz", timeoutMs: 1500, healthyThreshold: 2, deadlineMs: 120_000 },
      dependsOn: [
        { service: "db", condition: "healthy" },
        { service: "cache", condition: "started" },
      ],
      restart: { policy: "always", backoffMs: 2000, maxBackoffMs: 60_000 },
      hooks: {
        preDeploy: { command: ["sh", "-c", "npm run migrate"], env: {}, timeoutMs: 600_000 },
        postDeploy: { command: ["node", "scripts/warm.js"], env: { WARM: "1" }, timeoutMs: 30_000 },
      },
      drainTimeoutMs: 10_000,
      stopTimeoutMs: 10_000,
    });
    expect(api.resources).toBeUndefined();
    expect(api.cwd).toBeUndefined();
    expect(api.strategy).toEqual({
      type: "canary",
      steps: [
        { setWeight: 10 },
        { pause: { durationMs: 30_000 } },
        { pause: {} },
        { setWeight: 50 },
        { pause: { durationMs: 60_000 } },
      ],
      analysis: { intervalMs: 5000, maxErrorRate: 0.01, maxP99Ms: 500, minRequests: 20 },
      match: { header: "X-Canary", value: "always" },
    });
    expect(service(spec, "cache")).toMatchObject({
      health: { type: "tcp" },
      strategy: { type: "blue-green", keepOldMs: 300_000, warmup: { path: "/", requests: 3 } },
    });
    expect(service(spec, "worker")).toMatchObject({
      runtime: "process",
      command: ["sh", "-c", "node worker.js"],
      cwd: "/srv/chat/services/worker",
      replicas: 0,
      publish: { host: "127.0.0.1", port: 9090 },
      dependsOn: [{ service: "api", condition: "healthy" }],
      strategy: { type: "rolling", maxSurge: 0, maxUnavailable: 1 },
    });
    expect(service(spec, "worker").image).toBeUndefined();
  });

  it("orders services so that dependencies come first", () => {
    const spec = resolve();
    expect(spec.services.map((s) => s.name)).toEqual(["db", "cache", "api", "worker"]);
    expect(startLevels(spec)).toEqual([["db", "cache"], ["api"], ["worker"]]);
  });

  it("applies an environment: its env under the service's, its overrides on top", () => {
    const spec = resolve({ env: "staging" });
    const api = service(spec, "api");
    expect(api.replicas).toBe(1);
    expect(api.publish).toEqual({ host: "127.0.0.1", port: 18080 });
    expect(api.image).toBe("127.0.0.1:5000/chat/api:edge");
    // The service's LOG_LEVEL wins over the environment's; the override's own env is added.
    expect(api.env).toEqual({ LOG_LEVEL: "info", REGION: "eu", DEBUG: "false", FEATURE_X: "true" });
    const worker = service(spec, "worker");
    expect(worker.command).toEqual(["node", "worker.js", "--dry"]);
    expect(worker.strategy).toEqual({ type: "recreate" });
    expect(worker.env).toEqual({ LOG_LEVEL: "debug", REGION: "eu" });
    expect(service(spec, "db").env).toEqual({
      LOG_LEVEL: "debug",
      REGION: "eu",
      POSTGRES_DB: "chat",
      POSTGRES_MAX_CONNECTIONS: "100",
    });
  });

  it("rejects an environment that deploy.environments does not list, and takes any name without it", () => {
    expect(userError(() => resolve({ env: "qa" }))).toBe(
      "unknown environment 'qa' (deploy.environments: staging, production)",
    );
    const config = load("deploy:\n  services:\n    api: { command: x }\n");
    expect(resolve({ env: "qa" }, config).services[0].name).toBe("api");
  });

  it("takes --image for docker services it deploys", () => {
    const spec = resolve({ images: { api: "127.0.0.1:5000/chat/api:1.3.0" }, env: "staging" });
    expect(service(spec, "api").image).toBe("127.0.0.1:5000/chat/api:1.3.0");
    expect(service(spec, "db").image).toBe("127.0.0.1:5000/chat/postgres:16");
    expect(userError(() => resolve({ images: { web: "x" } }))).toBe(
      "unknown service 'web' in --image (services: db, api, cache, worker)",
    );
    expect(userError(() => resolve({ images: { worker: "x" } }))).toBe(
      "--image: 'worker' is a process service, it runs no image",
    );
    expect(userError(() => resolve({ images: { db: "x" }, services: ["api"] }))).toBe(
      "--image names 'db', which is not deployed (--service: api)",
    );
    expect(userError(() => resolve({ images: { db: " " } }))).toBe(
      "--image db=: the image reference is empty",
    );
  });

  it("applies --strategy to every service, keeping the settings of a service that already uses it", () => {
    const spec = resolve({ strategy: "canary" });
    expect(service(spec, "db").strategy).toEqual(defaultCanaryStrategy);
    expect(service(spec, "api").strategy).toMatchObject({
      steps: { length: 5 },
      match: { header: "X-Canary" },
    });
    const rolling = resolve({ strategy: "rolling" });
    expect(service(rolling, "api").strategy).toEqual({ type: "rolling", maxSurge: 1, maxUnavailable: 0 });
    expect(service(rolling, "worker").strategy).toEqual({ type: "rolling", maxSurge: 0, maxUnavailable: 1 });
    expect(service(resolve({ strategy: "blue-green" }), "db").strategy).toEqual({
      type: "blue-green",
      keepOldMs: 300_000,
    });
  });

  it("gives a bare `strategy: canary` the default steps", () => {
    const config = load("deploy:\n  services:\n    api: { command: x, strategy: canary }\n");
    expect(resolve({}, config).services[0].strategy).toEqual(defaultCanaryStrategy);
    // The default is a copy: changing one spec does not change the next.
    const a = defaultStrategy("canary");
    if (a.type === "canary") a.steps.push({ setWeight: 99 });
    expect(defaultCanaryStrategy.steps).toHaveLength(4);
  });

  it("deploys only --service, in dependency order, without adding their dependencies", () => {
    const spec = resolve({ services: ["worker", "db", "api"] });
    expect(spec.services.map((s) => s.name)).toEqual(["db", "api", "worker"]);
    // api depends on cache, which is not deployed: it is assumed to run already.
    expect(startLevels(spec)).toEqual([["db"], ["api"], ["worker"]]);
    expect(startLevels(resolve({ services: ["worker"] }))).toEqual([["worker"]]);
    expect(userError(() => resolve({ services: ["api", "wrker"] }))).toBe(
      "unknown service 'wrker' in --service (services: db, api, cache, worker)",
    );
  });

  it("names the app after the directory when deploy.app is not set", () => {
    const config = load("deploy:\n  services:\n    api: { command: x }\n");
    expect(resolve({ defaultApp: "My Chat_App" }, config).app).toBe("my-chat_app");
    expect(resolve({ defaultApp: "-chat" }, config).app).toBe("chat");
    expect(userError(() => resolve({ defaultApp: "___" }, config))).toBe(
      "cannot make an app name from '___': set deploy.app in slipway.yaml",
    );
  });

  it("runs a process in slipway.yaml's directory by default and keeps a docker command as argv", () => {
    const config = load(
      "deploy:\n  services:\n    api: { command: [node, s.js] }\n    web: { image: w, command: [nginx, -g, 'daemon off;'] }\n",
    );
    const spec = resolve({}, config);
    expect(service(spec, "api")).toMatchObject({ cwd: configDir, command: ["node", "s.js"] });
    expect(service(spec, "web")).toMatchObject({
      runtime: "docker",
      command: ["nginx", "-g", "daemon off;"],
    });
    expect(service(spec, "web").cwd).toBeUndefined();
  });

  it("rejects a depends_on cycle that reached it unvalidated", () => {
    const config = load("deploy:\n  services:\n    a: { command: x }\n    b: { command: y }\n");
    config.services.a.depends_on = ["b"];
    config.services.b.depends_on = ["a"];
    expect(userError(() => resolve({}, config))).toBe("deploy.services: depends_on cycle: a → b → a");
  });
});

describe("specHash", () => {
  it("is the same for equal specs whatever their key order, and differs when anything changes", () => {
    const a = resolve();
    const b = resolve();
    expect(specHash(a)).toBe(specHash(b));
    expect(specHash(a)).toMatch(/^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(service(a, "db")).reverse()) as ServiceSpec;
    expect(specHash(reordered)).toBe(specHash(service(a, "db")));
    expect(specHash(resolve({ env: "staging" }))).not.toBe(specHash(a));
    expect(specHash({ ...service(a, "db"), replicas: 2 })).not.toBe(specHash(service(a, "db")));
  });

  it("ignores undefined fields, as JSON does", () => {
    const s = service(resolve(), "db");
    expect(specHash({ ...s, cwd: undefined })).toBe(specHash(s));
  });
});

describe("commandArgv", () => {
  it("runs a string through sh -c and copies a list", () => {
    expect(commandArgv("npm run migrate")).toEqual(["sh", "-c", "npm run migrate"]);
    const argv = ["node", "x.js"];
    expect(commandArgv(argv)).toEqual(argv);
    expect(commandArgv(argv)).not.toBe(argv);
  });
});
