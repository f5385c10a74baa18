// A throwaway sshd for tests: /usr/sbin/sshd on a free 127.0.0.1 port with its own host key, one
// authorized client key (root may log in with it, nothing else is accepted) and a known_hosts file
// that trusts its host key. The engines' ssh:// tests and the e2e deploys over SSH start it; in front
// of the local dockerd it plays a remote engine host. `stop()` ends its sessions too and removes its
// directory.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Keypair, keygen } from "../../src/engines/testing.js";
import { freePort } from "./ports.js";

export type TestSshd = {
  port: number;
  /** Its directory: keys, sshd_config, known_hosts; a test may put files of its own there. */
  dir: string;
  hostKey: Keypair;
  /** The key authorized to log in (as root). */
  clientKey: Keypair;
  /** A known_hosts file that holds this sshd's host key. */
  knownHosts: string;
  /** What a client needs to reach it: SLIPWAY_SSH_KEY (the client key) and SLIPWAY_SSH_KNOWN_HOSTS. */
  env: NodeJS.ProcessEnv;
  /** `ssh://root@127.0.0.1:PORT`. */
  url: string;
  stop(): Promise<void>;
};

/** The pids whose parent is `parent` (field 4 of /proc/<pid>/stat). */
function childrenOf(parent: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Fields after the command (which is in parentheses): state, ppid, …
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Starts an sshd and resolves once it listens; `config` lines are added to its sshd_config. */
export async function startSshd(config: string[] = []): Promise<TestSshd> {
  // sshd refuses to start without its privilege separation directory.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), "slipway-sshd-"));
  const hostKey = keygen(dir, "host_ed25519");
  const clientKey = keygen(dir, "client_ed25519");
  writeFileSync(join(dir, "authorized_keys"), `${clientKey.publicLine}\n`);
  const configFile = join(dir, "sshd_config");
  writeFileSync(
    configFile,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey.path}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PidFile none",
      ...config,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const proc: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", configFile, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start:\n${log}`)), 20_000);
      proc.stderr!.on("data", (b: Buffer) => {
        log += b.toString();
        if (log.includes("Server listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`sshd exited:\n${log}`));
      });
    });
  } catch (err) {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const knownHosts = join(dir, "known_hosts");
  const [type, blob] = hostKey.publicLine.split(" ");
  // The port is never 22 (a free one), so the entry is in OpenSSH's `[host]:port` form.
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${type} ${blob}\n`);
  return {
    port,
    dir,
    hostKey,
    clientKey,
    knownHosts,
    env: { SLIPWAY_SSH_KEY: clientKey.path, SLIPWAY_SSH_KNOWN_HOSTS: knownHosts },
    url: `ssh://root@127.0.0.1:${port}`,
    async stop() {
      // Sessions run in processes of their own: sshd's children are ended first, by pid.
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
