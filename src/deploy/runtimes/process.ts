// The process runtime: instances are local processes that outlive the slipway that started them. Each runs
// in its own process group with its output appended to a log file, and is described by a record file
// (`<stateDir>/process/<app>/<env>/<id>.json`) from which a restarted slipway re-adopts it. A pid alone
// cannot identify a process once it has exited (the kernel reuses pids), so a record also holds the
// process's start time (field 22 of /proc/<pid>/stat), and an instance counts as running only while both
// match. Records are 0600 in 0700 directories. They name the variables of the instance's environment but
// hold no values (secrets would sit on disk): `exec` beside a re-adopted instance reads the values back from
// the instance itself (/proc/<pid>/environ). An instance's environment is built (lib/child-env), never a
// copy of the agent's, which holds slipway's keys and database URL.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import {
  access,
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { delimiter, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { hostChildEnv } from "../../lib/child-env.js";
import { OperationError, UserError } from "../../lib/errors.js";
import type {
  InstanceInfo,
  InstanceLabels,
  Runtime,
  ServiceSpec,
  StartRequest,
  TaskRequest,
  TaskResult,
} from "../types.js";
import { allocatePort } from "./ports.js";
import { outputTail } from "./output.js";

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

/** What the record file of an instance holds. */
export type ProcessRecord = {
  id: string;
  labels: InstanceLabels;
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat when it started ("" where there is no /proc). */
  procStart: string;
  port?: number;
  cwd: string;
  command: string[];
  startedAt: number;
  logPath: string;
  /**
   * The names of the instance's environment variables, so that exec runs beside it with the same values
   * (read back from the running instance); never the values.
   */
  envNames: string[];
  /** Written when the slipway that spawned it saw it exit. */
  exitCode?: number;
};

/** Output kept of exec and runTask. */
/** How much of a log file `logs` reads from its end. */
const logReadLimit = 1024 * 1024;
const pollMs = 25;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** App, environment and instance names become path components: nothing that could leave the directory. */
function checkName(kind: string, value: string): string {
  if (!namePattern.test(value) || value.includes(".."))
    throw new UserError(
      `${kind} '${value}' cannot name a file: use letters, digits, '.', '_' and '-' (not starting with '.' or '-')`,
    );
  return value;
}

/** `SLIPWAY_VOLUME_<NAME>`: upper case, anything but letters and digits as `_`. */
export function volumeEnvName(name: string): string {
  return `SLIPWAY_VOLUME_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

type ProcStat = { state: string; pgid: number; start: string };

/** /proc/<pid>/stat, split after the command name (which may hold spaces and parentheses). */
function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields from 3 (state) on; field N is at index N - 3.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], pgid: Number(fields[2]), start: fields[19] };
}

const hasProc = (() => {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The record's process is alive: same pid and start time, and not a zombie (it has exited). */
function isRunning(record: ProcessRecord): boolean {
  if (!hasProc || !record.procStart) return pidExists(record.pid);
  const s = readProcStat(record.pid);
  return s !== undefined && s.start === record.procStart && s.state !== "Z";
}

/**
 * Whether signalling the record's process group can only reach its processes. The kernel does not hand
 * out a pid that is still a process group's id, so while the pid is free, or still ours, the group is
 * ours (or empty); a pid now held by another process means the group is gone and the id may be someone
 * else's.
 */
function groupIsOurs(record: ProcessRecord): boolean {
  if (!hasProc || !record.procStart) return pidExists(record.pid);
  const s = readProcStat(record.pid);
  return s === undefined || s.start === record.procStart;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

/** The environment a running process started with (/proc/<pid>/environ), or undefined when unreadable. */
function readProcEnviron(pid: number): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where argv[0] resolves to (a path with a slash: against cwd; else on PATH), or undefined. */
async function resolveCommand(command: string, cwd: string, path: string): Promise<string | undefined> {
  if (command.includes("/")) {
    const abs = resolve(cwd, command);
    return (await isExecutable(abs)) ? abs : undefined;
  }
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(resolve(cwd, dir), command);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
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

function isWithin(parent: string, child: string): boolean {
  const r = relative(parent, child);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
}

/**
 * Top-level entries never copied into a snapshot: version control, slipway's own state, and slipway.yaml
 * itself (the spec is compared service by service; an edit for one service must not roll out the others).
 */
const snapshotSkip = new Set([".git", ".slipway", ".hg", ".svn", "slipway.yaml", "slipway.yml"]);

/**
 * Copies `source` to `<into>/<hash>` unless that snapshot exists. The hash covers every file's relative
 * path, mode and content, except under node_modules, where path, size and mode stand for the content
 * (installed packages are large and change with the lock file anyway).
 */
export async function snapshotDirectory(
  source: string,
  into: string,
  exclude: string[] = [],
): Promise<{ dir: string; hash: string }> {
  // Excluded paths inside the source (relative, "/"-separated); a snapshot never copies itself.
  const skipped = new Set(
    [into, ...exclude]
      .map((p) => relative(source, resolve(p)).split(sep).join("/"))
      .filter((r) => r !== "" && !r.startsWith("..") && !isAbsolute(r)),
  );
  const skip = (r: string) => skipped.has(r) || (!r.includes("/") && snapshotSkip.has(r));
  const h = createHash("sha256");
  // What to copy, found by the same walk that hashes (fs.cp refuses a destination inside the source).
  const items: { r: string; kind: "dir" | "file" | "link"; mode: number; target?: string }[] = [];
  const walk = async (dir: string, rel: string, deps: boolean) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) {
        items.push({ r, kind: "dir", mode: (await stat(abs)).mode & 0o777 });
        await walk(abs, r, deps || e.name === "node_modules");
      } else if (e.isSymbolicLink()) {
        const target = await readlink(abs);
        h.update(`L ${r} ${target}\0`);
        items.push({ r, kind: "link", mode: 0, target });
      } else if (e.isFile()) {
        const st = await stat(abs);
        h.update(`F ${r} ${st.mode & 0o777} ${st.size}\0`);
        if (!deps) h.update(await readFile(abs));
        items.push({ r, kind: "file", mode: st.mode & 0o777 });
      }
    }
  };
  await walk(source, "", false);
  const hash = h.digest("hex").slice(0, 32);
  const dir = join(into, hash);
  if (await isDirectory(dir)) return { dir, hash };
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  for (const it of items) {
    const to = join(tmp, it.r);
    if (it.kind === "dir") await mkdir(to, { mode: it.mode | 0o700 });
    else if (it.kind === "link") await symlink(it.target!, to);
    else {
      await copyFile(join(source, it.r), to);
      await chmod(to, it.mode);
    }
  }
  await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
    // Another deploy made the same snapshot meanwhile: theirs is as good.
    await rm(tmp, { recursive: true, force: true });
    if (!(await isDirectory(dir))) throw err;
  });
  return { dir, hash };
}

function spawnFailure(what: string, command: string[], cwd: string, err: NodeJS.ErrnoException): Error {
  const name = command[0];
  if (err.code === "ENOENT")
    return new OperationError(`${what}: cannot run '${name}': command not found (cwd ${cwd})`, {
      cause: err,
    });
  if (err.code === "EACCES")
    return new OperationError(`${what}: cannot run '${name}': permission denied`, { cause: err });
  return new OperationError(`${what}: cannot run '${name}': ${err.message}`, { cause: err });
}

/** Resolves once the child runs, rejects when it cannot be spawned (the error comes asynchronously). */
function spawned(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
}

/**
 * Runs argv to completion in its own process group, output captured (stdout and stderr interleaved, last
 * 64 KiB). A timeout kills the group; so does the end of the command (nothing it started in the
 * background outlives it). An abort kills the group and rejects with the signal's reason.
 */
async function runCaptured(opts: {
  what: string;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<TaskResult> {
  opts.signal?.throwIfAborted();
  if (!opts.command.length) throw new UserError(`${opts.what}: the command is empty`);
  const child = spawn(opts.command[0], opts.command.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = outputTail();
  child.stdout!.on("data", (b: Buffer) => output.push(b));
  child.stderr!.on("data", (b: Buffer) => output.push(b));
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(exitCodeOf(code, signal))),
  );
  try {
    await spawned(child);
  } catch (err) {
    throw spawnFailure(opts.what, opts.command, opts.cwd, err as NodeJS.ErrnoException);
  }
  const pgid = child.pid!;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(pgid, "SIGKILL");
  }, opts.timeoutMs);
  const onAbort = () => signalGroup(pgid, "SIGKILL");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const exitCode = await exited;
    signalGroup(pgid, "SIGKILL");
    // The pipes close once the group is gone; a process that left the group could hold them, so wait briefly.
    await Promise.race([new Promise((r) => child.once("close", r)), sleep(500)]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    opts.signal?.throwIfAborted();
    return { exitCode, output: output.text(), timedOut };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** Reads the last `tail` lines of a file (from at most its last MiB). */
async function tailFile(path: string, tail: number): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch {
    return "";
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, logReadLimit);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const lines = buf.toString().split("\n");
    if (lines.at(-1) === "") lines.pop();
    // A partial first line (the read started mid-line) is dropped unless it is all there is.
    if (length < size && lines.length > 1) lines.shift();
    return lines.slice(-tail).join("\n");
  } finally {
    await fh.close();
  }
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
  const recordPath = (dir: string, id: string) => join(dir, `${id}.json`);

  async function writeRecord(dir: string, record: ProcessRecord): Promise<void> {
    const path = recordPath(dir, record.id);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
    await rename(tmp, path);
  }

  async function readRecord(path: string): Promise<ProcessRecord | undefined> {
    let record: ProcessRecord & { env?: Record<string, string> };
    try {
      record = JSON.parse(await readFile(path, "utf8"));
    } catch {
      return undefined;
    }
    if (record.env) {
      // A record from before records kept names only: its values (secrets) are scrubbed from the disk.
      const { env, ...rest } = record;
      record = { ...rest, envNames: Object.keys(env) };
      await writeRecord(dirname(path), record).catch(() => {});
    }
    return { ...record, envNames: record.envNames ?? [] };
  }

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
      const fd = openSync(logPath, "a", 0o600);
      let child: ChildProcess;
      try {
        child = spawn(service.command[0], service.command.slice(1), {
          cwd,
          env,
          detached: true,
          stdio: ["ignore", fd, fd],
        });
      } finally {
        closeSync(fd);
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
      const base = join(options.stateDir, "releases");
      let removed = 0;
      for (const service of await readdir(base).catch(() => [] as string[])) {
        for (const name of await readdir(join(base, service)).catch(() => [] as string[])) {
          const dir = join(base, service, name);
          if (keep.some((k) => k === dir || k.startsWith(`${dir}${sep}`))) continue;
          // A snapshot being made right now is left alone.
          if (
            name.includes(".tmp-") &&
            Date.now() - (await stat(dir).catch(() => ({ mtimeMs: 0 }))).mtimeMs < 3_600_000
          )
            continue;
          await rm(dir, { recursive: true, force: true });
          removed++;
        }
      }
      return { removed };
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
      const dir = await locate(id, ".log");
      return dir ? tailFile(join(dir, `${id}.log`), opts.tail ?? 100) : "";
    },

    async close() {
      // Instances outlive this slipway by design; only our bookkeeping goes.
      children.clear();
      envs.clear();
    },
  };
}
