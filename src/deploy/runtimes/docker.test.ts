// The docker runtime against the real engine with slipway/busybox:latest (test/support/docker-setup.ts
// makes it): httpd behind a published port, labels, volumes, secret files, exec, tasks. Every test run
// uses its own app name and removes its containers, volumes and network afterwards.
import { afterAll, describe, expect, it } from "vitest";
import { connectEngine, resolveEngineAddress } from "../../engines/index.js";
import { OperationError, UserError } from "../../lib/errors.js";
import { probeInstance } from "../health.js";
import type { InstanceInfo, ServiceSpec, StartRequest } from "../types.js";
import {
  containerName,
  createDockerRuntime,
  dockerRestartPolicy,
  instanceContainerSpec,
  labelKeys,
  networkName,
  publishTarget,
} from "./docker.js";
import { tempDir, testLabels, testService } from "./testing.js";

const image = "slipway/busybox:latest";
const app = `t${Date.now().toString(36)}${process.pid}`;
const engine = connectEngine();
const runtime = createDockerRuntime({ engine, stateDir: tempDir() });

const httpd = "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www";

function webService(over: Partial<ServiceSpec> = {}): ServiceSpec {
  return testService({
    runtime: "docker",
    image,
    command: ["sh", "-c", httpd],
    port: 8080,
    ...over,
  });
}

function request(id: string, over: Partial<StartRequest> = {}): StartRequest {
  return {
    id,
    service: webService(),
    labels: testLabels(app, id),
    env: {},
    files: [],
    image,
    ...over,
  };
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function fetchText(info: InstanceInfo): Promise<string> {
  const a = info.address!;
  return until(`GET ${a.host}:${a.port}`, async () => (await fetch(`http://${a.host}:${a.port}/`)).text());
}

afterAll(async () => {
  const scope = { [labelKeys.app]: app };
  for (const c of await engine.listContainers({ labels: scope }))
    await engine.removeContainer(c.id, { force: true });
  for (const v of await engine.listVolumes({ labels: scope }))
    await engine.removeVolume(v.name, { force: true });
  await engine.removeNetwork(networkName(app, "test"));
  await runtime.close();
});

describe("docker runtime as data", () => {
  it("maps restart policies and where ports are published", () => {
    expect(dockerRestartPolicy({ policy: "always", backoffMs: 1, maxBackoffMs: 2 })).toEqual({
      name: "unless-stopped",
    });
    expect(dockerRestartPolicy({ policy: "on-failure", backoffMs: 1, maxBackoffMs: 2 })).toEqual({
      name: "on-failure",
    });
    expect(dockerRestartPolicy({ policy: "no", backoffMs: 1, maxBackoffMs: 2 })).toEqual({ name: "no" });
    const local = resolveEngineAddress({ env: {}, exists: () => false });
    expect(publishTarget(undefined, local)).toEqual({ hostIp: "127.0.0.1", addressHost: "127.0.0.1" });
    const remote = resolveEngineAddress({ host: "tcp://build-1.internal:2375", env: {} });
    expect(publishTarget("tcp://build-1.internal:2375", remote)).toEqual({
      hostIp: "0.0.0.0",
      addressHost: "build-1.internal",
    });
    const loop = resolveEngineAddress({ host: "tcp://127.0.0.1:2375", env: {} });
    expect(publishTarget(undefined, loop).hostIp).toBe("127.0.0.1");
    // ssh:// reaches the engine through a forwarded socket; instances are on the ssh host.
    expect(publishTarget("ssh://deploy@app-1.example", local)).toEqual({
      hostIp: "0.0.0.0",
      addressHost: "app-1.example",
    });
  });

  it("describes an instance's container", () => {
    const spec = instanceContainerSpec(
      request("web-r1-x", {
        env: { A: "1" },
        service: webService({
          volumes: [
            { source: "data", kind: "named", target: "/data", readOnly: false },
            { source: "/srv/static", kind: "bind", target: "/static", readOnly: true },
          ],
          resources: { memoryBytes: 64 << 20, cpus: 0.5 },
          restart: { policy: "always", backoffMs: 1000, maxBackoffMs: 30_000 },
        }),
      }),
      { hostIp: "127.0.0.1" },
    );
    expect(spec).toEqual({
      image,
      name: `slipway-${app}-test-web-r1-x`,
      cmd: ["sh", "-c", httpd],
      env: { A: "1" },
      labels: {
        "dev.slipway.managed": "true",
        "dev.slipway.app": app,
        "dev.slipway.env": "test",
        "dev.slipway.service": "web",
        "dev.slipway.release": "r1",
        "dev.slipway.instance": "web-r1-x",
        "dev.slipway.port": "8080",
      },
      network: { name: `slipway-${app}-test`, aliases: ["web"] },
      ports: [{ container: 8080, host: 0, hostIp: "127.0.0.1" }],
      mounts: [
        { type: "volume", source: `slipway-${app}-test-data`, target: "/data", readOnly: false },
        { type: "bind", source: "/srv/static", target: "/static", readOnly: true },
      ],
      restartPolicy: { name: "unless-stopped" },
      memoryBytes: 64 << 20,
      cpus: 0.5,
    });
    expect(() =>
      instanceContainerSpec(request("x", { image: undefined, service: webService({ image: undefined }) }), {
        hostIp: "",
      }),
    ).toThrow(UserError);
    expect(() => instanceContainerSpec(request("a/b"), { hostIp: "" })).toThrow(UserError);
  });
});

describe("docker runtime against Docker", () => {
  it("prepares a local image with its digest, and fails clearly on a missing one", async () => {
    const found = await engine.inspectImage(image);
    expect(await runtime.prepare(webService())).toEqual({ image, digest: found!.id });
    const missing = `slipway-test-missing-${app}:1`;
    const err = await runtime.prepare(webService({ image: missing })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(
      new RegExp(`^image ${missing}: not found locally and pull failed: .+`),
    );
    await expect(runtime.prepare(webService({ image: undefined }))).rejects.toThrow(UserError);
  });

  it("runs instances reachable on published ports, labelled, listed, with secrets and volumes", async () => {
    const service = webService({
      volumes: [{ source: "data", kind: "named", target: "/data", readOnly: false }],
      restart: { policy: "always", backoffMs: 1000, maxBackoffMs: 30_000 },
    });
    const one = await runtime.start(
      request("web-r1-1", {
        service,
        env: { GREETING: "hello" },
        files: [
          { path: "token", content: Buffer.from("t0ken") },
          { path: "/etc/app/db.pass", content: Buffer.from("s3cret") },
        ],
      }),
    );
    expect(one).toMatchObject({ id: "web-r1-1", runtime: "docker", running: true });
    expect(one.labels).toEqual(testLabels(app, "web-r1-1"));
    expect(one.address?.host).toBe("127.0.0.1");
    expect(one.address?.port).toBeGreaterThan(0);
    expect(await fetchText(one)).toBe("hi\n");

    const state = await engine.inspectContainer(one.ref);
    expect(state?.name).toBe(containerName(app, "test", "web-r1-1"));
    expect(state?.ports["8080/tcp"]).toEqual([{ hostIp: "127.0.0.1", hostPort: one.address!.port }]);
    const raw = await engine.docker.getContainer(one.ref).inspect();
    expect(raw.HostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    expect(raw.Config.Env).toContain("GREETING=hello");

    const secret = await runtime.exec(
      "web-r1-1",
      ["sh", "-c", "stat -c '%a %U' /run/secrets/token /etc/app/db.pass; cat /run/secrets/token"],
      {
        timeoutMs: 5000,
      },
    );
    expect(secret).toEqual({ exitCode: 0, output: "600 root\n600 root\nt0ken", timedOut: false });

    // Services reach each other by name on the app's network.
    const viaAlias = await runtime.runTask({
      id: "probe-alias",
      service,
      labels: testLabels(app, "probe-alias"),
      command: ["wget", "-q", "-O-", "http://web:8080/"],
      env: {},
      timeoutMs: 10_000,
    });
    expect(viaAlias).toEqual({ exitCode: 0, output: "hi\n", timedOut: false });

    // An exec health check inside the container.
    const healthy = await probeInstance(
      {
        type: "exec",
        command: ["wget", "-q", "-O-", "http://127.0.0.1:8080/"],
        intervalMs: 100,
        timeoutMs: 5000,
        healthyThreshold: 1,
        unhealthyThreshold: 1,
        startPeriodMs: 0,
        deadlineMs: 5000,
      },
      one,
      runtime,
    );
    expect(healthy).toEqual({ ok: true, detail: "exit code 0: hi" });
    expect((await probeInstance(undefined, one, runtime)).ok).toBe(true);

    await runtime.exec("web-r1-1", ["sh", "-c", "echo kept > /data/file"], { timeoutMs: 5000 });
    const crashed = await runtime.start(
      request("crash-r1-1", {
        service: testService({ runtime: "docker", image, command: ["sh", "-c", "echo dying; exit 5"] }),
        labels: testLabels(app, "crash-r1-1", { service: "crash" }),
      }),
    );
    const dead = await until("the crash", async () => {
      const i = await runtime.inspect("crash-r1-1");
      return i && !i.running ? i : undefined;
    });
    expect(dead).toMatchObject({ exitCode: 5, ref: crashed.ref });
    expect(await runtime.logs("crash-r1-1")).toBe("dying");

    const listed = await runtime.list({ app, env: "test" });
    expect(listed.map((i) => [i.id, i.running, i.exitCode])).toEqual([
      ["web-r1-1", true, undefined],
      ["crash-r1-1", false, 5],
    ]);
    expect(listed[0]).toEqual({ ...one, startedAt: listed[0].startedAt });
    expect(await runtime.list({ app, env: "other" })).toEqual([]);

    await runtime.stop("web-r1-1", { timeoutMs: 2000 });
    await runtime.stop("crash-r1-1", { timeoutMs: 2000 });
    expect(await runtime.inspect("web-r1-1")).toBeUndefined();
    expect(await engine.inspectContainer(one.ref)).toBeUndefined();
    await runtime.stop("web-r1-1", { timeoutMs: 2000 });
    expect(await runtime.logs("web-r1-1")).toBe("");

    // The named volume outlives the container: a new instance sees the file.
    const two = await runtime.start(
      request("web-r2-1", { service, labels: testLabels(app, "web-r2-1", { release: "r2" }) }),
    );
    expect(await runtime.exec("web-r2-1", ["cat", "/data/file"], { timeoutMs: 5000 })).toMatchObject({
      output: "kept\n",
    });
    expect(two.address?.port).toBeGreaterThan(0);
    await runtime.stop("web-r2-1", { timeoutMs: 2000 });
    expect(await engine.inspectVolume(`slipway-${app}-test-data`)).toMatchObject({
      labels: { "dev.slipway.app": app },
    });
    await expect(runtime.exec("web-r2-1", ["true"], { timeoutMs: 1000 })).rejects.toThrow(OperationError);
  });

  it("runs tasks to completion: exit code, output, timeout; nothing is left behind", async () => {
    const service = webService();
    const task = await runtime.runTask({
      id: "web-pre-deploy-r1",
      service,
      labels: testLabels(app, "web-pre-deploy"),
      command: ["sh", "-c", "echo out $DB; echo err >&2; exit 3"],
      env: { DB: "main" },
      timeoutMs: 10_000,
    });
    // Docker keeps stdout and stderr apart; their order in the log is not guaranteed.
    expect(task).toMatchObject({ exitCode: 3, timedOut: false });
    expect(task.output.split("\n").sort()).toEqual(["", "err", "out main"]);
    const t0 = Date.now();
    const slow = await runtime.runTask({
      id: "web-slow-r1",
      service,
      labels: testLabels(app, "web-slow"),
      command: ["sh", "-c", "echo started; sleep 30"],
      env: {},
      timeoutMs: 1000,
    });
    expect(slow).toMatchObject({ timedOut: true, output: "started\n" });
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(await engine.listContainers({ labels: { [labelKeys.app]: app, [labelKeys.task]: "" } })).toEqual(
      [],
    );
    // A task is not an instance.
    expect(await runtime.list({ app, env: "test" })).toEqual([]);
  });

  it("times out an exec", async () => {
    await runtime.start(request("web-r3-1"));
    const r = await runtime.exec("web-r3-1", ["sh", "-c", "echo waiting; sleep 5"], { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
    await runtime.stop("web-r3-1", { timeoutMs: 1000 });
  });
});
