// The process runtime with real processes: a small Node HTTP app (testing.ts), real signals, real files.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../../lib/errors.js";
import type { InstanceInfo, Runtime, StartRequest } from "../types.js";
import { createProcessRuntime, type ProcessRecord, volumeEnvName } from "./process.js";
import { tempDir, testLabels, testService, writeTestApp } from "./testing.js";

const work = tempDir("slipway-process-");
const app = writeTestApp(work);
const started: { runtime: Runtime; id: string }[] = [];

afterAll(async () => {
  for (const { runtime, id } of started) await runtime.stop(id, { timeoutMs: 100 }).catch(() => {});
  await rm(work, { recursive: true, force: true });
});

function request(
  id: string,
  over: Partial<StartRequest> & { env?: Record<string, string> } = {},
): StartRequest {
  return {
    id,
    service: testService({ command: app, cwd: work, port: 3000 }),
    labels: testLabels("shop", id),
    env: {},
    files: [],
    ...over,
  };
}

async function start(runtime: Runtime, req: StartRequest): Promise<InstanceInfo> {
  const info = await runtime.start(req);
  started.push({ runtime, id: req.id });
  return info;
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(info: InstanceInfo): Promise<Record<string, unknown>> {
  const a = info.address!;
  return until(`GET ${a.host}:${a.port}`, async () => {
    const r = await fetch(`http://${a.host}:${a.port}/`);
    return (await r.json()) as Record<string, unknown>;
  });
}

describe("process runtime", () => {
  it("starts instances on their own ports with their env, and stops them gracefully", async () => {
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    const a = await start(runtime, request("web-r1-a", { env: { GREETING: "hello a" } }));
    const b = await start(runtime, request("web-r1-b", { env: { GREETING: "hello b" } }));
    expect(a).toMatchObject({ id: "web-r1-a", runtime: "process", running: true });
    expect(a.address?.host).toBe("127.0.0.1");
    expect(a.address?.port).not.toBe(b.address?.port);
    expect(await get(a)).toMatchObject({ greeting: "hello a", cwd: work, pid: Number(a.ref) });
    expect(await get(b)).toMatchObject({ greeting: "hello b", pid: Number(b.ref) });

    const listed = await runtime.list({ app: "shop", env: "test" });
    expect(listed.map((i) => [i.id, i.running])).toEqual([
      ["web-r1-a", true],
      ["web-r1-b", true],
    ]);
    expect(await runtime.list({ app: "other", env: "test" })).toEqual([]);

    // The record holds what re-adoption needs, private all the same.
    const dir = join(stateDir, "process", "shop", "test");
    const record = JSON.parse(readFileSync(join(dir, "web-r1-a.json"), "utf8")) as ProcessRecord;
    expect(record).toMatchObject({
      id: "web-r1-a",
      pid: Number(a.ref),
      pgid: Number(a.ref),
      port: a.address?.port,
    });
    expect(record.procStart).toMatch(/^\d+$/);
    expect(statSync(join(dir, "web-r1-a.json")).mode & 0o777).toBe(0o600);

    const t0 = Date.now();
    await runtime.stop("web-r1-a", { timeoutMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await runtime.inspect("web-r1-a")).toBeUndefined();
    expect(await runtime.logs("web-r1-a")).toMatch(/listening on \d+\nbye$/);
    await expect(fetch(`http://127.0.0.1:${a.address?.port}/`)).rejects.toThrow();
    expect((await runtime.list({ app: "shop", env: "test" })).map((i) => i.id)).toEqual(["web-r1-b"]);
    // Stopping what is gone is fine.
    await runtime.stop("web-r1-a", { timeoutMs: 100 });
    await runtime.stop("never-was", { timeoutMs: 100 });
    await runtime.stop("web-r1-b", { timeoutMs: 5000 });
  });

  it("kills a process that ignores SIGTERM after the timeout", async () => {
    const runtime = createProcessRuntime({ stateDir: tempDir() });
    const info = await start(runtime, request("stubborn", { env: { IGNORE_TERM: "1" } }));
    await get(info);
    const t0 = Date.now();
    await runtime.stop("stubborn", { timeoutMs: 700 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(4000);
    expect(() => process.kill(Number(info.ref), 0)).toThrow();
    expect(await runtime.logs("stubborn")).toContain("ignoring SIGTERM");
  });

  it("is re-adopted by another runtime on the same state dir", async () => {
    const stateDir = tempDir();
    const first = createProcessRuntime({ stateDir });
    const info = await start(first, request("adopted", { env: { GREETING: "still here" } }));
    await first.close();
    const second = createProcessRuntime({ stateDir });
    const listed = await second.list({ app: "shop", env: "test" });
    expect(listed).toEqual([{ ...info, running: true }]);
    expect(await get(listed[0])).toMatchObject({ greeting: "still here" });
    const exec = await second.exec("adopted", ["sh", "-c", 'echo "$GREETING from $PWD"'], {
      timeoutMs: 5000,
    });
    expect(exec).toEqual({ exitCode: 0, output: `still here from ${work}\n`, timedOut: false });
    await second.stop("adopted", { timeoutMs: 5000 });
    expect(await first.inspect("adopted")).toBeUndefined();
  });

  it("starts instances from a built env: none of slipway's variables, record with names only", async () => {
    const saved = { ...process.env };
    process.env.SLIPWAY_MASTER_KEY = "mk-do-not-leak-1234";
    process.env.AWS_SECRET_ACCESS_KEY = "aws-do-not-leak-5678";
    process.env.OPERATOR_PASSED = "passed-value";
    process.env.SLIPWAY_PASS_ENV = "OPERATOR_PASSED";
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    try {
      await start(runtime, request("clean", { env: { API_TOKEN: "tok-secret-9876" } }));
      // exec runs beside the instance with its env; the instance's own is read from /proc below.
      const { output } = await runtime.exec("clean", ["sh", "-c", "env"], { timeoutMs: 5000 });
      expect(output).toContain("API_TOKEN=tok-secret-9876");
      expect(output).toContain("OPERATOR_PASSED=passed-value");
      expect(output).not.toContain("mk-do-not-leak");
      expect(output).not.toContain("aws-do-not-leak");
      const info = await runtime.inspect("clean");
      const environ = readFileSync(`/proc/${info!.ref}/environ`, "utf8");
      expect(environ).toContain("API_TOKEN=tok-secret-9876");
      expect(environ).not.toContain("SLIPWAY_MASTER_KEY");
      expect(environ).not.toContain("AWS_SECRET_ACCESS_KEY");
      expect(environ).not.toContain("SLIPWAY_PASS_ENV");

      const dir = join(stateDir, "process", "shop", "test");
      const text = readFileSync(join(dir, "clean.json"), "utf8");
      expect(text).not.toContain("tok-secret-9876");
      expect((JSON.parse(text) as ProcessRecord).envNames).toContain("API_TOKEN");
      expect(statSync(join(dir, "clean.json")).mode & 0o777).toBe(0o600);
      for (const d of [dir, join(stateDir, "process", "shop"), join(stateDir, "process")])
        expect(statSync(d).mode & 0o777).toBe(0o700);

      // Another slipway re-adopts it and execs with the values read back from the instance.
      await runtime.close();
      const again = createProcessRuntime({ stateDir });
      const adopted = await again.exec("clean", ["sh", "-c", 'echo "$API_TOKEN"'], { timeoutMs: 5000 });
      expect(adopted.output).toBe("tok-secret-9876\n");
      await again.stop("clean", { timeoutMs: 5000 });
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it("scrubs the values from a record written before records kept names only", async () => {
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    await start(runtime, request("legacy", { env: { API_TOKEN: "tok-legacy-1111" } }));
    const path = join(stateDir, "process", "shop", "test", "legacy.json");
    const { envNames: _names, ...rest } = JSON.parse(readFileSync(path, "utf8")) as ProcessRecord;
    writeFileSync(path, JSON.stringify({ ...rest, env: { API_TOKEN: "tok-legacy-1111" } }), { mode: 0o600 });
    const again = createProcessRuntime({ stateDir });
    expect(await again.inspect("legacy")).toMatchObject({ running: true });
    const text = readFileSync(path, "utf8");
    expect(text).not.toContain("tok-legacy-1111");
    expect((JSON.parse(text) as ProcessRecord).envNames).toEqual(["API_TOKEN"]);
    await again.stop("legacy", { timeoutMs: 5000 });
  });

  it("does not take a reused pid for the instance", async () => {
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    const info = await start(runtime, request("real"));
    await runtime.stop("real", { timeoutMs: 5000 });
    // A record whose pid is alive (this test process) but started at another time.
    const fake: ProcessRecord = {
      id: "reused",
      labels: testLabels("shop", "reused"),
      pid: process.pid,
      pgid: process.pid,
      procStart: "1",
      port: info.address?.port,
      cwd: work,
      command: app,
      startedAt: Date.now(),
      logPath: join(stateDir, "process", "shop", "test", "reused.log"),
      envNames: [],
    };
    writeFileSync(join(stateDir, "process", "shop", "test", "reused.json"), JSON.stringify(fake));
    const again = createProcessRuntime({ stateDir });
    expect(await again.inspect("reused")).toMatchObject({ running: false, ref: String(process.pid) });
    // Stopping it must not signal this process (or its group): we are still here afterwards.
    await again.stop("reused", { timeoutMs: 200 });
    expect(await again.inspect("reused")).toBeUndefined();
  });

  it("reports the exit code of a crashed instance", async () => {
    const runtime = createProcessRuntime({ stateDir: tempDir() });
    await start(runtime, request("crashy", { env: { EXIT_AFTER_MS: "100", EXIT_CODE: "3" } }));
    const gone = await until("the crash", async () => {
      const i = await runtime.inspect("crashy");
      return i && !i.running ? i : undefined;
    });
    expect(gone.exitCode).toBe(3);
    expect(await runtime.logs("crashy", { tail: 1 })).toBe("boom");
    // Killed by a signal: 128 + its number.
    const killed = await start(runtime, request("killed"));
    process.kill(Number(killed.ref), "SIGKILL");
    const dead = await until("the kill", async () => {
      const i = await runtime.inspect("killed");
      return i && !i.running ? i : undefined;
    });
    expect(dead.exitCode).toBe(137);
  });

  it("places secret files 0600 in a private instance dir", async () => {
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    const info = await start(
      runtime,
      request("secretive", {
        files: [
          { path: "db/password", content: Buffer.from("s3cret") },
          { path: "/token", content: Buffer.from("t0ken") },
        ],
      }),
    );
    const instanceDir = join(stateDir, "process", "shop", "test", "secretive");
    expect(await get(info)).toMatchObject({ instanceDir });
    const password = join(instanceDir, "files", "db", "password");
    expect(readFileSync(password, "utf8")).toBe("s3cret");
    expect(statSync(password).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(instanceDir, "files", "token"), "utf8")).toBe("t0ken");
    expect(statSync(instanceDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(instanceDir, "files", "db")).mode & 0o777).toBe(0o700);
    await runtime.stop("secretive", { timeoutMs: 5000 });
    // Secrets go with the instance; the log stays.
    expect(() => statSync(instanceDir)).toThrow();
    expect(await runtime.logs("secretive")).toContain("bye");
    await expect(
      runtime.start(request("escape", { files: [{ path: "../../x", content: Buffer.from("") }] })),
    ).rejects.toThrow(/leaves the instance directory/);
  });

  it("keeps named volume directories across instances", async () => {
    const stateDir = tempDir();
    const runtime = createProcessRuntime({ stateDir });
    expect(volumeEnvName("data-dir.v2")).toBe("SLIPWAY_VOLUME_DATA_DIR_V2");
    const service = testService({
      command: ["sh", "-c", 'echo "$N" >> "$SLIPWAY_VOLUME_DATA/seen"; exec sleep 30'],
      cwd: work,
      volumes: [{ source: "data", kind: "named", target: "/data", readOnly: false }],
    });
    const seen = join(stateDir, "volumes", "shop", "test", "data", "seen");
    const one = await start(runtime, request("vol-1", { service, env: { N: "one" } }));
    expect(one.address).toBeUndefined();
    await until("the first write", async () => readFileSync(seen, "utf8") === "one\n");
    await runtime.stop("vol-1", { timeoutMs: 2000 });
    await start(runtime, request("vol-2", { service, env: { N: "two" } }));
    await until("the second write", async () => readFileSync(seen, "utf8") === "one\ntwo\n");
    await runtime.stop("vol-2", { timeoutMs: 2000 });
  });

  it("runs exec and tasks with output, exit codes and timeouts that kill the whole group", async () => {
    const runtime = createProcessRuntime({ stateDir: tempDir() });
    await start(runtime, request("execy", { env: { GREETING: "hi" } }));
    const ok = await runtime.exec("execy", ["sh", "-c", 'echo "$GREETING $PORT"; echo err >&2; exit 4'], {
      timeoutMs: 5000,
    });
    expect(ok.exitCode).toBe(4);
    // Two pipes: the order of stdout and stderr between them is not guaranteed.
    expect(ok.output.split("\n").sort()).toEqual([
      "",
      "err",
      `hi ${(await runtime.inspect("execy"))?.address?.port}`,
    ]);
    expect(ok.timedOut).toBe(false);

    const service = testService({ command: app, cwd: work });
    const task = await runtime.runTask({
      id: "web-pre-deploy-r1",
      service,
      labels: testLabels("shop", "web-pre-deploy"),
      command: ["sh", "-c", "echo migrating $DB; exit 0"],
      env: { DB: "main" },
      timeoutMs: 5000,
    });
    expect(task).toEqual({ exitCode: 0, output: "migrating main\n", timedOut: false });

    // A timeout kills the task and what it started in the background.
    const pidFile = join(work, "bg.pid");
    const t0 = Date.now();
    const slow = await runtime.runTask({
      id: "slow",
      service,
      labels: testLabels("shop", "slow"),
      command: ["sh", "-c", `sleep 30 & echo $! > ${pidFile}; echo started; wait`],
      env: {},
      timeoutMs: 500,
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(slow).toMatchObject({ timedOut: true, output: "started\n" });
    const bg = Number(readFileSync(pidFile, "utf8"));
    await until("the background sleep to die", async () => {
      try {
        process.kill(bg, 0);
        return false;
      } catch {
        return true;
      }
    });

    // Aborting rejects.
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("cancelled")), 200);
    await expect(
      runtime.runTask({
        id: "aborted",
        service,
        labels: testLabels("shop", "aborted"),
        command: ["sleep", "30"],
        env: {},
        timeoutMs: 10_000,
        signal: abort.signal,
      }),
    ).rejects.toThrow("cancelled");
    await expect(runtime.exec("gone", ["true"], { timeoutMs: 1000 })).rejects.toThrow(OperationError);
    await runtime.stop("execy", { timeoutMs: 2000 });
  });

  it("rejects a missing command or cwd clearly", async () => {
    const runtime = createProcessRuntime({ stateDir: tempDir() });
    const missing = testService({ command: ["no-such-command-xyz", "--serve"], cwd: work });
    const err = await runtime.prepare(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/service web: command 'no-such-command-xyz' is not found on PATH/);
    await expect(runtime.prepare(testService({ command: ["./nope.sh"], cwd: work }))).rejects.toThrow(
      `command ${join(work, "nope.sh")} does not exist or is not executable`,
    );
    await expect(runtime.prepare(testService({ command: app, cwd: join(work, "missing") }))).rejects.toThrow(
      /cwd .*missing does not exist/,
    );
    await expect(runtime.prepare(testService({ cwd: work }))).rejects.toThrow(/needs a command/);
    const snap = {
      image: expect.stringMatching(/\/releases\/web\/[0-9a-f]{32}$/),
      digest: expect.stringMatching(/^sha256:[0-9a-f]{32}$/),
    };
    expect(await runtime.prepare(testService({ command: app, cwd: work }))).toEqual(snap);
    expect(await runtime.prepare(testService({ command: ["sh", "-c", "true"], cwd: work }))).toEqual(snap);
    expect(await runtime.prepare(testService({ command: ["node", "x.js"], cwd: work }))).toEqual(snap);

    const spawnErr = await runtime.start(request("bad", { service: missing })).catch((e: unknown) => e);
    expect(spawnErr).toBeInstanceOf(OperationError);
    expect((spawnErr as Error).message).toMatch(/cannot run 'no-such-command-xyz': command not found/);
    expect(await runtime.inspect("bad")).toBeUndefined();
    await expect(
      runtime.runTask({
        id: "bad-task",
        service: testService({ cwd: work }),
        labels: testLabels("shop", "bad-task"),
        command: ["no-such-command-xyz"],
        env: {},
        timeoutMs: 1000,
      }),
    ).rejects.toThrow(/cannot run 'no-such-command-xyz'/);
    await expect(runtime.start(request("../evil"))).rejects.toThrow(UserError);
    await expect(runtime.start(request("ok", { labels: testLabels("../x", "ok") }))).rejects.toThrow(
      UserError,
    );
  });

  it("runs instances from a snapshot of the directory, named by its content", async () => {
    const src = mkdtempSync(join(tmpdir(), "slipway-snap-"));
    const runtime = createProcessRuntime({ stateDir: tempDir() });
    try {
      writeFileSync(join(src, "server.mjs"), "console.log('v1')\n");
      mkdirSync(join(src, ".git"));
      writeFileSync(join(src, ".git", "HEAD"), "ref: x\n");
      const service = testService({ command: ["node", "server.mjs"], cwd: src });
      const a = await runtime.prepare(service);
      const b = await runtime.prepare(service);
      expect(b).toEqual(a);
      expect(readFileSync(join(a.image!, "server.mjs"), "utf8")).toBe("console.log('v1')\n");
      expect(existsSync(join(a.image!, ".git"))).toBe(false);
      writeFileSync(join(src, "server.mjs"), "console.log('v2')\n");
      const c = await runtime.prepare(service);
      expect(c.digest).not.toBe(a.digest);
      // The first snapshot is untouched by the change to the source.
      expect(readFileSync(join(a.image!, "server.mjs"), "utf8")).toBe("console.log('v1')\n");
      // Pruning keeps what is named (or lies inside a kept path) and removes the rest.
      expect(await runtime.prune!([join(c.image!, "sub")])).toEqual({ removed: 1 });
      expect(existsSync(a.image!)).toBe(false);
      expect(existsSync(c.image!)).toBe(true);
      // The source may go away (a workflow's workspace); the snapshot still runs.
      rmSync(src, { recursive: true, force: true });
      const task = await runtime.runTask({
        id: "snap-task",
        service,
        labels: { app: "t", env: "e", service: service.name, release: "r1", instance: "snap-task" },
        command: ["node", "server.mjs"],
        env: {},
        image: c.image,
        timeoutMs: 10_000,
      });
      expect(task).toMatchObject({ exitCode: 0 });
      expect(task.output).toContain("v2");
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});
