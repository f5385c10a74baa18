// A throwaway sshd on 127.0.0.1 (its own host key, one authorized client key) in front of the local
// dockerd, which then plays a remote engine reached over SSH. Every command a session runs is appended to
// `commands.log` (a ForceCommand wrapper), so a test can tell that the engine was reached through SSH.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/ports.js";

export type Sshd = {
  url: string;
  /** What a client needs to reach it: its key and a known_hosts with its host key. */
  env: NodeJS.ProcessEnv;
  /** The commands sessions ran, one a line. */
  commands(): string[];
  stop(): Promise<void>;
};

/** The pids whose parent is `parent` (field 4 of /proc/<pid>/stat). */
function childrenOf(parent: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export async function startSshd(): Promise<Sshd> {
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-sshd-"));
  const key = (name: string) => {
    const path = join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
    return { path, pub: readFileSync(`${path}.pub`, "utf8").trim() };
  };
  const host = key("host_ed25519");
  const client = key("client_ed25519");
  writeFileSync(join(dir, "authorized_keys"), `${client.pub}\n`);
  const log = join(dir, "commands.log");
  const wrapper = join(dir, "record-command.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho "$SSH_ORIGINAL_COMMAND" >> ${log}\nexec sh -c "$SSH_ORIGINAL_COMMAND"\n`,
  );
  chmodSync(wrapper, 0o755);
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${host.path}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PidFile none",
      `ForceCommand ${wrapper}`,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const proc: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${stderr}`)), 20_000);
    proc.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("Server listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`sshd exited:\n${stderr}`));
    });
  });
  const knownHosts = join(dir, "known_hosts");
  const [type, blob] = host.pub.split(" ");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${blob}\n`);
  return {
    url: `ssh://root@127.0.0.1:${port}`,
    env: { SLIPWAY_SSH_KEY: client.path, SLIPWAY_SSH_KNOWN_HOSTS: knownHosts },
    commands() {
      try {
        return readFileSync(log, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    async stop() {
      // Sessions run in processes of their own: sshd's children are ended first.
      for (const pid of childrenOf(proc.pid!))
        try {
          process.kill(pid, "SIGTERM");
        } catch {}
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
