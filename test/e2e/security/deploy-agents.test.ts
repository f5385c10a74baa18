// Deploy agents are bounded and keep credentials out of argv (issue 10, finding 12 and the argv part of
// the Low findings), through a real `slipway serve` and the real CLI:
// - status/promote/abort/rollback of an app that was never deployed answer 404 (the CLI: exit 2) and
//   start no agent process;
// - an agent with nothing to supervise stops after SLIPWAY_AGENT_IDLE_TIMEOUT; one holding a running
//   instance does not;
// - the server starts at most SLIPWAY_MAX_DEPLOY_AGENTS agents (503 beyond);
// - /proc/<agent pid>/cmdline holds no database URL (with its password) and no token, for agents the
//   server starts and agents the CLI starts with --database.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { agentPaths, callAgent } from "../../../src/deploy/index.js";
import { freePort } from "../../support/ports.js";
import { makeAppDir } from "../deploy/helpers.js";
import { e2eDir } from "../helpers.js";
import {
  addRepo,
  alive,
  api,
  cleanupAfterAll,
  createDatabase,
  makeRepo,
  type Server,
  sleep,
  test,
  waitFor,
} from "../server/helpers.js";

cleanupAfterAll();

const appJs = readFileSync(join(e2eDir, "deploy", "app", "server.mjs"), "utf8");

function yaml(app: string, port: number, healthy = true) {
  return `deploy:
  app: ${app}
  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 1
      publish: ${port}
      env: { FAIL_HEALTH: "${healthy ? "0" : "1"}" }
      health: { http: /healthz, interval: 100ms, deadline: ${healthy ? "10s" : "1s"} }
      drain_timeout: 1s
`;
}

/** Pids of deploy agents for `app` (by their command line). */
function agentPids(app: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      const i = argv.indexOf("agent");
      if (i > 0 && argv[i - 1] === "deploy" && argv[argv.indexOf("--app") + 1] === app)
        out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

async function deploy(server: Server, repo: string) {
  const res = await fetch(`${server.url}/api/v1/repos/${repo}/deploys`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
    body: "{}",
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    last: res.status === 200 ? JSON.parse(text.trimEnd().split("\n").at(-1)!) : undefined,
  };
}

const shutdown = (server: Server, app: string) =>
  callAgent(agentPaths(server.dataDir, app, "production").socketPath, "POST", "/shutdown", {
    stopInstances: true,
  }).catch(() => undefined);

describe("deploy agents", { concurrent: true }, () => {
  test("controls of an app that was never deployed: 404, and no agent is started", async ({ h }) => {
    const server = await h.startServer();
    for (const [method, path] of [
      ["GET", "status"],
      ["POST", "promote"],
      ["POST", "abort"],
      ["POST", "rollback"],
    ] as const) {
      const r = await api(
        server,
        method,
        `/api/v1/deploy/ghost-${path}/production/${path}`,
        method === "POST" ? {} : undefined,
      );
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(404);
      expect(r.body.error).toMatch(/never deployed/);
    }
    const cli = await h.cli(null, ["rollback", "--app", "ghost-cli", "--data-dir", server.dataDir]);
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toMatch(/no app ghost-cli\/production: it was never deployed/);
    await sleep(300);
    for (const app of ["ghost-status", "ghost-promote", "ghost-abort", "ghost-rollback", "ghost-cli"])
      expect(agentPids(app), app).toEqual([]);
  });

  test("idle agents stop; one with a running instance stays; the server caps its agents", async ({ h }) => {
    const server = await h.startServer({
      env: { SLIPWAY_AGENT_IDLE_TIMEOUT: "1", SLIPWAY_MAX_DEPLOY_AGENTS: "1" },
    });
    const live = makeRepo({ "slipway.yaml": yaml("live", await freePort()), "app/server.mjs": appJs });
    const broken = makeRepo({
      "slipway.yaml": yaml("broken", await freePort(), false),
      "app/server.mjs": appJs,
    });
    const other = makeRepo({ "slipway.yaml": yaml("other", await freePort()), "app/server.mjs": appJs });
    await addRepo(server, live, "acme/live");
    await addRepo(server, broken, "acme/broken");
    await addRepo(server, other, "acme/other");
    try {
      // A first deploy that fails leaves nothing running: its agent stops after the idle timeout.
      const failed = await deploy(server, "acme/broken");
      expect(failed.status, failed.text).toBe(200);
      expect(failed.last.release?.status ?? failed.last.error?.release?.status, failed.text).toBe("failed");
      const [pid] = agentPids("broken");
      expect(pid).toBeGreaterThan(0);
      await waitFor("the idle agent to exit", () => !alive(pid), 15_000);

      // A running app keeps its agent (it holds the router and supervises the instance).
      const ok = await deploy(server, "acme/live");
      expect(ok.last.release?.status, ok.text).toBe("succeeded");
      const [livePid] = agentPids("live");
      await sleep(3000);
      expect(alive(livePid)).toBe(true);

      // The limit is 1 and live's agent runs: another app's agent is not started.
      const capped = await deploy(server, "acme/other");
      expect(capped.status, capped.text).toBe(503);
      expect(JSON.parse(capped.text).error).toMatch(
        /deploy agents are running on this server \(the limit is 1/,
      );
      expect(agentPids("other")).toEqual([]);
    } finally {
      await shutdown(server, "live");
    }
  });

  test("an agent's command line holds no database URL and no token (server- and CLI-started)", async ({
    h,
  }) => {
    const url = new URL(await createDatabase());
    url.username = "postgres";
    url.password = "pw-in-argv-7c1e";
    const database = url.toString();
    const server = await h.startServer({ database });
    const repo = makeRepo({ "slipway.yaml": yaml("argv", await freePort()), "app/server.mjs": appJs });
    await addRepo(server, repo, "acme/argv");
    const cliApp = makeAppDir("argv-cli");
    try {
      const r = await deploy(server, "acme/argv");
      expect(r.last.release?.status, r.text).toBe("succeeded");
      const [pid] = agentPids("argv");
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      expect(cmdline).not.toContain("pw-in-argv-7c1e");
      expect(cmdline).not.toContain("postgres://");
      expect(cmdline).not.toContain(server.token);
      // It did get the URL (it recorded into the server's database), through its environment.
      expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toContain("pw-in-argv-7c1e");

      // `slipway deploy --database URL` from the CLI: the agent it starts gets the URL the same way.
      cliApp.writeSpec({
        app: "argv-cli",
        services: {
          api: {
            command: "node server.mjs",
            cwd: "./app",
            publish: await freePort(),
            health: { http: "/healthz", interval: "100ms", deadline: "10s" },
          },
        },
      });
      const local = await cliApp.cli(["deploy", "--database", database]);
      expect(local.code, local.stderr).toBe(0);
      const [cliPid] = agentPids("argv-cli");
      expect(cliPid).toBeGreaterThan(0);
      const cliCmdline = readFileSync(`/proc/${cliPid}/cmdline`, "utf8");
      expect(cliCmdline).not.toContain("pw-in-argv-7c1e");
      expect(cliCmdline).not.toContain("postgres://");
    } finally {
      await shutdown(server, "argv");
      await cliApp.cli(["down", "--yes", "--database", database]).catch(() => undefined);
      await cliApp.cleanup();
    }
  });
});
