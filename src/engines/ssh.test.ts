// ssh:// engines against a real sshd (a throwaway one on 127.0.0.1 with its own host key and authorized
// key) in front of the local dockerd, which plays the remote engine: `docker system dial-stdio` runs through
// the SSH session as it would on another machine. Each sshd and container started here is removed again.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/ports.js";
import { startSshd as startTestSshd, type TestSshd } from "../../test/support/sshd.js";
import { createDockerRuntime } from "../deploy/index.js";
import { tempDir, testLabels, testService } from "../deploy/runtimes/testing.js";
import { UserError } from "../lib/errors.js";
import { connectEngine, type Engine, EngineError, resolveEngineAddress } from "./index.js";
import { keyFingerprint } from "./ssh-known-hosts.js";
import { keygen } from "./testing.js";

const image = "slipway/busybox:latest";
const run = `${Date.now().toString(36)}${process.pid}`;

const sshds: TestSshd[] = [];

/**
 * A throwaway sshd (test/support/sshd.ts) that lets root in with a fresh key; `extra` lines go into its
 * config. Its `env` also sets HOME to its directory, so nothing of this machine's ~/.ssh counts.
 */
async function startSshd(extra: string[] = []): Promise<TestSshd> {
  const started = await startTestSshd(extra);
  const sshd: TestSshd = { ...started, env: { HOME: started.dir, ...started.env } };
  sshds.push(sshd);
  return sshd;
}

/** Stops an sshd started by this file whatever happened in the test. */
async function stopSshd(sshd: TestSshd): Promise<void> {
  sshds.splice(sshds.indexOf(sshd), 1);
  await sshd.stop();
}

afterAll(async () => {
  for (const sshd of [...sshds]) await stopSshd(sshd);
});

function engineFor(sshd: TestSshd, env: NodeJS.ProcessEnv = {}): Engine {
  return connectEngine({ host: sshd.url, env: { ...sshd.env, ...env } });
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a failure");
}

describe("ssh:// addresses", () => {
  it("parses user, host and port; rejects passwords and paths", () => {
    expect(resolveEngineAddress({ host: "ssh://deploy@10.0.0.5", env: {} })).toEqual({
      kind: "ssh",
      host: "10.0.0.5",
      port: 22,
      username: "deploy",
      url: "ssh://deploy@10.0.0.5:22",
    });
    expect(resolveEngineAddress({ env: { DOCKER_HOST: "ssh://me@[::1]:2222" } })).toMatchObject({
      kind: "ssh",
      host: "::1",
      port: 2222,
      url: "ssh://me@[::1]:2222",
    });
    expect(resolveEngineAddress({ host: "ssh://box", env: {} })).toMatchObject({ host: "box", port: 22 });
    expect(() => resolveEngineAddress({ host: "ssh://me:pw@box", env: {} })).toThrow(
      /passwords are not supported/,
    );
    expect(() => resolveEngineAddress({ host: "ssh://me@box/var/run/docker.sock", env: {} })).toThrow(
      /nothing may follow the host/,
    );
    expect(() => resolveEngineAddress({ host: "ftp://box", env: {} })).toThrow(
      /use unix:\/\/, tcp:\/\/ or ssh:\/\/user@host\[:port\]/,
    );
  });
});

describe("an engine over ssh", () => {
  let sshd: TestSshd;
  let engine: Engine;
  const containers: string[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
    engine = engineFor(sshd);
  });

  afterAll(async () => {
    for (const id of containers) await engine.removeContainer(id, { force: true }).catch(() => {});
    engine?.close();
  });

  it("pings and reports the remote engine's version", async () => {
    await engine.ping();
    const local = await connectEngine({ env: {} }).version();
    expect(await engine.version()).toEqual(local);
    expect(engine.address.url).toBe(`ssh://root@127.0.0.1:${sshd.port}`);
  });

  it("runs a container, execs in it and reads its logs", async () => {
    const id = await engine.createContainer({
      image,
      name: `slipway-ssh-${run}`,
      cmd: ["sh", "-c", "echo started; exec sleep 60"],
      labels: { "dev.slipway.test": run },
    });
    containers.push(id);
    await engine.startContainer(id);
    expect((await engine.inspectContainer(id))?.running).toBe(true);
    expect(await engine.execInContainer(id, ["sh", "-c", "echo out; echo err >&2; exit 3"])).toEqual({
      exitCode: 3,
      stdout: "out\n",
      stderr: "err\n",
    });
    expect(await engine.containerLogs(id)).toEqual({ stdout: "started\n", stderr: "" });
    // Requests at once share the SSH connections (more than fit in one).
    const states = await Promise.all(Array.from({ length: 10 }, () => engine.inspectContainer(id)));
    expect(states.every((s) => s?.running)).toBe(true);
    await engine.removeContainer(id, { force: true });
    expect(await engine.inspectContainer(id)).toBeUndefined();
  });

  it("authenticates with the ssh agent", async () => {
    const socket = join(sshd.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      execFileSync("ssh-add", ["-q", sshd.clientKey.path], {
        env: { SSH_AUTH_SOCK: socket },
        stdio: "ignore",
      });
      const viaAgent = connectEngine({
        host: sshd.url,
        env: { HOME: sshd.dir, SSH_AUTH_SOCK: socket, SLIPWAY_SSH_KNOWN_HOSTS: sshd.knownHosts },
      });
      await viaAgent.ping();
      viaAgent.close();
    } finally {
      agent.kill("SIGTERM");
    }
  });

  it("refuses a wrong key with an authentication error naming the host", async () => {
    const wrong = keygen(sshd.dir, `wrong-${Date.now()}`);
    const err = await failure(engineFor(sshd, { SLIPWAY_SSH_KEY: wrong.path }).ping());
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toMatch(
      new RegExp(
        `^ssh to root@127\\.0\\.0\\.1:${sshd.port} failed: authentication failed \\(tried key ${wrong.path}\\)`,
      ),
    );
  });

  it("refuses an unknown or changed host key, and accepts it with SLIPWAY_SSH_INSECURE=1", async () => {
    const empty = join(sshd.dir, "empty_known_hosts");
    writeFileSync(empty, "");
    const unknown = await failure(engineFor(sshd, { SLIPWAY_SSH_KNOWN_HOSTS: empty }).ping());
    expect(unknown).toBeInstanceOf(EngineError);
    expect(unknown.message).toContain(
      `ssh to root@127.0.0.1:${sshd.port} failed: unknown host key: [127.0.0.1]:${sshd.port} presented ${keyFingerprint(sshd.hostKey.blob)}`,
    );
    expect(unknown.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${empty}`);
    expect(unknown.message).toContain("SLIPWAY_SSH_INSECURE=1");

    const other = keygen(sshd.dir, `other-${Date.now()}`);
    const changedFile = join(sshd.dir, "changed_known_hosts");
    writeFileSync(changedFile, `# old\n[127.0.0.1]:${sshd.port} ${other.publicLine}\n`);
    const changed = await failure(engineFor(sshd, { SLIPWAY_SSH_KNOWN_HOSTS: changedFile }).ping());
    expect(changed.message).toContain(`failed: host key mismatch: [127.0.0.1]:${sshd.port} presented`);
    expect(changed.message).toContain(`${changedFile}:2 holds ${keyFingerprint(other.blob)}`);

    const insecure = engineFor(sshd, { SLIPWAY_SSH_KNOWN_HOSTS: empty, SLIPWAY_SSH_INSECURE: "1" });
    await insecure.ping();
    insecure.close();
  });

  it("reports an sshd that does not listen", async () => {
    const port = await freePort();
    const err = await failure(
      connectEngine({ host: `ssh://deploy@127.0.0.1:${port}`, env: { ...sshd.env } }).ping(),
    );
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toMatch(
      new RegExp(`^ssh to deploy@127\\.0\\.0\\.1:${port} failed: connection refused`),
    );
  });

  it("reports a bad SLIPWAY_SSH_KEY as the user's mistake", async () => {
    const err = await failure(engineFor(sshd, { SLIPWAY_SSH_KEY: join(sshd.dir, "missing") }).ping());
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/SLIPWAY_SSH_KEY .*missing cannot be read/);
  });
});

describe("a remote host without a working docker", () => {
  it("reports docker missing on the remote host", async () => {
    // The session's command runs where `docker` is not on the PATH, as on a host without the CLI.
    const sshd = await startSshd(["ForceCommand env PATH=/nonexistent docker system dial-stdio"]);
    try {
      const err = await failure(engineFor(sshd).ping());
      expect(err).toBeInstanceOf(EngineError);
      expect(err.message).toMatch(
        new RegExp(`^ssh to root@127\\.0\\.0\\.1:${sshd.port} failed: docker not found on the remote host`),
      );
    } finally {
      await stopSshd(sshd);
    }
  });

  it("reports an engine that is not running there", async () => {
    const sshd = await startSshd([
      "ForceCommand env DOCKER_HOST=unix:///nonexistent/docker.sock docker system dial-stdio",
    ]);
    try {
      const err = await failure(engineFor(sshd).ping());
      expect(err).toBeInstanceOf(EngineError);
      expect(err.message).toMatch(
        /failed: docker system dial-stdio on the remote host exited with 1: .*nonexistent/,
      );
    } finally {
      await stopSshd(sshd);
    }
  });
});

describe("the docker runtime over ssh", () => {
  it("starts an instance reachable at its address and stops it", async () => {
    const sshd = await startSshd();
    const saved = { ...process.env };
    // createDockerRuntime reads the SSH settings from the environment, as `slipway deploy` does.
    Object.assign(process.env, sshd.env);
    const app = `ssh${run}`;
    const stateDir = tempDir();
    const runtime = createDockerRuntime({ host: sshd.url, stateDir });
    const engine = engineFor(sshd);
    try {
      const service = testService({
        runtime: "docker",
        image,
        command: [
          "sh",
          "-c",
          "mkdir -p /www && echo over-ssh > /www/index.html && exec httpd -f -p 8080 -h /www",
        ],
        port: 8080,
      });
      const info = await runtime.start({
        id: "web-r1-1",
        service,
        labels: testLabels(app, "web-r1-1"),
        env: {},
        files: [{ path: "token", content: Buffer.from("t0ken") }],
        image,
      });
      expect(info).toMatchObject({ runtime: "docker", running: true, address: { host: "127.0.0.1" } });
      let body = "";
      for (let i = 0; i < 50 && body !== "over-ssh\n"; i++) {
        body = await fetch(`http://${info.address!.host}:${info.address!.port}/`)
          .then((r) => r.text())
          .catch(() => "");
        if (body !== "over-ssh\n") await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toBe("over-ssh\n");
      expect(await runtime.exec("web-r1-1", ["cat", "/run/secrets/token"], { timeoutMs: 5000 })).toEqual({
        exitCode: 0,
        output: "t0ken",
        timedOut: false,
      });
      expect((await runtime.list({ app, env: "test" })).map((i) => i.id)).toEqual(["web-r1-1"]);
      await runtime.stop("web-r1-1", { timeoutMs: 2000 });
      expect(await runtime.inspect("web-r1-1")).toBeUndefined();
      expect(await engine.inspectContainer(info.ref)).toBeUndefined();
    } finally {
      for (const c of await engine.listContainers({ labels: { "dev.slipway.app": app }, all: true }))
        await engine.removeContainer(c.id, { force: true }).catch(() => {});
      await engine.removeNetwork(`slipway-${app}-test`).catch(() => {});
      await runtime.close();
      engine.close();
      process.env = saved;
      rmSync(stateDir, { recursive: true, force: true });
      await stopSshd(sshd);
    }
  });
});
