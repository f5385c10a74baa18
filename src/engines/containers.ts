// Containers on an engine: their lifecycle (create, start, stop, remove, wait), what they are (inspect,
// list), their output (logs) and commands run in them (exec, files copied in). The Engine class delegates
// here; a container that is missing is an answer (undefined, false, nothing to do), not an error.
import type Dockerode from "dockerode";
import { sleep } from "../lib/async.js";
import { type ContainerSpec, containerCreateOptions, labelFilters } from "./container-spec.js";
import { demuxBuffer, demuxStream } from "./demux.js";
import { call, type EngineApi } from "./engine-client.js";

export type ContainerState = {
  id: string;
  name: string;
  image: string;
  status: string;
  running: boolean;
  exitCode: number;
  health: HealthStatus;
  labels: Record<string, string>;
  /** IP address per network name. */
  networks: Record<string, string>;
  /** Host ports by `<port>/<proto>`. */
  ports: Record<string, { hostIp: string; hostPort: number }[]>;
  /** When it last started (ms since the epoch); undefined if it never ran. */
  startedAt?: number;
};

export type HealthStatus = "healthy" | "unhealthy" | "starting" | "none";

export type ContainerSummary = {
  id: string;
  names: string[];
  image: string;
  state: string;
  labels: Record<string, string>;
};

export type ExecOptions = {
  env?: Record<string, string>;
  workdir?: string;
  user?: string;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
};

export type ExecResult = { exitCode: number; stdout: string; stderr: string };

export type LogOptions = {
  follow?: boolean;
  /** Unix seconds. */
  since?: number;
  tail?: number;
  timestamps?: boolean;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
};

export async function createContainer(
  api: EngineApi,
  spec: ContainerSpec,
  signal?: AbortSignal,
): Promise<string> {
  const body = containerCreateOptions(spec);
  const c = await call(api, `create container from ${spec.image}`, () =>
    api.docker.createContainer({ ...body, abortSignal: signal } as Dockerode.ContainerCreateOptions),
  );
  return c.id;
}

export async function startContainer(api: EngineApi, id: string, signal?: AbortSignal): Promise<void> {
  await call(api, `start container ${id}`, () => api.docker.getContainer(id).start({ abortSignal: signal }));
}

/** Stops a container (SIGTERM, then SIGKILL after `timeoutSeconds`); a stopped one is left as is. */
export async function stopContainer(
  api: EngineApi,
  id: string,
  opts: { timeoutSeconds?: number; signal?: AbortSignal } = {},
): Promise<void> {
  try {
    await api.docker.getContainer(id).stop({ t: opts.timeoutSeconds ?? 10, abortSignal: opts.signal });
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code === 304 || code === 404) return;
    api.fail(`stop container ${id}`, err);
  }
}

/** Removes a container (with `force`, a running one too); a missing one is not an error. */
export async function removeContainer(
  api: EngineApi,
  id: string,
  opts: { force?: boolean; volumes?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  try {
    await api.docker
      .getContainer(id)
      .remove({ force: opts.force ?? false, v: opts.volumes ?? true, abortSignal: opts.signal });
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code === 404) return;
    if (code === 409 && /already in progress/i.test(String((err as Error).message))) {
      // Another removal (the engine's auto-remove after a stop) is under way: the container is gone
      // only when it ends, and a caller that inspects right after must not still find it.
      for (let i = 0; i < 200 && (await inspectContainer(api, id)) !== undefined; i++)
        await sleep(50, opts.signal);
      return;
    }
    api.fail(`remove container ${id}`, err);
  }
}

/** Waits until the container stops; its exit code. */
export async function waitContainer(api: EngineApi, id: string, signal?: AbortSignal): Promise<number> {
  const r = await call(api, `wait for container ${id}`, () =>
    api.docker.getContainer(id).wait({ abortSignal: signal }),
  );
  return (r as { StatusCode: number }).StatusCode;
}

export async function inspectContainer(
  api: EngineApi,
  id: string,
  signal?: AbortSignal,
): Promise<ContainerState | undefined> {
  let i: Dockerode.ContainerInspectInfo;
  try {
    i = await api.docker.getContainer(id).inspect({ abortSignal: signal });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    api.fail(`inspect container ${id}`, err);
  }
  const networks: Record<string, string> = {};
  for (const [n, v] of Object.entries(i.NetworkSettings?.Networks ?? {})) networks[n] = v.IPAddress;
  const ports: ContainerState["ports"] = {};
  for (const [k, v] of Object.entries(i.NetworkSettings?.Ports ?? {}))
    ports[k] = (v ?? []).map((b) => ({ hostIp: b.HostIp, hostPort: Number(b.HostPort) }));
  const health = (i.State as { Health?: { Status?: string } }).Health?.Status;
  const started = Date.parse(i.State.StartedAt);
  return {
    id: i.Id,
    name: i.Name.replace(/^\//, ""),
    image: i.Config.Image,
    status: i.State.Status,
    running: i.State.Running,
    exitCode: i.State.ExitCode,
    health: health === "healthy" || health === "unhealthy" || health === "starting" ? health : "none",
    labels: i.Config.Labels ?? {},
    networks,
    ports,
    // A container that never ran reports 0001-01-01.
    startedAt: started > 0 ? started : undefined,
  };
}

export async function listContainers(
  api: EngineApi,
  opts: { labels?: Record<string, string>; all?: boolean; signal?: AbortSignal } = {},
): Promise<ContainerSummary[]> {
  const list = await call(api, "list containers", () =>
    api.docker.listContainers({
      all: opts.all ?? true,
      filters: JSON.stringify(labelFilters(opts.labels)),
      abortSignal: opts.signal,
    } as object),
  );
  return list.map((c) => ({
    id: c.Id,
    names: c.Names.map((n) => n.replace(/^\//, "")),
    image: c.Image,
    state: c.State,
    labels: c.Labels ?? {},
  }));
}

/** Container output; with `follow`, until the container stops or `signal` aborts. */
export async function containerLogs(
  api: EngineApi,
  id: string,
  opts: LogOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const container = api.docker.getContainer(id);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const onOut = (b: Buffer) => (opts.onStdout ? opts.onStdout(b) : out.push(b));
  const onErr = (b: Buffer) => (opts.onStderr ? opts.onStderr(b) : err.push(b));
  const tty = (await inspectTty(api, id, opts.signal)) ?? false;
  const base = {
    stdout: true,
    stderr: true,
    since: opts.since ?? 0,
    timestamps: opts.timestamps ?? false,
    tail: opts.tail ?? "all",
    abortSignal: opts.signal,
  };
  if (opts.follow) {
    const stream = (await call(api, `logs of container ${id}`, () =>
      container.logs({ ...base, follow: true } as Dockerode.ContainerLogsOptions & { follow: true }),
    )) as NodeJS.ReadableStream;
    await demuxStream(stream, tty, onOut, onErr, opts.signal);
  } else {
    const buf = (await call(api, `logs of container ${id}`, () =>
      container.logs({ ...base, follow: false } as Dockerode.ContainerLogsOptions & { follow?: false }),
    )) as unknown as Buffer;
    demuxBuffer(Buffer.from(buf), tty, onOut, onErr);
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function inspectTty(api: EngineApi, id: string, signal?: AbortSignal): Promise<boolean | undefined> {
  try {
    const i = await api.docker.getContainer(id).inspect({ abortSignal: signal });
    return i.Config.Tty;
  } catch (err) {
    api.fail(`inspect container ${id}`, err);
  }
}

/**
 * Extracts a tar (see tarFiles) into a container, created or running, at `path`. Entries are owned by
 * the container's user (copyUIDGID), so a 0600 file is readable by the process that needs it.
 */
export async function putArchive(
  api: EngineApi,
  id: string,
  path: string,
  tar: Buffer,
  signal?: AbortSignal,
): Promise<void> {
  await call(api, `copy files into container ${id}`, () =>
    api.docker.getContainer(id).putArchive(tar, { path, copyUIDGID: "true", abortSignal: signal }),
  );
}

/** Runs a command in a running container; its exit code and output. */
export async function execInContainer(
  api: EngineApi,
  id: string,
  cmd: string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const exec = await call(api, `exec in container ${id}`, () =>
    api.docker.getContainer(id).exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: false,
      Tty: false,
      Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      WorkingDir: opts.workdir,
      User: opts.user,
      abortSignal: opts.signal,
    } as Dockerode.ExecCreateOptions),
  );
  const stream = await call(api, `exec in container ${id}`, () =>
    exec.start({ hijack: true, stdin: false, abortSignal: opts.signal } as Dockerode.ExecStartOptions),
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  await demuxStream(
    stream,
    false,
    (b) => {
      out.push(b);
      opts.onStdout?.(b);
    },
    (b) => {
      err.push(b);
      opts.onStderr?.(b);
    },
    opts.signal,
  );
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
  const info = await call(api, `inspect exec in container ${id}`, () => exec.inspect());
  return {
    exitCode: info.ExitCode ?? -1,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
  };
}
