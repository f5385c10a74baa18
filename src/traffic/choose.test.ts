import { afterEach, describe, expect, it, vi } from "vitest";
import { createRouter, type RouterKind, routerKinds } from "./index.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("routerKinds", () => {
  it("finds haproxy where createHaproxyRouter would run it, also when PATH lacks the sbin directories", () => {
    // Debian installs haproxy in /usr/sbin, which a non-root PATH often leaves out.
    vi.stubEnv("PATH", "/nonexistent");
    expect(routerKinds()).toEqual(["haproxy", "node"]);
  });
});

describe("createRouter", () => {
  it("refuses a kind it does not know (a spec read from a file is not type-checked)", () => {
    expect(() =>
      createRouter("nginx" as RouterKind, { listen: { host: "127.0.0.1", port: 0 }, name: "x" }),
    ).toThrow(/unknown kind "nginx"/);
  });
});
