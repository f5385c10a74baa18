// known_hosts and SSH settings without a network: entries parsed as OpenSSH writes them (ssh-keygen's own
// hashed names and fingerprints), the verdict on a presented key, and keys, agent and files from the
// environment. The transport itself is tested against a real sshd in ssh.test.ts.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../deploy/runtimes/testing.js";
import { UserError } from "../lib/errors.js";
import {
  hostFieldMatches,
  keyFingerprint,
  knownHostName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from "./ssh-known-hosts.js";
import { sshSettings } from "./ssh-settings.js";
import { keygen } from "./testing.js";

describe("known_hosts", () => {
  const dir = tempDir("slipway-known-hosts-");
  const a = keygen(dir, "a");
  const b = keygen(dir, "b");
  const rsa = keygen(dir, "r", "rsa");
  const [aType, aKey] = a.publicLine.split(" ");
  const [bType, bKey] = b.publicLine.split(" ");
  const [rType, rKey] = rsa.publicLine.split(" ");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("matches plain, wildcard, negated, bracketed and hashed names", () => {
    expect(hostFieldMatches("box,10.0.0.5", "10.0.0.5")).toBe(true);
    expect(hostFieldMatches("*.example.com,!evil.example.com", "app.example.com")).toBe(true);
    expect(hostFieldMatches("*.example.com,!evil.example.com", "evil.example.com")).toBe(false);
    expect(hostFieldMatches("BOX", "box")).toBe(true);
    expect(hostFieldMatches("[box]:2222", knownHostName("box", 2222))).toBe(true);
    expect(hostFieldMatches("box", knownHostName("box", 2222))).toBe(false);
    // What `ssh-keygen -H` writes.
    const file = join(dir, "hashed");
    writeFileSync(file, `[box]:2222 ${aType} ${aKey}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const [hashed] = parseKnownHosts(readFileSync(file, "utf8"));
    expect(hashed.hosts).toMatch(/^\|1\|/);
    expect(hostFieldMatches(hashed.hosts, "[box]:2222")).toBe(true);
    expect(hostFieldMatches(hashed.hosts, "box")).toBe(false);
  });

  it("tells known, unknown, changed and revoked keys apart", () => {
    const entries = parseKnownHosts(
      [
        "# comment",
        `box ${aType} ${aKey}`,
        `other ${bType} ${bKey} comment`,
        `@revoked * ${rType} ${rKey}`,
        "garbage",
      ].join("\n"),
      "/kh",
    );
    expect(entries.map((e) => [e.line, e.marker])).toEqual([
      [2, undefined],
      [3, undefined],
      [4, "revoked"],
    ]);
    expect(verifyHostKey(entries, "box", 22, a.blob).status).toBe("known");
    expect(verifyHostKey(entries, "box", 22, b.blob)).toMatchObject({
      status: "changed",
      entry: { file: "/kh", line: 2 },
    });
    expect(verifyHostKey(entries, "new", 22, a.blob)).toEqual({ status: "unknown", otherTypes: [] });
    expect(verifyHostKey(entries, "box", 2222, a.blob).status).toBe("unknown");
    expect(verifyHostKey(entries, "box", 22, rsa.blob)).toMatchObject({ status: "revoked" });
    // As ssh-keygen prints it: "256 SHA256:… a (ED25519)".
    const printed = execFileSync("ssh-keygen", ["-l", "-f", `${a.path}.pub`], { encoding: "utf8" });
    expect(keyFingerprint(a.blob)).toBe(`ssh-ed25519 ${printed.split(" ")[1]}`);
  });

  it("offers the host key algorithms known for a host first", () => {
    const entries = parseKnownHosts(`box ${rType} ${rKey}\n`);
    expect(preferredHostKeyAlgorithms(entries, "box", 22).slice(0, 3)).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
    expect(preferredHostKeyAlgorithms(entries, "other", 22)[0]).toBe("ssh-ed25519");
  });

  it("finds keys, the agent and known_hosts in the environment", () => {
    const home = tempDir("slipway-ssh-home-");
    const target = { host: "box", port: 22, username: "deploy" };
    try {
      expect(() => sshSettings(target, { HOME: home })).toThrow(UserError);
      expect(() => sshSettings(target, { HOME: home })).toThrow(/no key to authenticate with/);
      expect(() => sshSettings(target, { HOME: home, SLIPWAY_SSH_KEY: join(home, "nope") })).toThrow(
        /SLIPWAY_SSH_KEY .*nope cannot be read/,
      );
      expect(() => sshSettings(target, { HOME: home, SLIPWAY_SSH_KEY: `${a.path}.pub` })).toThrow(
        /not a usable private key/,
      );
      mkdirSync(join(home, ".ssh"));
      keygen(join(home, ".ssh"), "id_ed25519");
      writeFileSync(join(home, ".ssh", "known_hosts"), `box ${aType} ${aKey}\n`);
      const settings = sshSettings(target, { HOME: home, SSH_AUTH_SOCK: "/tmp/agent.sock" });
      expect(settings.tried).toEqual(["ssh-agent", `key ${join(home, ".ssh", "id_ed25519")}`]);
      expect(settings.knownHosts.map((e) => e.hosts)).toContain("box");
      expect(settings.insecure).toBe(false);
      expect(sshSettings(target, { HOME: home, SLIPWAY_SSH_INSECURE: "1" }).insecure).toBe(true);
      expect(sshSettings(target, { HOME: home, SLIPWAY_SSH_INSECURE: "0" }).insecure).toBe(false);
      expect(sshSettings(target, { HOME: home, SLIPWAY_SSH_KEY: a.path }).tried).toEqual([`key ${a.path}`]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
