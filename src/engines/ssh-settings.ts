// What an SSH connection to an engine's host needs, read from the environment: the keys and agent to
// authenticate with (in OpenSSH's order), the known_hosts entries to check the host key against, or the
// explicit choice to skip that check. Messages name the files tried, so a failure says what to fix.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { AnyAuthMethod } from "ssh2";
import ssh2 from "ssh2";
import { UserError } from "../lib/errors.js";
import { type KnownHost, parseKnownHosts } from "./ssh-known-hosts.js";

export type SshTarget = { host: string; port: number; username: string };

export type SshSettings = {
  /** Tried in this order. */
  auth: AnyAuthMethod[];
  /** What `auth` holds, for messages: `key /root/.ssh/id_ed25519`, `ssh-agent`. */
  tried: string[];
  /** Keys that were found but could not be used (encrypted, not a key), for messages. */
  skipped: string[];
  insecure: boolean;
  knownHosts: KnownHost[];
  knownHostsFiles: string[];
};

const truthy = (v: string | undefined) =>
  v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Keys, agent and known_hosts for a target, from the environment: SLIPWAY_SSH_KEY (a private key file),
 * else ~/.ssh/id_ed25519 and ~/.ssh/id_rsa; the agent at SSH_AUTH_SOCK; SLIPWAY_SSH_KNOWN_HOSTS, else
 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts; SLIPWAY_SSH_INSECURE=1 skips the host key check.
 */
export function sshSettings(target: SshTarget, env: NodeJS.ProcessEnv = process.env): SshSettings {
  const home = env.HOME || homedir();
  const username = target.username;
  const auth: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const skipped: string[] = [];
  const agent = env.SSH_AUTH_SOCK;
  const explicit = env.SLIPWAY_SSH_KEY;
  if (explicit) {
    let data: Buffer;
    try {
      data = readFileSync(explicit);
    } catch (err) {
      throw new UserError(`SLIPWAY_SSH_KEY ${explicit} cannot be read: ${(err as Error).message}`);
    }
    const parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error || !parsed.isPrivateKey())
      throw new UserError(
        `SLIPWAY_SSH_KEY ${explicit} is not a usable private key (${parsed instanceof Error ? parsed.message : "a public key"}); ` +
          "an encrypted key must be loaded into ssh-agent instead",
      );
    auth.push({ type: "publickey", username, key: data });
    tried.push(`key ${explicit}`);
  }
  // As OpenSSH: the agent's keys before the default files.
  if (agent) {
    auth.push({ type: "agent", username, agent });
    tried.push("ssh-agent");
  }
  if (!explicit) {
    for (const name of ["id_ed25519", "id_rsa"]) {
      const path = join(home, ".ssh", name);
      const data = readOptional(path);
      if (!data) continue;
      const parsed = ssh2.utils.parseKey(data);
      if (parsed instanceof Error || !parsed.isPrivateKey()) {
        skipped.push(`${path} (${parsed instanceof Error ? parsed.message : "not a private key"})`);
        continue;
      }
      auth.push({ type: "publickey", username, key: data });
      tried.push(`key ${path}`);
    }
  }
  if (auth.length === 0)
    throw new UserError(
      `ssh to ${username}@${target.host}:${target.port}: no key to authenticate with: set SLIPWAY_SSH_KEY to a private key file, ` +
        `create ${join(home, ".ssh", "id_ed25519")} or start ssh-agent (SSH_AUTH_SOCK)` +
        (skipped.length ? `; unusable: ${skipped.join(", ")}` : ""),
    );
  const insecure = truthy(env.SLIPWAY_SSH_INSECURE);
  const knownHostsFiles = env.SLIPWAY_SSH_KNOWN_HOSTS
    ? [env.SLIPWAY_SSH_KNOWN_HOSTS]
    : [join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"];
  const knownHosts = insecure
    ? []
    : knownHostsFiles.flatMap((f) => {
        const text = readOptional(f);
        return text ? parseKnownHosts(text.toString(), f) : [];
      });
  return { auth, tried, skipped, insecure, knownHosts, knownHostsFiles };
}
