import { describe, expect, it } from "vitest";
import { childEnv, hostChildEnv, passEnvNames, slipwaySettings } from "./child-env.js";
import { UserError } from "./errors.js";

const parent = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/ci",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  TZ: "UTC",
  https_proxy: "http://proxy:3128",
  NO_PROXY: "localhost",
  SLIPWAY_MASTER_KEY: "master-key-value",
  SLIPWAY_DATABASE: "postgres://slipway:pw@db/slipway",
  SLIPWAY_RUNNER_TOKEN: "slwr_token",
  AWS_SECRET_ACCESS_KEY: "aws-secret",
  NPM_TOKEN: "npm-token",
  DOCKER_HOST: "unix:///run/docker.sock",
  UNDEF: undefined,
};

describe("childEnv", () => {
  it("keeps the allow-list and nothing else of the parent", () => {
    expect(childEnv(parent)).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/ci",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      TZ: "UTC",
      https_proxy: "http://proxy:3128",
      NO_PROXY: "localhost",
    });
  });

  it("adds the names the operator passes, when set", () => {
    const env = childEnv(parent, ["NPM_TOKEN", "NOT_SET"]);
    expect(env.NPM_TOKEN).toBe("npm-token");
    expect("NOT_SET" in env).toBe(false);
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });

  it("never passes slipway's own variables, even when asked", () => {
    const env = childEnv(parent, ["SLIPWAY_MASTER_KEY", "slipway_database"]);
    expect(Object.keys(env).filter((k) => k.toUpperCase().startsWith("SLIPWAY_"))).toEqual([]);
  });
});

describe("passEnvNames", () => {
  it("reads SLIPWAY_PASS_ENV and the flags, without duplicates", () => {
    expect(passEnvNames({ SLIPWAY_PASS_ENV: " NPM_TOKEN, GOPROXY ,," }, ["GOPROXY", "AWS_REGION"])).toEqual([
      "NPM_TOKEN",
      "GOPROXY",
      "AWS_REGION",
    ]);
    expect(passEnvNames({})).toEqual([]);
  });

  it("refuses slipway's own variables and names that are not variable names", () => {
    expect(() => passEnvNames({}, ["SLIPWAY_MASTER_KEY"])).toThrow(UserError);
    expect(() => passEnvNames({}, ["SLIPWAY_MASTER_KEY"])).toThrow(/slipway's own/);
    expect(() => passEnvNames({ SLIPWAY_PASS_ENV: "SLIPWAY_DATABASE" })).toThrow(/SLIPWAY_PASS_ENV/);
    expect(() => passEnvNames({}, ["A=B"])).toThrow(/"A=B" is not a variable name/);
    expect(() => passEnvNames({}, ["1X"])).toThrow(UserError);
  });
});

describe("hostChildEnv", () => {
  it("applies the environment's own SLIPWAY_PASS_ENV", () => {
    const env = hostChildEnv({ ...parent, SLIPWAY_PASS_ENV: "AWS_SECRET_ACCESS_KEY" });
    expect(env.AWS_SECRET_ACCESS_KEY).toBe("aws-secret");
    expect(env.SLIPWAY_PASS_ENV).toBeUndefined();
    expect(env.SLIPWAY_MASTER_KEY).toBeUndefined();
  });
});

describe("slipwaySettings", () => {
  it("is slipway's own variables and the engine locations, for slipway's own CLI only", () => {
    expect(slipwaySettings(parent)).toEqual({
      SLIPWAY_MASTER_KEY: "master-key-value",
      SLIPWAY_DATABASE: "postgres://slipway:pw@db/slipway",
      SLIPWAY_RUNNER_TOKEN: "slwr_token",
      DOCKER_HOST: "unix:///run/docker.sock",
    });
  });
});
