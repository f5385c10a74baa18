import { describe, expect, it } from "vitest";
import { containerEnvRules } from "./container.js";
import { HostEnvironment } from "./host.js";

const run = async (host: HostEnvironment, script: string) => {
  const lines: string[] = [];
  const r = await host.exec({
    command: "sh",
    args: ["-c", script],
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    onLine: (l) => lines.push(l),
  });
  return { ...r, lines };
};

describe("HostEnvironment", () => {
  // These machines run the tests as root, as an isolating runner runs.
  it("runs an isolated leg's processes as its user and group, and the runner's own as the runner", async () => {
    const leg = new HostEnvironment({}, { name: "nobody", uid: 65534, gid: 65533 });
    expect((await run(leg, "id -u; id -g")).lines).toEqual(["65534", "65533"]);
    const own = new HostEnvironment({}, undefined);
    expect((await run(own, "id -u")).lines).toEqual([String(process.getuid!())]);
  });

  it("puts GITHUB_PATH additions before the step's PATH, else the job's", () => {
    const host = new HostEnvironment({ PATH: "/job/bin" }, undefined);
    expect(host.stepPath({}, ["/a", "/b"])).toBe("/a:/b:/job/bin");
    expect(host.stepPath({ PATH: "/step/bin" }, [])).toBe("/step/bin");
    expect(host.baseEnv()).toEqual({ PATH: "/job/bin" });
  });

  it("looks shells up on the step's PATH", () => {
    const host = new HostEnvironment({}, undefined);
    expect(host.shell(undefined, { PATH: "/nonexistent" }).template).toEqual(["sh", "-e", "{0}"]);
    expect(host.shell("python", { PATH: "/nonexistent" }).template[0]).toBe("python3");
    expect(() => host.shell("pwsh", { PATH: "/nonexistent" })).toThrow(/not installed/);
  });
});

describe("containers", () => {
  it("start from none of the host's variables, with the image's PATH unless GITHUB_PATH added to it", () => {
    expect(containerEnvRules.baseEnv()).toEqual({});
    expect(containerEnvRules.stepPath({}, [])).toBeUndefined();
    expect(containerEnvRules.stepPath({}, ["/x"])).toMatch(/^\/x:\/usr\/local\/sbin:/);
  });
});
