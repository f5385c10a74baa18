// BuildKit builds against the real Docker Engine: cache and secret mounts, where a secret must never end up
// (layers, history, logs), the choice of builder, one other platform; and the progress decoder on its own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { BuildKitPrinter, statusType } from "./buildkit-progress.js";
import { BuildError, connectEngine, type Engine, engineBuilder } from "./index.js";

const base = "slipway/busybox:latest";
const run = Date.now().toString(36);
const secret = `tok-${run}-Zq9xV2`;

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-buildkit-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** Every byte of an image as `docker save` exports it (layers, config, history). */
async function savedImage(engine: Engine, ref: string): Promise<Buffer> {
  const stream = await engine.docker.getImage(ref).get();
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function fileIn(engine: Engine, ref: string, path: string): Promise<string> {
  const id = await engine.createContainer({ image: ref, cmd: ["cat", path] });
  try {
    await engine.startContainer(id);
    await engine.waitContainer(id);
    return (await engine.containerLogs(id)).stdout;
  } finally {
    await engine.removeContainer(id, { force: true });
  }
}

describe("builder choice", () => {
  it("offers BuildKit on Docker Engine API 1.39+, the legacy builder on Podman and older engines", () => {
    expect(engineBuilder({ apiVersion: "1.41", podman: false })).toEqual({ builder: "buildkit" });
    expect(engineBuilder({ apiVersion: "1.39", podman: false })).toEqual({ builder: "buildkit" });
    expect(engineBuilder({ apiVersion: "1.38", podman: false }).builder).toBe("legacy");
    expect(engineBuilder({ apiVersion: "1.41", podman: true })).toEqual({
      builder: "legacy",
      why: "Podman's Docker-compatible API has no BuildKit",
    });
  });
});

describe("BuildKit progress", () => {
  const encode = (status: object) =>
    Buffer.from(statusType.encode(statusType.fromObject(status)).finish()).toString("base64");

  it("prints numbered steps, their output, cache hits, durations, and remembers the failing step", () => {
    const lines: string[] = [];
    const p = new BuildKitPrinter((l) => lines.push(l));
    const t = (s: number) => ({ seconds: 1000 + s, nanos: 0 });
    p.write(encode({ vertexes: [{ digest: "sha256:a", name: "[1/3] FROM base", cached: true }] }));
    p.write(encode({ vertexes: [{ digest: "sha256:b", name: "[2/3] RUN make", started: t(0) }] }));
    p.write(encode({ logs: [{ vertex: "sha256:b", msg: Buffer.from("compil") }] }));
    p.write(encode({ logs: [{ vertex: "sha256:b", msg: Buffer.from("ing\nlinked\n") }] }));
    p.write(
      encode({ vertexes: [{ digest: "sha256:b", name: "[2/3] RUN make", started: t(0), completed: t(2) }] }),
    );
    p.write(encode({ vertexes: [{ digest: "sha256:c", name: "[stage-1 3/3] RUN test", started: t(2) }] }));
    p.write(encode({ logs: [{ vertex: "sha256:c", msg: Buffer.from("no newline at the end") }] }));
    p.write(
      encode({
        vertexes: [
          {
            digest: "sha256:c",
            name: "[stage-1 3/3] RUN test",
            started: t(2),
            completed: t(3),
            error: "exit code: 1",
          },
        ],
      }),
    );
    expect(lines).toEqual([
      "#1 [1/3] FROM base",
      "#1 CACHED",
      "#2 [2/3] RUN make",
      "#2 compiling",
      "#2 linked",
      "#2 DONE 2.0s",
      "#3 [stage-1 3/3] RUN test",
      "#3 no newline at the end",
      "#3 ERROR: exit code: 1",
    ]);
    expect(p.failed).toEqual({ step: "3/3", instruction: "RUN test", error: "exit code: 1" });
  });
});

describe("BuildKit builds on Docker", () => {
  const engine = connectEngine();
  const dirs: string[] = [];
  const images: string[] = [];
  beforeAll(async () => {
    expect((await engine.version()).podman).toBe(false);
  });
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const i of images) await engine.removeImage(i, { force: true }).catch(() => {});
  });

  it("mounts a build secret for one RUN only: in no layer, no history, no log line", async () => {
    const dir = tempDir({
      Dockerfile: [
        `FROM ${base}`,
        "RUN --mount=type=secret,id=token,required=true wc -c < /run/secrets/token > /token-length",
        // A careless Dockerfile that prints it: the log must show it masked.
        "RUN --mount=type=secret,id=token cat /run/secrets/token; echo",
        "RUN test ! -e /run/secrets/token && echo gone > /after",
        "",
      ].join("\n"),
    });
    dirs.push(dir);
    const ref = `slipway-test/secret:${run}`;
    images.push(ref);
    const logs: string[] = [];
    const { builder } = await engine.buildImage({
      context: dir,
      tags: [ref],
      secrets: { token: secret },
      noCache: true,
      onLog: (l) => logs.push(l),
    });
    expect(builder).toBe("buildkit");
    expect((await fileIn(engine, ref, "/token-length")).trim()).toBe(String(secret.length));
    expect(await fileIn(engine, ref, "/after")).toBe("gone\n");
    expect(logs.join("\n")).not.toContain(secret);
    expect(logs.some((l) => /^#\d+ \*\*\*$/.test(l))).toBe(true);
    const saved = await savedImage(engine, ref);
    expect(saved.length).toBeGreaterThan(1000);
    expect(saved.includes(Buffer.from(secret))).toBe(false);
    const history = await engine.docker.getImage(ref).history();
    expect(JSON.stringify(history)).not.toContain(secret);
  });

  it("fails naming a required secret that was not given", async () => {
    const dir = tempDir({
      Dockerfile: `FROM ${base}\nRUN --mount=type=secret,id=npm_token,required=true true\n`,
    });
    dirs.push(dir);
    const err = await engine
      .buildImage({ context: dir, tags: [`slipway-test/nosecret:${run}`], noCache: true })
      .catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as Error).message).toMatch(/npm_token/);
    expect((err as BuildError).instruction).toMatch(/^RUN --mount=type=secret,id=npm_token/);
  });

  it("keeps a cache mount between builds while the layer itself is rebuilt", async () => {
    const cacheId = `slipway-test-${run}`;
    const dir = tempDir({
      Dockerfile: [
        `FROM ${base}`,
        "ARG ROUND",
        `RUN --mount=type=cache,id=${cacheId},target=/cache echo "$ROUND" >> /cache/rounds && cp /cache/rounds /rounds`,
        "",
      ].join("\n"),
    });
    dirs.push(dir);
    const ref = `slipway-test/cache-mount:${run}`;
    images.push(ref);
    await engine.buildImage({ context: dir, tags: [ref], buildArgs: { ROUND: "one" } });
    await engine.buildImage({ context: dir, tags: [ref], buildArgs: { ROUND: "two" } });
    expect(await fileIn(engine, ref, "/rounds")).toBe("one\ntwo\n");
  });

  it("refuses secrets on the legacy builder, which would build without them, and says why it is used", async () => {
    const dir = tempDir({ Dockerfile: `FROM ${base}\nRUN echo legacy > /x\n` });
    dirs.push(dir);
    const ref = `slipway-test/legacy:${run}`;
    images.push(ref);
    const refused = await engine
      .buildImage({ context: dir, tags: [ref], builder: "legacy", secrets: { token: secret } })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as Error).message).toBe(
      `build of ${ref} needs BuildKit for its secrets (token), but the legacy builder was asked for`,
    );
    expect((refused as Error).message).not.toContain(secret);
    const logs: string[] = [];
    const previous = process.env.DOCKER_BUILDKIT;
    process.env.DOCKER_BUILDKIT = "0";
    try {
      const { builder } = await engine.buildImage({ context: dir, tags: [ref], onLog: (l) => logs.push(l) });
      expect(builder).toBe("legacy");
    } finally {
      if (previous === undefined) delete process.env.DOCKER_BUILDKIT;
      else process.env.DOCKER_BUILDKIT = previous;
    }
    expect(logs[0]).toBe(
      "note: building with the legacy builder (DOCKER_BUILDKIT=0): RUN --mount is not supported",
    );
    expect(logs.some((l) => /^Step 2\/2 : RUN echo legacy/.test(l))).toBe(true);
  });

  it("builds for another platform when the Dockerfile runs nothing on it", async () => {
    const dir = tempDir({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": run });
    dirs.push(dir);
    const ref = `slipway-test/arm64:${run}`;
    images.push(ref);
    await engine.buildImage({ context: dir, tags: [ref], platform: "linux/arm64" });
    const info = await engine.docker.getImage(ref).inspect();
    expect(`${info.Os}/${info.Architecture}`).toBe("linux/arm64");
  });
});
