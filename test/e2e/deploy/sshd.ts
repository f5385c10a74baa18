// A throwaway sshd (test/support/sshd.ts) in front of the local dockerd, which then plays a remote engine
// reached over SSH. Every command a session runs is appended to `commands.log` (a ForceCommand wrapper),
// so a test can tell that the engine was reached through SSH.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSshd as startTestSshd } from "../../support/sshd.js";

export type Sshd = {
  url: string;
  /** What a client needs to reach it: its key and a known_hosts with its host key. */
  env: NodeJS.ProcessEnv;
  /** The commands sessions ran, one a line. */
  commands(): string[];
  stop(): Promise<void>;
};

export async function startSshd(): Promise<Sshd> {
  // The wrapper and its log live apart from the sshd's own directory, which exists only once it starts.
  const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-sshd-"));
  const log = join(dir, "commands.log");
  const wrapper = join(dir, "record-command.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho "$SSH_ORIGINAL_COMMAND" >> ${log}\nexec sh -c "$SSH_ORIGINAL_COMMAND"\n`,
  );
  chmodSync(wrapper, 0o755);
  const sshd = await startTestSshd([`ForceCommand ${wrapper}`]).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: sshd.url,
    env: sshd.env,
    commands() {
      try {
        return readFileSync(log, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    async stop() {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
