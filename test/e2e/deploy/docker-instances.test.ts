// Docker instances on an engine reached over SSH, end to end: `docker_host: ssh://…` set only in
// slipway.yaml (DOCKER_HOST unset) is the engine the agent deploys to — every engine call goes through
// a throwaway sshd that records the commands its sessions run — and `slipway logs` / `slipway exec` work
// on those containers: the engine's logs demultiplexed and followed, exec with stdin, a terminal when
// stdin is one, and the command's exit code.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../support/wait.js";
import { binPath } from "../helpers.js";
import { type AppDir, makeAppDir } from "./helpers.js";
import { type Sshd, startSshd } from "./sshd.js";

const image = "slipway/busybox:latest";
const script =
  'echo "started $APP_VERSION"; echo "to stderr" >&2; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';

describe("docker instances on an ssh:// docker_host", () => {
  let app: AppDir;
  let sshd: Sshd;
  const name = `sshapp${randomBytes(3).toString("hex")}`;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sshd = await startSshd();
    app = makeAppDir("ssh-docker");
    env = { ...sshd.env, SLIPWAY_AGENT_IDLE_TIMEOUT: "0" };
    // Only slipway.yaml names the engine: neither this process nor the agent has DOCKER_HOST.
    delete app.env.DOCKER_HOST;
    delete app.env.SLIPWAY_DOCKER_HOST;
    app.writeSpec({
      app: name,
      docker_host: sshd.url,
      services: {
        api: { image, command: ["sh", "-c", script], env: { APP_VERSION: "v1" }, stop_timeout: "1s" },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await app?.cli(["down", "--yes"], { env });
    await app?.cleanup();
    await sshd?.stop();
  }, 60_000);

  it("deploys to the engine slipway.yaml names, through SSH", async () => {
    const r = await app.cli(["deploy"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(sshd.commands()).toContain("docker system dial-stdio");
    const running = execFileSync(
      "docker",
      ["ps", "--filter", `label=dev.slipway.app=${name}`, "--format", "{{.Names}}"],
      {
        encoding: "utf8",
      },
    );
    expect(running).toMatch(new RegExp(`^slipway-${name}-production-api-r1-`));
  }, 120_000);

  it("follows a container's output, stdout and stderr apart", async () => {
    const child = app.spawnCli(["logs", "api", "-f", "--json", "--tail", "all"]);
    // spawnCli has the app's env; the ssh key comes from the agent, which already runs.
    let out = "";
    child.stdout!.on("data", (b) => {
      out += b;
    });
    try {
      await waitFor(
        "ticks to keep coming",
        () => /"tick 3"/.test(out) && out.includes('"to stderr"'),
        30_000,
      );
      const seen = (out.match(/"tick (\d+)"/g) ?? []).length;
      await waitFor("a newer tick", () => (out.match(/"tick (\d+)"/g) ?? []).length > seen + 2, 30_000);
    } finally {
      child.kill("SIGINT");
    }
    const records = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // stdout and stderr are two pipes: their lines' relative order is the engine's guess, so no order here.
    expect(records.find((r) => r.line === "started v1")).toMatchObject({ service: "api", stream: "stdout" });
    expect(records.find((r) => r.line === "to stderr")).toMatchObject({ service: "api", stream: "stderr" });
    const ticks = records.filter((r) => r.line.startsWith("tick ")).map((r) => Number(r.line.split(" ")[1]));
    expect(ticks).toEqual(ticks.map((_, i) => i + 1));
    for (const r of records) expect(typeof r.at).toBe("number");
  }, 60_000);

  it("runs a command in the container with stdin and its exit code", async () => {
    const r = await app.cli(["exec", "api", "--", "sh", "-c", 'read x; echo "got $x $APP_VERSION"; exit 3'], {
      input: "hi\n",
      env,
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe("got hi v1\n");
  });

  it("refuses to move the environment to another engine while its containers run on this one", async () => {
    app.writeSpec({
      app: name,
      docker_host: "unix:///var/run/docker.sock",
      services: {
        api: { image, command: ["sh", "-c", script], env: { APP_VERSION: "v2" }, stop_timeout: "1s" },
      },
    });
    const r = await app.cli(["deploy"], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`docker_host changed from ${sshd.url} to unix:///var/run/docker.sock`);
    const status = JSON.parse((await app.cli(["releases", "--json"], { env })).stdout);
    expect(status.map((rel: { number: number }) => rel.number)).toEqual([1]);
  });

  it("gives the command a terminal when stdin is one", () => {
    // script(1) runs the CLI on a pseudo-terminal.
    const out = execFileSync(
      "script",
      ["-qec", `${process.execPath} ${binPath} exec api -- sh -c 'tty; exit 4'; echo "exit=$?"`, "/dev/null"],
      { cwd: app.dir, env: { ...app.env, ...env }, encoding: "utf8", timeout: 60_000 },
    );
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain("exit=4");
  });
});
