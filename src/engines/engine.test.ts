// The engine client against the real Docker Engine and real registries (test/support/docker-setup.ts
// prepares both); pure parts (addresses, request bodies, .dockerignore) without I/O.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/ports.js";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { OperationError, UserError } from "../lib/errors.js";
import {
  BuildError,
  classifyPushFailure,
  connectEngine,
  containerCreateOptions,
  type Engine,
  PushError,
  resolveEngineAddress,
  splitReference,
  tarFiles,
} from "./index.js";

const base = "slipway/busybox:latest";
const run = Date.now().toString(36);

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-engine-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

async function tags(registry: TestRegistry, repo: string, auth?: string): Promise<string[]> {
  const r = await fetch(`${registry.url}/v2/${repo}/tags/list`, {
    headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {},
  });
  if (r.status === 404) return [];
  return ((await r.json()) as { tags: string[] | null }).tags ?? [];
}

describe("engine address", () => {
  it("reads DOCKER_HOST forms", () => {
    const exists = () => false;
    expect(resolveEngineAddress({ env: {}, exists }).url).toBe("unix:///var/run/docker.sock");
    expect(resolveEngineAddress({ env: { DOCKER_HOST: "unix:///tmp/x.sock" } })).toMatchObject({
      kind: "unix",
      socketPath: "/tmp/x.sock",
    });
    expect(resolveEngineAddress({ env: { DOCKER_HOST: "tcp://10.0.0.2:2375" } })).toMatchObject({
      kind: "tcp",
      protocol: "http",
      host: "10.0.0.2",
      port: 2375,
      url: "tcp://10.0.0.2:2375",
    });
    expect(resolveEngineAddress({ env: { DOCKER_HOST: "tcp://h" } })).toMatchObject({ port: 2375 });
    expect(resolveEngineAddress({ host: "tcp://a:1", env: { DOCKER_HOST: "tcp://b:2" } })).toMatchObject({
      host: "a",
    });
    // Podman's rootless socket when Docker's is absent.
    const podman = resolveEngineAddress({
      env: { XDG_RUNTIME_DIR: "/run/user/1000" },
      exists: (p) => p === "/run/user/1000/podman/podman.sock",
    });
    expect(podman.url).toBe("unix:///run/user/1000/podman/podman.sock");
    expect(resolveEngineAddress({ env: { DOCKER_HOST: "ssh://me@host" } })).toMatchObject({ kind: "ssh" });
    expect(() => resolveEngineAddress({ env: { DOCKER_HOST: "ftp://host" } })).toThrow(UserError);
  });

  it("splits references", () => {
    expect(splitReference("127.0.0.1:5000/team/app:1.0")).toEqual({
      name: "127.0.0.1:5000/team/app",
      tag: "1.0",
    });
    expect(splitReference("127.0.0.1:5000/team/app")).toEqual({ name: "127.0.0.1:5000/team/app" });
    expect(splitReference("app@sha256:abc")).toEqual({ name: "app", digest: "sha256:abc" });
  });

  it("classifies registry failures", () => {
    expect(classifyPushFailure("unauthorized: authentication required")).toBe("auth");
    expect(classifyPushFailure("denied: requested access to the resource is denied")).toBe("auth");
    expect(
      classifyPushFailure('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'),
    ).toBe("unreachable");
    expect(classifyPushFailure("manifest invalid")).toBe("other");
    // Digits of an address are no status code (a CI run once drew port 40193 and read it as a 401).
    expect(
      classifyPushFailure(
        'Get "http://127.0.0.1:40193/v2/": dial tcp 127.0.0.1:40193: connect: connection refused',
      ),
    ).toBe("unreachable");
    expect(classifyPushFailure("registry.internal:5023: manifest invalid")).toBe("other");
    expect(classifyPushFailure("received unexpected HTTP status: 401 Unauthorized")).toBe("auth");
    expect(classifyPushFailure("received unexpected HTTP status: 502 Bad Gateway")).toBe("unreachable");
    expect(classifyPushFailure("unexpected status code 503 from https://r.example:4430/v2/")).toBe(
      "unreachable",
    );
  });
});

describe("container specs as data", () => {
  it("turns a spec into the create body", () => {
    expect(
      containerCreateOptions({
        image: base,
        name: "svc",
        cmd: ["sleep", "5"],
        env: { A: "1" },
        labels: { "io.slipway.run": "r1" },
        ports: [{ container: 80 }, { container: 53, protocol: "udp", host: 5353, hostIp: "127.0.0.1" }],
        mounts: [
          { type: "bind", source: "/src", target: "/w", readOnly: true },
          { type: "tmpfs", target: "/t" },
        ],
        network: { name: "n1", aliases: ["db"] },
        healthcheck: { test: ["CMD", "true"], intervalMs: 500, retries: 3 },
      }),
    ).toEqual({
      Image: base,
      name: "svc",
      Cmd: ["sleep", "5"],
      Env: ["A=1"],
      Labels: { "io.slipway.run": "r1" },
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: { "80/tcp": {}, "53/udp": {} },
      HostConfig: {
        AutoRemove: false,
        Privileged: false,
        Mounts: [
          { Type: "bind", Source: "/src", Target: "/w", ReadOnly: true },
          { Type: "tmpfs", Target: "/t", TmpfsOptions: {} },
        ],
        PortBindings: {
          "80/tcp": [{ HostIp: "", HostPort: "" }],
          "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
        },
        ExtraHosts: [],
        NetworkMode: "n1",
      },
      NetworkingConfig: { EndpointsConfig: { n1: { Aliases: ["db"] } } },
      Healthcheck: {
        Test: ["CMD", "true"],
        Interval: 500_000_000,
        Timeout: undefined,
        Retries: 3,
        StartPeriod: undefined,
      },
    });
  });
});

describe("engine errors", () => {
  it("reports a missing engine only when it is needed, naming the address", async () => {
    const engine = connectEngine({ host: "unix:///nonexistent/docker.sock" });
    const err = await engine.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(
      /^no container engine at unix:\/\/\/nonexistent\/docker.sock: connect ENOENT .*start dockerd.*DOCKER_HOST/,
    );
  });

  it("reports a refused tcp address", async () => {
    const port = await freePort();
    const engine = connectEngine({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
    await expect(engine.version()).rejects.toThrow(
      new RegExp(`no container engine at tcp://127.0.0.1:${port}: .*ECONNREFUSED`),
    );
  });
});

describe("engine against Docker", () => {
  let engine: Engine;
  let registry: TestRegistry;
  let secured: TestRegistry;
  const dirs: string[] = [];
  const images: string[] = [];

  beforeAll(async () => {
    engine = connectEngine();
    [registry, secured] = await Promise.all([
      startRegistry(),
      startRegistry({ basic: { username: "alice", password: "s3cret" } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), secured?.stop()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const i of images) await engine.removeImage(i, { force: true }).catch(() => {});
  });

  it("answers ping and version", async () => {
    await engine.ping();
    const v = await engine.version();
    expect(v.apiVersion).toMatch(/^\d+\.\d+/);
    expect(v.podman).toBe(false);
  });

  it("builds, tags and pushes to a registry, whose tag list then has the tags", async () => {
    const dir = tempDir({ Dockerfile: `FROM ${base}\nCOPY hello.txt /hello.txt\n`, "hello.txt": run });
    dirs.push(dir);
    const ref = `${registry.host}/engine/hello:1.0.0`;
    images.push(ref, `${registry.host}/engine/hello:latest`);
    const logs: string[] = [];
    const { id, builder } = await engine.buildImage({
      context: dir,
      tags: [ref],
      labels: { "io.slipway.test": "engine" },
      onLog: (l) => logs.push(l),
    });
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(builder).toBe("buildkit");
    expect(logs.join("\n")).toMatch(/^#\d+ \[2\/2\] COPY hello.txt/m);
    const info = await engine.inspectImage(ref);
    expect(info?.labels["io.slipway.test"]).toBe("engine");
    await engine.tagImage(ref, `${registry.host}/engine/hello:latest`);
    const pushed = await engine.pushImage(ref);
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await engine.pushImage(`${registry.host}/engine/hello:latest`);
    expect((await tags(registry, "engine/hello")).sort()).toEqual(["1.0.0", "latest"]);
    expect((await engine.inspectImage(ref))?.repoDigests).toContain(
      `${registry.host}/engine/hello@${pushed.digest}`,
    );
    // And back: pulled from the registry once the engine no longer has it.
    await engine.removeImage(ref, { force: true });
    expect(await engine.imageExists(ref)).toBe(false);
    expect(await engine.ensureImage(ref)).toBe("pulled");
    expect(await engine.ensureImage(ref)).toBe("present");
    await expect(engine.pullImage(`${registry.host}/engine/nothing:1`)).rejects.toThrow(
      /pull of .*engine\/nothing:1 failed: .*not found/,
    );
  });

  it("builds with a Dockerfile outside the context, a target stage and build args", async () => {
    const dir = tempDir({
      "docker/app.Dockerfile": `FROM ${base} AS first\nARG GREETING\nRUN echo "$GREETING" > /greeting\nFROM first AS second\nRUN echo second >> /greeting\n`,
      "ctx/data.txt": "data",
    });
    dirs.push(dir);
    const ref = `slipway-test/outside:${run}`;
    images.push(ref);
    await engine.buildImage({
      context: join(dir, "ctx"),
      dockerfile: join(dir, "docker/app.Dockerfile"),
      tags: [ref],
      target: "first",
      buildArgs: { GREETING: `hello ${run}` },
    });
    const id = await engine.createContainer({ image: ref, cmd: ["cat", "/greeting"] });
    try {
      await engine.startContainer(id);
      expect(await engine.waitContainer(id)).toBe(0);
      expect((await engine.containerLogs(id)).stdout).toBe(`hello ${run}\n`);
    } finally {
      await engine.removeContainer(id, { force: true });
    }
  });

  it.each([
    ["buildkit", /failed at step 3\/4: RUN echo broken >&2 && exit 3\n.*exit code: 3/],
    ["legacy", /failed at step 3\/4: RUN echo broken >&2 && exit 3\n.*returned a non-zero code: 3/],
  ] as const)("surfaces the failing instruction of a Dockerfile (%s builder)", async (builder, message) => {
    const dir = tempDir({
      Dockerfile: `FROM ${base}\nRUN echo about to fail\nRUN echo broken >&2 && exit 3\nRUN echo never\n`,
    });
    dirs.push(dir);
    const logs: string[] = [];
    const err = await engine
      .buildImage({ context: dir, tags: [`slipway-test/broken:${run}`], builder, onLog: (l) => logs.push(l) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as BuildError).instruction).toBe("RUN echo broken >&2 && exit 3");
    expect((err as BuildError).step).toBe("3/4");
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain("broken");
    // The legacy builder says why it was used; BuildKit needs no note.
    expect(logs.some((l) => l.startsWith("note: building with the legacy builder"))).toBe(
      builder === "legacy",
    );
  });

  it("makes an authentication failure a clear error and pushes nothing", async () => {
    const dir = tempDir({ Dockerfile: `FROM ${base}\nRUN echo ${run} > /auth\n` });
    dirs.push(dir);
    const ref = `${secured.host}/secure/app:1.0.0`;
    images.push(ref);
    await engine.buildImage({ context: dir, tags: [ref] });
    const noAuth = await engine.pushImage(ref).catch((e) => e);
    expect(noAuth).toBeInstanceOf(PushError);
    expect((noAuth as PushError).kind).toBe("auth");
    expect((noAuth as Error).message).toMatch(
      /push of .*secure\/app:1.0.0 failed: .*(unauthorized|authentication required|no basic auth credentials).*check the registry credentials/i,
    );
    const wrong = await engine
      .pushImage(ref, { auth: { username: "alice", password: "wrong", serveraddress: secured.host } })
      .catch((e) => e);
    expect((wrong as PushError).kind).toBe("auth");
    expect(await tags(secured, "secure/app", "alice:s3cret")).toEqual([]);
    const ok = await engine.pushImage(ref, {
      auth: { username: "alice", password: "s3cret", serveraddress: secured.host },
    });
    expect(ok.digest).toMatch(/^sha256:/);
    expect(await tags(secured, "secure/app", "alice:s3cret")).toEqual(["1.0.0"]);
  });

  it("reports an unreachable registry as such", async () => {
    const port = await freePort();
    const ref = `127.0.0.1:${port}/gone/app:1`;
    images.push(ref);
    await engine.tagImage(base, ref);
    const err = await engine.pushImage(ref).catch((e) => e);
    expect(err).toBeInstanceOf(PushError);
    expect((err as PushError).kind).toBe("unreachable");
  });

  it("runs containers with labels on a network with aliases: exec, logs, health, wait", async () => {
    const net = `slipway-test-${run}`;
    const labels = { "io.slipway.test": run };
    await engine.createNetwork(net, { labels });
    const ids: string[] = [];
    try {
      const server = await engine.createContainer({
        image: base,
        name: `slipway-test-server-${run}`,
        cmd: [
          "sh",
          "-c",
          "echo started; echo oops >&2; mkdir -p /www && echo pong > /www/ping && httpd -f -p 8080 -h /www",
        ],
        labels,
        network: { name: net, aliases: ["api"] },
        healthcheck: {
          test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/ping"],
          intervalMs: 300,
          retries: 10,
        },
      });
      ids.push(server);
      await engine.startContainer(server);
      const client = await engine.createContainer({
        image: base,
        cmd: ["sleep", "30"],
        labels,
        network: { name: net },
      });
      ids.push(client);
      await engine.startContainer(client);
      expect((await engine.listContainers({ labels })).map((c) => c.id).sort()).toEqual([...ids].sort());

      let health = await engine.healthStatus(server);
      for (let i = 0; i < 50 && health !== "healthy"; i++) {
        await new Promise((r) => setTimeout(r, 200));
        health = await engine.healthStatus(server);
      }
      expect(health).toBe("healthy");
      const exec = await engine.execInContainer(client, ["wget", "-q", "-O-", "http://api:8080/ping"]);
      expect(exec).toEqual({ exitCode: 0, stdout: "pong\n", stderr: "" });
      const failing = await engine.execInContainer(client, ["sh", "-c", "echo no >&2; exit 4"], {
        env: { X: "1" },
      });
      expect(failing).toEqual({ exitCode: 4, stdout: "", stderr: "no\n" });
      const logs = await engine.containerLogs(server);
      expect(logs).toEqual({ stdout: "started\n", stderr: "oops\n" });

      // Following logs of a container that exits ends with it.
      const short = await engine.createContainer({
        image: base,
        cmd: ["sh", "-c", "echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c"],
        labels,
      });
      ids.push(short);
      await engine.startContainer(short);
      const followed: string[] = [];
      await engine.containerLogs(short, {
        follow: true,
        onStdout: (b) => followed.push(`out:${b.toString()}`),
        onStderr: (b) => followed.push(`err:${b.toString()}`),
      });
      expect(followed.join("")).toBe("out:a\nerr:b\nout:c\n");
      expect(await engine.waitContainer(short)).toBe(0);

      await engine.stopContainer(client, { timeoutSeconds: 0 });
      expect(await engine.waitContainer(client)).toBe(137);
      const state = await engine.inspectContainer(server);
      expect(state?.networks[net]).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(state?.running).toBe(true);
    } finally {
      for (const id of ids) await engine.removeContainer(id, { force: true });
      await engine.removeNetwork(net);
    }
    expect(await engine.inspectContainer(ids[0])).toBeUndefined();
    expect(await engine.removeNetwork(net)).toBe(false);
  });
});

describe("restart policies, files copied in, volumes", () => {
  it("puts the restart policy in the create body", async () => {
    const body = (restartPolicy: Parameters<typeof containerCreateOptions>[0]["restartPolicy"]) =>
      containerCreateOptions({ image: base, restartPolicy }).HostConfig?.RestartPolicy;
    expect(body(undefined)).toBeUndefined();
    expect(body({ name: "unless-stopped" })).toEqual({ Name: "unless-stopped" });
    expect(body({ name: "on-failure", maximumRetryCount: 5 })).toEqual({
      Name: "on-failure",
      MaximumRetryCount: 5,
    });
    expect(body({ name: "always", maximumRetryCount: 5 })).toEqual({ Name: "always" });
    await expect(tarFiles([{ path: "../etc/passwd", content: Buffer.from("") }])).rejects.toThrow(UserError);
  });

  it("copies 0600 files into a container before it starts and keeps named volumes", async () => {
    const engine = connectEngine();
    const labels = { "io.slipway.test": `files-${run}` };
    const volume = `slipway-test-vol-${run}`;
    const ids: string[] = [];
    try {
      const created = await engine.createVolume(volume, { labels });
      expect(created).toMatchObject({ name: volume, labels });
      expect((await engine.createVolume(volume, { labels })).name).toBe(volume);
      expect((await engine.listVolumes({ labels })).map((v) => v.name)).toEqual([volume]);
      const id = await engine.createContainer({
        image: base,
        cmd: [
          "sh",
          "-c",
          "stat -c '%a %n' /run/secrets/a /tmp/b; cat /run/secrets/a; ls -ld /tmp | cut -c1-10; echo v > /v/x",
        ],
        labels,
        mounts: [{ type: "volume", source: volume, target: "/v" }],
        restartPolicy: { name: "no" },
      });
      ids.push(id);
      expect((await engine.inspectContainer(id))?.startedAt).toBeUndefined();
      const tar = await tarFiles([
        { path: "/run/secrets/a", content: Buffer.from("secret\n"), mode: 0o600 },
        { path: "tmp/b", content: Buffer.from("b"), mode: 0o600 },
      ]);
      await engine.putArchive(id, "/", tar);
      const t0 = Date.now();
      await engine.startContainer(id);
      expect(await engine.waitContainer(id)).toBe(0);
      expect((await engine.inspectContainer(id))?.startedAt).toBeGreaterThanOrEqual(t0 - 2000);
      expect((await engine.containerLogs(id)).stdout).toBe(
        "600 /run/secrets/a\n600 /tmp/b\nsecret\ndrwxrwxrwt\n",
      );
      await engine.removeContainer(id, { force: true });
      const reader = await engine.createContainer({
        image: base,
        cmd: ["cat", "/v/x"],
        labels,
        mounts: [{ type: "volume", source: volume, target: "/v", readOnly: true }],
      });
      ids.push(reader);
      await engine.startContainer(reader);
      expect(await engine.waitContainer(reader)).toBe(0);
      expect((await engine.containerLogs(reader)).stdout).toBe("v\n");
    } finally {
      for (const id of ids) await engine.removeContainer(id, { force: true });
      await engine.removeVolume(volume);
    }
    expect(await engine.inspectVolume(volume)).toBeUndefined();
    expect(await engine.removeVolume(volume)).toBe(false);
  });
});
