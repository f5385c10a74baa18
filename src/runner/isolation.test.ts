import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { checkForkContainer, lookupUser, untrustedPolicy } from "./isolation.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-isolation-"));
const passwd = join(dir, "passwd");
writeFileSync(
  passwd,
  [
    "root:x:0:0:root:/root:/bin/bash",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "ci:x:1500:1600::/home/ci:/bin/sh",
    "",
  ].join("\n"),
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lookupUser", () => {
  it("finds a user by name or uid in the password database", () => {
    expect(lookupUser("ci", passwd)).toEqual({ name: "ci", uid: 1500, gid: 1600 });
    expect(lookupUser("65534", passwd)).toEqual({ name: "nobody", uid: 65534, gid: 65534 });
    expect(lookupUser("4242", passwd)).toEqual({ name: "4242", uid: 4242, gid: 4242 });
    expect(() => lookupUser("mallory", passwd)).toThrow(UserError);
  });
});

describe("untrustedPolicy", () => {
  const env = {};
  it("isolates as the untrusted user when the runner is root", () => {
    const p = untrustedPolicy({ uid: 0, passwd, env });
    expect(p).toMatchObject({ accepts: true, runAs: { name: "nobody", uid: 65534 } });
    expect(untrustedPolicy({ uid: 0, passwd, env: { SLIPWAY_UNTRUSTED_USER: "ci" } }).runAs?.uid).toBe(1500);
    expect(untrustedPolicy({ uid: 0, passwd, env, user: "ci" }).runAs?.uid).toBe(1500);
  });
  it("does not take forks' legs when it cannot switch users, unless told the machine is disposable", () => {
    const p = untrustedPolicy({ uid: 1000, passwd, env });
    expect(p.accepts).toBe(false);
    expect(p.describe).toMatch(/cannot switch to an unprivileged user/);
    expect(untrustedPolicy({ uid: 1000, passwd, env, mode: "same-user" })).toMatchObject({ accepts: true });
    expect(untrustedPolicy({ uid: 1000, passwd, env: { SLIPWAY_UNTRUSTED: "same-user" } }).accepts).toBe(
      true,
    );
    expect(untrustedPolicy({ uid: 1000, passwd, env, mode: "same-user" }).runAs).toBeUndefined();
  });
  it("refuses on request, and refuses root or an unknown mode as the user", () => {
    expect(untrustedPolicy({ uid: 0, passwd, env, mode: "refuse" }).accepts).toBe(false);
    expect(() => untrustedPolicy({ uid: 0, passwd, env, user: "root" })).toThrow(/is root/);
    expect(() => untrustedPolicy({ uid: 0, passwd, env, mode: "sometimes" })).toThrow(/--untrusted must be/);
  });
});

describe("checkForkContainer", () => {
  it("refuses host mounts and privileged containers; named volumes are fine", () => {
    expect(() => checkForkContainer({ volumes: ["/var/lib/slipway:/data"] }, "container")).toThrow(
      /host path/,
    );
    expect(() => checkForkContainer({ volumes: ["./x:/x"] }, "container")).toThrow(/host path/);
    expect(() =>
      checkForkContainer({ volumes: ["/var/run/docker.sock:/var/run/docker.sock"] }, "services.db"),
    ).toThrow(/services\.db/);
    expect(() => checkForkContainer({ options: "--cpus 1 --privileged" }, "container")).toThrow(/privileged/);
    expect(() =>
      checkForkContainer({ volumes: ["cache:/cache", "/scratch"], options: "--cpus 1" }, "c"),
    ).not.toThrow();
  });
});
