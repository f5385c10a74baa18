// The process runtime: instances are local processes that outlive the slipway that started them. Each runs
// in its own process group with its output appended to a log file, and is described by a record file
// (`<stateDir>/process/<app>/<env>/<id>.json`) from which a restarted slipway re-adopts it. A pid alone
// cannot identify a process once it has exited (the kernel reuses pids), so a record also holds the
// process's start time (field 22 of /proc/<pid>/stat), and an instance counts as running only while both
// match. Records are 0600 in 0700 directories. They name the variables of the instance's environment but
// hold no values (secrets would sit on disk): `exec` beside a re-adopted instance reads the values back from
// the instance itself (/proc/<pid>/environ). An instance's environment is built (lib/child-env), never a
// copy of the agent's, which holds slipway's keys and database URL.
import type { ChildProcess } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { sleep } from "../../lib/async.js";
import { hostChildEnv } from "../../lib/child-env.js";
import { OperationError, UserError } from "../../lib/errors.js";
import { signalGroup } from "../../lib/exec.js";
import type { InstanceInfo, Runtime, ServiceSpec, StartRequest, TaskRequest } from "../types.js";
import { allocatePort } from "./ports.js";
import { attachProcess } from "./process/attach.js";
import { defaultLogRotation, startLogWriter } from "./process/log-writer.js";
import { readLog, tailFile } from "./process/logs.js";
import { exitCodeOf, groupIsOurs, isRunning, readProcEnviron, readProcStat } from "./process/procfs.js";
import {
  checkName,
  namePattern,
  type ProcessRecord,
  readRecord,
  recordPath,
  writeRecord,
} from "./process/record.js";
import { isDirectory, isWithin, pruneSnapshots, snapshotDirectory } from "./process/snapshot.js";
import { resolveCommand, runCaptured, spawned, spawnFailure } from "./process/spawn.js";

export type { ProcessRecord } from "./process/record.js";
export { snapshotDirectory } from "./process/snapshot.js";

export type ProcessRuntimeOptions = {
  /** Where records, logs, instance directories and named volumes live. */
  stateDir: string;
  /**
   * Paths never copied into a snapshot: slipway's data directory when it sits inside the app's
   * directory (its database and logs change all the time). The state dir is always excluded.
   */
  snapshotExclude?: string[];
  /**
   * The environment instances, hooks and exec health checks start from, before the spec's env; default:
   * built from this process's environment and its SLIPWAY_PASS_ENV (lib/child-env).
   */
  baseEnv?: Record<string, string>;
};

const pollMs = 25;

/** `SLIPWAY_VOLUME_<NAME>`: upper case, anything but letters and digits as `_`. */
export function volumeEnvName(name: string): string {
  return `SLIPWAY_VOLUME_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function serviceCwd(service: ServiceSpec): string {
  return service.cwd ?? process.cwd();
}

async function checkCwd(service: ServiceSpec): Promise<string> {
  const cwd = serviceCwd(service);
  if (!isAbsolute(cwd)) throw new UserError(`service ${service.name}: cwd '${cwd}' is not an absolute path`);
  if (!(await isDirectory(cwd)))
    throw new UserError(`service ${service.name}: cwd ${cwd} does not exist or is not a directory`);
  return cwd;
}

/** The snapshot prepare() made (passed back as the request's image), else the service's cwd. */
async function runDirectory(service: ServiceSpec, snapshot: string | undefined): Promise<string> {
  if (snapshot && isAbsolute(snapshot) && (await isDirectory(snapshot))) return snapshot;
  return checkCwd(service);
}

export function createProcessRuntime(options: ProcessRuntimeOptions): Runtime {
  const root = join(options.stateDir, "process");
  /** Children this slipway spawned: their exit codes (the 'exit' event also means libuv reaped them). */
  const exits = new Map<string, number>();
  const children = new Map<string, ChildProcess>();
  /** Instance id → its directory, for ids seen through start or list (saves a scan). */
  const known = new Map<string, string>();
  /** The environments of instances this slipway started, for exec (records keep names only). */
  const envs = new Map<string, Record<string, string>>();
  const baseEnv = () => options.baseEnv ?? hostChildEnv();

  const envDir = (labels: { app: string; env: string }) =>
    join(root, checkName("app", labels.app), checkName("environment", labels.env));
  /**
   * The environment to exec beside an instance with: the one it was started with (kept in memory by the
   * slipway that started it; else read back from the running process and cut to the recorded names).
   */
  function instanceEnv(record: ProcessRecord): Record<string, string> {
    const mine = envs.get(record.id);
    if (mine) return mine;
    const live = isRunning(record) ? readProcEnviron(record.pid) : undefined;
    const env: Record<string, string> = { ...baseEnv() };
    if (live) for (const name of record.envNames) if (live[name] !== undefined) env[name] = live[name];
    return env;
  }

  /** The directory holding an instance's files: known, or found among every app and environment. */
  async function locate(id: string, suffix: ".json" | ".log"): Promise<string | undefined> {
    const dir = known.get(id);
    if (dir) return dir;
    const apps = await readdir(root).catch(() => [] as string[]);
    for (const app of apps) {
      const envs = await readdir(join(root, app)).catch(() => [] as string[]);
      for (const env of envs) {
        const candidate = join(root, app, env);
        const names = await readdir(candidate).catch(() => [] as string[]);
        if (names.includes(`${id}${suffix}`)) return candidate;
      }
    }
    return undefined;
  }

  async function find(id: string): Promise<{ dir: string; record: ProcessRecord } | undefined> {
    if (!namePattern.test(id)) return undefined;
    const dir = await locate(id, ".json");
    const record = dir ? await readRecord(recordPath(dir, id)) : undefined;
    if (!dir || !record) return undefined;
    known.set(id, dir);
    return { dir, record };
  }

  /**
   * The instance as it is now. A child of ours that has just died may not have been reaped yet (its exit
   * event comes with the next turn of the event loop): wait for it briefly, so its exit code is known.
   */
  async function info(record: ProcessRecord): Promise<InstanceInfo> {
    const running = isRunning(record);
    const child = children.get(record.id);
    if (!running && child && child.pid === record.pid && !exits.has(record.id))
      await Promise.race([new Promise((r) => child.once("exit", r)), sleep(1000)]);
    const exitCode = running ? undefined : (exits.get(record.id) ?? record.exitCode);
    return {
      id: record.id,
      labels: record.labels,
      runtime: "process",
      address: record.port ? { host: "127.0.0.1", port: record.port } : undefined,
      ref: String(record.pid),
      running,
      ...(exitCode !== undefined ? { exitCode } : {}),
      startedAt: record.startedAt,
    };
  }

  /** Remembers the exit of a child we spawned, in memory and in its record (for a later slipway). */
  function watchExit(child: ChildProcess, id: string, dir: string): void {
    children.set(id, child);
    child.once("exit", (code, signal) => {
      const exitCode = exitCodeOf(code, signal);
      exits.set(id, exitCode);
      children.delete(id);
      const path = recordPath(dir, id);
      try {
        const record = JSON.parse(readFileSync(path, "utf8")) as ProcessRecord;
        // Replaced, never rewritten in place: a reader at the same moment would see a half-written file.
        if (record.pid === child.pid) {
          const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
          writeFileSync(tmp, JSON.stringify({ ...record, exitCode }, null, 2), { mode: 0o600 });
          renameSync(tmp, path);
        }
      } catch {
        // Stopped and removed already, or not written yet: the in-memory code is enough.
      }
    });
  }

  /** Polls until the record's process has gone, or the time is up; true when it went. */
  async function waitGone(record: ProcessRecord, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (isRunning(record)) {
      if (Date.now() >= deadline || signal?.aborted) return false;
      await sleep(pollMs);
    }
    return true;
  }

  async function placeFiles(instanceDir: string, request: StartRequest): Promise<void> {
    const filesDir = join(instanceDir, "files");
    for (const file of request.files) {
      const target = resolve(filesDir, file.path.replace(/^\/+/, ""));
      const rel = relative(filesDir, target);
      if (!rel || rel.startsWith("..") || isAbsolute(rel))
        throw new UserError(
          `service ${request.service.name}: secret file path '${file.path}' leaves the instance directory`,
        );
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await writeFile(target, file.content, { mode: 0o600 });
      await chmod(target, 0o600);
    }
  }

  return {
    kind: "process",

    async prepare(service) {
      if (!service.command?.length)
        throw new UserError(`service ${service.name}: the process runtime needs a command`);
      const cwd = await checkCwd(service);
      const command = service.command[0];
      const path = service.env.PATH ?? baseEnv().PATH ?? "";
      if (command !== "sh" && !(await resolveCommand(command, cwd, path)))
        throw new UserError(
          command.includes("/")
            ? `service ${service.name}: command ${resolve(cwd, command)} does not exist or is not executable`
            : `service ${service.name}: command '${command}' is not found on PATH (${path})`,
        );
      // Instances run from a snapshot of the directory, not from it: a workflow's workspace is deleted
      // after the run, and a checkout changes under a running release. Same content, same snapshot.
      const root = service.root && isWithin(service.root, cwd) ? service.root : cwd;
      const snapshot = await snapshotDirectory(root, join(options.stateDir, "releases", service.name), [
        options.stateDir,
        ...(options.snapshotExclude ?? []),
      ]);
      return { image: join(snapshot.dir, relative(root, cwd)), digest: `sha256:${snapshot.hash}` };
    },

    async start(request) {
      const { id, service, labels } = request;
      checkName("instance id", id);
      request.signal?.throwIfAborted();
      if (!service.command?.length)
        throw new UserError(`service ${service.name}: the process runtime needs a command`);
      const cwd = await runDirectory(service, request.image);
      const dir = envDir(labels);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const d of [root, dirname(dir), dir]) await chmod(d, 0o700).catch(() => {});

      // A fresh instance directory: what an earlier attempt with this id left is not this one's.
      const instanceDir = join(dir, id);
      await rm(instanceDir, { recursive: true, force: true });
      await mkdir(instanceDir, { mode: 0o700 });
      await placeFiles(instanceDir, request);

      const volumeEnv: Record<string, string> = {};
      for (const v of service.volumes) {
        if (v.kind !== "named") continue;
        const volumeDir = join(
          options.stateDir,
          "volumes",
          labels.app,
          labels.env,
          checkName("volume", v.source),
        );
        await mkdir(volumeDir, { recursive: true });
        volumeEnv[volumeEnvName(v.source)] = volumeDir;
      }
      const port = service.port !== undefined || service.publish ? await allocatePort() : undefined;
      const env: Record<string, string> = {
        ...baseEnv(),
        ...request.env,
        ...volumeEnv,
        SLIPWAY_INSTANCE_DIR: instanceDir,
        ...(port ? { PORT: String(port) } : {}),
      };

      const logPath = join(dir, `${id}.log`);
      exits.delete(id);
      // Output goes through a log writer of its own (process/log-writer.ts), which rotates the file.
      const writer = await startLogWriter(root, { path: logPath, ...(service.logs ?? defaultLogRotation) });
      let child: ChildProcess;
      try {
        child = spawn(service.command[0], service.command.slice(1), {
          cwd,
          env,
          detached: true,
          stdio: ["ignore", writer.stdin as never, writer.stdin as never],
        });
      } finally {
        // The instance holds the pipe now; the writer ends when the instance (and what it started) has.
        writer.stdin.destroy();
      }
      try {
        await spawned(child);
      } catch (err) {
        await rm(instanceDir, { recursive: true, force: true });
        throw spawnFailure(`service ${service.name}`, service.command, cwd, err as NodeJS.ErrnoException);
      }
      // The instance must not keep this process alive, nor die with it.
      child.unref();
      const pid = child.pid!;
      watchExit(child, id, dir);
      const record: ProcessRecord = {
        id,
        labels,
        pid,
        pgid: pid,
        procStart: readProcStat(pid)?.start ?? "",
        ...(port ? { port } : {}),
        cwd,
        command: service.command,
        startedAt: Date.now(),
        logPath,
        logWriterPid: writer.pid,
        envNames: Object.keys(env),
      };
      envs.set(id, env);
      const code = exits.get(id);
      await writeRecord(dir, code === undefined ? record : { ...record, exitCode: code });
      known.set(id, dir);
      return info(record);
    },

    async stop(id, { timeoutMs, signal }) {
      const found = await find(id);
      if (!found) return;
      const { dir, record } = found;
      if (groupIsOurs(record)) {
        signalGroup(record.pgid, "SIGTERM");
        const gone = await waitGone(record, timeoutMs, signal);
        // Whatever is left: the leader that ignored SIGTERM, or what it started and left behind.
        if (groupIsOurs(record)) signalGroup(record.pgid, "SIGKILL");
        if (!gone) await waitGone(record, 5000);
        // A child of ours is dead but maybe not reaped yet: let its exit event come, so no zombie is left.
        const child = children.get(id);
        if (child && child.exitCode === null && child.signalCode === null)
          await Promise.race([new Promise((r) => child.once("exit", r)), sleep(1000)]);
      }
      await rm(recordPath(dir, id), { force: true });
      await rm(join(dir, id), { recursive: true, force: true });
      children.delete(id);
      envs.delete(id);
      exits.delete(id);
    },

    async inspect(id) {
      const found = await find(id);
      return found ? await info(found.record) : undefined;
    },

    async list(filter) {
      const dir = envDir(filter);
      const names = await readdir(dir).catch(() => [] as string[]);
      const out: InstanceInfo[] = [];
      for (const name of names.filter((n) => n.endsWith(".json"))) {
        const record = await readRecord(join(dir, name));
        if (!record) continue;
        known.set(record.id, dir);
        out.push(await info(record));
      }
      return out.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
    },

    async exec(id, command, { timeoutMs, signal }) {
      const found = await find(id);
      if (!found) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      return runCaptured({
        what: `exec beside ${id}`,
        command,
        env: instanceEnv(found.record),
        cwd: found.record.cwd,
        timeoutMs,
        signal,
      });
    },

    async prune(keep) {
      // Snapshots live in <stateDir>/releases/<service>/<hash>; one is kept when a kept path is in it.
      return { removed: await pruneSnapshots(options.stateDir, keep) };
    },

    async runTask(request: TaskRequest) {
      const cwd = await runDirectory(request.service, request.image);
      return runCaptured({
        what: `task ${request.id}`,
        command: request.command,
        env: { ...baseEnv(), ...request.env },
        cwd,
        timeoutMs: request.timeoutMs,
        signal: request.signal,
      });
    },

    async logs(id, opts = {}) {
      if (!namePattern.test(id)) return "";
      // An instance that has just exited may still have lines in its log writer's pipe: the writer ends
      // once it has written them, so wait for it (briefly) before reading the tail, or a crash's last
      // words are missing from the error that reports it.
      const found = await find(id);
      if (found?.record.logWriterPid && !isRunning(found.record))
        await writerGone(found.record.logWriterPid, 2000);
      const dir = await locate(id, ".log");
      return dir ? tailFile(join(dir, `${id}.log`), opts.tail ?? 100) : "";
    },

    async streamLogs(id, opts) {
      const found = await find(id);
      if (!found) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      await readLog(found.record.logPath, {
        ...opts,
        onLine: (l) => opts.onLine({ ...l, stream: "output" }),
      });
    },

    async attach(id, command, io) {
      const found = await find(id);
      if (!found) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      return attachProcess(
        `exec beside ${id}`,
        command,
        { cwd: found.record.cwd, env: instanceEnv(found.record) },
        io,
      );
    },

    async close() {
      // Instances outlive this slipway by design; only our bookkeeping goes.
      children.clear();
      envs.clear();
    },
  };
}

/** Waits until a process is gone (at most `ms`): `kill(pid, 0)` fails once it has exited. */
async function writerGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(20);
  }
}
