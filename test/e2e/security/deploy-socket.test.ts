// The deploy agent's socket cannot be impersonated by another local user (issue 10, finding 10). With a
// data directory deep enough that the socket moves out of the state directory, the user `nobody` creates
// the runtime directory first and binds the agent's socket name in it, answering every request with a
// fake success. The real CLI (`rollback`, `status`, `up`, `down`) refuses to talk to it, says why, and
// sends it nothing; no agent is started in that directory.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { agentPaths } from "../../../src/deploy/index.js";
import { openStore } from "../../../src/store/index.js";
import { cleanupAfterAll, tempDir, test, waitFor } from "../server/helpers.js";

cleanupAfterAll();

const fakeAgent = `
import { mkdirSync, chmodSync, appendFileSync } from "node:fs";
import http from "node:http";
const [dir, socket, log] = process.argv.slice(2);
mkdirSync(dir, { mode: 0o700 });
const server = http.createServer((req, res) => {
  appendFileSync(log, req.method + " " + req.url + "\\n");
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  res.end(JSON.stringify({ release: { number: 9, status: "succeeded", spec: { spec: { services: [] } } } }) + "\\n");
});
server.listen(socket, () => {
  chmodSync(socket, 0o777);
  appendFileSync(log, "listening\\n");
});
`;

describe("agent socket impersonation", () => {
  test.runIf(process.getuid?.() === 0)(
    "a socket pre-bound by nobody in the runtime directory is refused",
    async ({ h }) => {
      const base = tempDir("slipway-sock-");
      // Like /tmp: anyone may create entries in it.
      chmodSync(base, 0o1777);
      const dataDir = join(base, "d".repeat(90));
      mkdirSync(dataDir, { recursive: true });
      const runtime = join(base, "runtime");
      const paths = agentPaths(dataDir, "victim", "production");
      const socketPath = join(runtime, paths.socketPath.split("/").at(-1)!);
      // The CLI would use exactly this path (it is too long for the state directory).
      expect(Buffer.byteLength(join(paths.stateDir, "agent.sock"))).toBeGreaterThan(100);

      // The app exists (so the controls get as far as the socket).
      const store = await openStore({ dataDir });
      await store.deployApps.bind({ app: "victim", env: "production", repo: "acme/victim", actor: "t" });
      await store.close();

      const script = join(base, "fake-agent.mjs");
      writeFileSync(script, fakeAgent, { mode: 0o644 });
      const log = join(base, "fake.log");
      writeFileSync(log, "", { mode: 0o666 });
      chmodSync(log, 0o666);
      const fake = spawn(
        "setpriv",
        [
          "--reuid=nobody",
          "--regid=nogroup",
          "--clear-groups",
          "--",
          process.execPath,
          script,
          runtime,
          socketPath,
          log,
        ],
        { stdio: "inherit" },
      );
      try {
        await waitFor("nobody's fake agent", () => readFileSync(log, "utf8").includes("listening"));
        const env = { SLIPWAY_RUNTIME_DIR: runtime };
        const flags = ["--app", "victim", "--data-dir", dataDir];
        for (const args of [["rollback"], ["status"], ["up"], ["down", "--yes"]]) {
          const r = await h.cli(null, [...args, ...flags], { env });
          expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(2);
          expect(r.stderr).toMatch(/refusing the deploy agent's socket directory .*owned by uid 65534/);
          expect(r.stdout).not.toContain("succeeded");
        }
        expect(readFileSync(log, "utf8")).toBe("listening\n");
        // No agent was started for it (it would have written its pid file).
        expect(existsSync(paths.pidFile)).toBe(false);
      } finally {
        fake.kill("SIGKILL");
      }
    },
  );
});
