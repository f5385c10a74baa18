// One client for the Docker Engine API (and Podman's compatible API) over dockerode. It connects lazily:
// creating an Engine does no I/O, and an engine that is missing is reported when something needs it.
import { sleep } from "../lib/async.js";
import Dockerode from "dockerode";
import { OperationError, UserError } from "../lib/errors.js";
import { type AddressOptions, type EngineAddress, resolveEngineAddress } from "./address.js";
import {
  type Builder,
  type BuildOptions,
  type BuildResult,
  type BuildTarget,
  buildImage,
  engineBuilder,
} from "./build.js";
import { type ContainerSpec, containerCreateOptions, labelFilters } from "./container-spec.js";
import { EngineError } from "./errors.js";
import { messageError, readJsonStream } from "./json-stream.js";
import { SshDialer, SshError } from "./ssh.js";

export type PushFailure = "auth" | "unreachable" | "other";

/** A push the registry refused or could not take; `kind` tells a retry whether it can help. */
export class PushError extends EngineError {
  readonly kind: PushFailure;
  readonly reference: string;
  constructor(reference: string, kind: PushFailure, reason: string) {
    const hint =
      kind === "auth"
        ? " (check the registry credentials: docker login, ~/.docker/config.json or the configured auth)"
        : kind === "unreachable"
          ? " (is the registry running and reachable from the engine?)"
          : "";
    super(`push of ${reference} failed: ${reason}${hint}`);
    this.name = "PushError";
    this.kind = kind;
    this.reference = reference;
  }
}

/** Registry credentials as the Engine API takes them (X-Registry-Auth). */
export type RegistryAuth =
  | { username: string; password: string; serveraddress?: string }
  | { identitytoken: string; serveraddress?: string };

export type EngineVersion = {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  /** True for Podman's Docker-compatible API. */
  podman: boolean;
};

export type ImageInfo = {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: string;
  labels: Record<string, string>;
  size: number;
};

export type PushOptions = {
  auth?: RegistryAuth;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
};

export type PushResult = { reference: string; digest?: string; size?: number };

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

export type VolumeInfo = { name: string; labels: Record<string, string>; mountpoint: string };

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

export type EngineOptions = AddressOptions & {
  /** Per-request timeout in ms for calls that are not streams (default: none). */
  timeoutMs?: number;
};

const connectionCodes = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EACCES",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EAI_AGAIN",
]);

const authPattern =
  /unauthorized|authentication required|denied|no basic auth credentials|\b401\b|403 forbidden/i;
const unreachablePattern =
  /connection refused|dial tcp|i\/o timeout|no such host|connection reset|\bEOF\b|\b50[234]\b|service unavailable|bad gateway|TLS handshake timeout|network is unreachable|server misbehaving/i;

/** Which kind of failure a registry error message describes. */
export function classifyPushFailure(message: string): PushFailure {
  // A registry's address holds digits too: port 40193 is no 401, port 5023 no 502.
  const words = message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "URL").replace(/[\w.-]+:\d+/g, "ADDRESS");
  if (authPattern.test(words)) return "auth";
  if (unreachablePattern.test(words)) return "unreachable";
  return "other";
}

/** `registry:5000/team/app:1.0` → `{ name: "registry:5000/team/app", tag: "1.0" }` (tag default `latest`). */
export function splitReference(reference: string): { name: string; tag?: string; digest?: string } {
  const at = reference.indexOf("@");
  if (at >= 0) return { name: reference.slice(0, at), digest: reference.slice(at + 1) };
  const slash = reference.lastIndexOf("/");
  const colon = reference.lastIndexOf(":");
  if (colon > slash) return { name: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  return { name: reference };
}

/** Calls whose options dockerode's types omit. */
type WithOptions = {
  ping(o: object): Promise<unknown>;
  version(o: object): Promise<Dockerode.DockerVersion>;
};

export class Engine {
  readonly address: EngineAddress;
  private readonly timeoutMs?: number;
  private readonly env?: NodeJS.ProcessEnv;
  private client?: Dockerode;
  private dialer?: SshDialer;
  private offered?: Promise<{ builder: Builder; why?: string }>;

  constructor(opts: EngineOptions = {}) {
    this.address = resolveEngineAddress(opts);
    this.timeoutMs = opts.timeoutMs;
    this.env = opts.env;
  }

  /** The dockerode client, for what this wrapper does not cover (created on first use). */
  get docker(): Dockerode {
    this.client ??= this.createClient();
    return this.client;
  }

  /**
   * Closes the SSH connections of an ssh:// engine (they close by themselves when idle, and never keep the
   * process alive); nothing to do for the others. The engine can still be used: it reconnects.
   */
  close(): void {
    this.dialer?.destroy();
  }

  private createClient(): Dockerode {
    const a = this.address;
    const timeout = this.timeoutMs;
    if (a.kind === "unix") return new Dockerode({ socketPath: a.socketPath, timeout });
    if (a.kind === "ssh") {
      // Plain HTTP through an agent whose connections are SSH channels: docker-modem's own "ssh" protocol
      // would make an SSH connection per request and cannot tell why one failed.
      this.dialer = new SshDialer(a, { env: this.env });
      return new Dockerode({
        host: a.host,
        port: a.port,
        protocol: "http",
        agent: this.dialer,
        timeout,
      } as Dockerode.DockerOptions);
    }
    return new Dockerode({
      host: a.host,
      port: a.port,
      protocol: a.protocol,
      ca: a.tls?.ca,
      cert: a.tls?.cert,
      key: a.tls?.key,
      timeout,
    });
  }

  /** Maps an error of a call to what a user can act on. */
  private fail(what: string, err: unknown): never {
    if (err instanceof OperationError || err instanceof UserError) throw err;
    if (err instanceof SshError) throw new EngineError(err.message, undefined, { cause: err });
    const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
    if (e?.code === "ABORT_ERR" || (err as Error)?.name === "AbortError") throw err;
    if (e?.code && connectionCodes.has(e.code))
      throw new EngineError(
        `no container engine at ${this.address.url}: ${e.code === "ENOENT" ? "connect ENOENT" : e.message} — start dockerd (or podman system service) or set DOCKER_HOST`,
        undefined,
        { cause: err },
      );
    if (e?.statusCode) {
      const message = (
        e.json?.message ??
        (typeof e.json === "string" ? e.json : undefined) ??
        e.message ??
        ""
      )
        .toString()
        .trim();
      throw new EngineError(`${what}: ${message}`, e.statusCode, { cause: err });
    }
    throw new EngineError(`${what}: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err });
  }

  private buildTarget(): BuildTarget {
    return {
      docker: this.docker,
      fail: (what, err) => this.fail(what, err),
      builder: () => {
        this.offered ??= this.version().then(engineBuilder, (err) => {
          this.offered = undefined; // an engine that was down may come back: ask again next time
          throw err;
        });
        return this.offered;
      },
    };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.fail(what, err);
    }
  }

  // --- engine ---

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call("ping", () => (this.docker as unknown as WithOptions).ping({ abortSignal: signal }));
  }

  async version(signal?: AbortSignal): Promise<EngineVersion> {
    const v = await this.call("version", () =>
      (this.docker as unknown as WithOptions).version({ abortSignal: signal }),
    );
    const components = (v as { Components?: { Name: string }[] }).Components ?? [];
    return {
      version: v.Version,
      apiVersion: v.ApiVersion,
      os: v.Os,
      arch: v.Arch,
      podman: components.some((c) => /podman/i.test(c.Name)),
    };
  }

  // --- images ---

  async inspectImage(reference: string): Promise<ImageInfo | undefined> {
    try {
      const i = await this.docker.getImage(reference).inspect();
      return {
        id: i.Id,
        repoTags: i.RepoTags ?? [],
        repoDigests: i.RepoDigests ?? [],
        created: i.Created,
        labels: i.Config?.Labels ?? {},
        size: i.Size,
      };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      this.fail(`inspect image ${reference}`, err);
    }
  }

  async imageExists(reference: string): Promise<boolean> {
    return (await this.inspectImage(reference)) !== undefined;
  }

  /**
   * Builds an image with BuildKit when the engine has it (else the legacy builder, which says so), streaming
   * the output to `onLog`. Returns the image id; a failure is a BuildError naming the failing instruction.
   */
  async buildImage(opts: BuildOptions): Promise<BuildResult> {
    return buildImage(this.buildTarget(), opts);
  }

  async tagImage(source: string, target: string, signal?: AbortSignal): Promise<void> {
    const { name, tag } = splitReference(target);
    await this.call(`tag ${source} as ${target}`, () =>
      this.docker.getImage(source).tag({ repo: name, tag: tag ?? "latest", abortSignal: signal }),
    );
  }

  /**
   * Pushes one tag. The push stream is read to its end: a registry error in it (auth, unreachable) is a
   * PushError even though the HTTP call itself succeeded.
   */
  async pushImage(reference: string, opts: PushOptions = {}): Promise<PushResult> {
    const { name, tag } = splitReference(reference);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.getImage(name).push({
        tag: tag ?? "latest",
        authconfig: opts.auth ?? {},
        abortSignal: opts.signal,
      } as Dockerode.ImagePushOptions);
    } catch (err) {
      const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
      if (e.statusCode) {
        const message = e.json?.message ?? e.message ?? "";
        throw new PushError(
          reference,
          e.statusCode === 404 ? "other" : classifyPushFailure(message),
          message,
        );
      }
      this.fail(`push ${reference}`, err);
    }
    let error: string | undefined;
    let digest: string | undefined;
    let size: number | undefined;
    try {
      await readJsonStream(
        stream,
        (m) => {
          const err = messageError(m);
          if (err) error = err;
          if (m.aux && typeof m.aux.Digest === "string") {
            digest = m.aux.Digest;
            size = typeof m.aux.Size === "number" ? m.aux.Size : undefined;
          }
          if (m.status && !m.progress) opts.onLog?.(m.id ? `${m.id}: ${m.status}` : m.status);
          const d = m.status && /digest: (sha256:[0-9a-f]{64})/.exec(m.status);
          if (d && !digest) digest = d[1];
        },
        opts.signal,
      );
    } catch (err) {
      this.fail(`push ${reference}`, err);
    }
    if (error) throw new PushError(reference, classifyPushFailure(error), error.trim());
    return { reference, digest, size };
  }

  /** Pulls an image (all of its layers) from its registry. */
  async pullImage(reference: string, opts: PushOptions = {}): Promise<void> {
    const { name, tag, digest } = splitReference(reference);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.createImage(opts.auth ?? {}, {
        fromImage: name,
        tag: digest ?? tag ?? "latest",
        abortSignal: opts.signal,
      } as object);
    } catch (err) {
      const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
      if (e.statusCode) {
        const message = e.json?.message ?? e.message ?? "";
        throw new EngineError(`pull of ${reference} failed: ${message}`, e.statusCode, { cause: err });
      }
      this.fail(`pull ${reference}`, err);
    }
    let error: string | undefined;
    try {
      await readJsonStream(
        stream,
        (m) => {
          error = messageError(m) ?? error;
          if (m.status && !m.progress) opts.onLog?.(m.id ? `${m.id}: ${m.status}` : m.status);
        },
        opts.signal,
      );
    } catch (err) {
      this.fail(`pull ${reference}`, err);
    }
    if (error) throw new EngineError(`pull of ${reference} failed: ${error.trim()}`);
  }

  /** Makes sure the engine has an image, pulling it when it does not. */
  async ensureImage(reference: string, opts: PushOptions = {}): Promise<"present" | "pulled"> {
    if (await this.imageExists(reference)) return "present";
    await this.pullImage(reference, opts);
    return "pulled";
  }

  async removeImage(
    reference: string,
    opts: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<boolean> {
    try {
      await this.docker.getImage(reference).remove({ force: opts.force ?? false, abortSignal: opts.signal });
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      this.fail(`remove image ${reference}`, err);
    }
  }

  /** Removes dangling images (all unused ones with `all`), optionally only those with the given labels. */
  async pruneImages(
    opts: { all?: boolean; labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const filters: Record<string, string[]> = {
      dangling: [opts.all ? "false" : "true"],
      ...labelFilters(opts.labels),
    };
    const r = await this.call("prune images", () =>
      this.docker.pruneImages({ filters: JSON.stringify(filters), abortSignal: opts.signal } as object),
    );
    const deleted = (r.ImagesDeleted ?? []).flatMap((d: { Deleted?: string; Untagged?: string }) =>
      d.Deleted ? [d.Deleted] : [],
    );
    return { deleted, spaceReclaimed: r.SpaceReclaimed ?? 0 };
  }

  async listImages(
    opts: { labels?: Record<string, string>; dangling?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ id: string; repoTags: string[]; labels: Record<string, string> }[]> {
    const filters: Record<string, string[]> = labelFilters(opts.labels);
    if (opts.dangling !== undefined) filters.dangling = [String(opts.dangling)];
    const list = await this.call("list images", () =>
      this.docker.listImages({ filters: JSON.stringify(filters), abortSignal: opts.signal } as object),
    );
    return list.map((i) => ({ id: i.Id, repoTags: i.RepoTags ?? [], labels: i.Labels ?? {} }));
  }

  // --- containers ---

  async createContainer(spec: ContainerSpec, signal?: AbortSignal): Promise<string> {
    const body = containerCreateOptions(spec);
    const c = await this.call(`create container from ${spec.image}`, () =>
      this.docker.createContainer({ ...body, abortSignal: signal } as Dockerode.ContainerCreateOptions),
    );
    return c.id;
  }

  async startContainer(id: string, signal?: AbortSignal): Promise<void> {
    await this.call(`start container ${id}`, () =>
      this.docker.getContainer(id).start({ abortSignal: signal }),
    );
  }

  /** Stops a container (SIGTERM, then SIGKILL after `timeoutSeconds`); a stopped one is left as is. */
  async stopContainer(
    id: string,
    opts: { timeoutSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: opts.timeoutSeconds ?? 10, abortSignal: opts.signal });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 304 || code === 404) return;
      this.fail(`stop container ${id}`, err);
    }
  }

  /** Removes a container (with `force`, a running one too); a missing one is not an error. */
  async removeContainer(id: string, opts: { force?: boolean; volumes?: boolean; signal?: AbortSignal } = {}) {
    try {
      await this.docker
        .getContainer(id)
        .remove({ force: opts.force ?? false, v: opts.volumes ?? true, abortSignal: opts.signal });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 404) return;
      if (code === 409 && /already in progress/i.test(String((err as Error).message))) {
        // Another removal (the engine's auto-remove after a stop) is under way: the container is gone
        // only when it ends, and a caller that inspects right after must not still find it.
        for (let i = 0; i < 200 && (await this.inspectContainer(id)) !== undefined; i++)
          await sleep(50, opts.signal);
        return;
      }
      this.fail(`remove container ${id}`, err);
    }
  }

  /** Waits until the container stops; its exit code. */
  async waitContainer(id: string, signal?: AbortSignal): Promise<number> {
    const r = await this.call(`wait for container ${id}`, () =>
      this.docker.getContainer(id).wait({ abortSignal: signal }),
    );
    return (r as { StatusCode: number }).StatusCode;
  }

  async inspectContainer(id: string, signal?: AbortSignal): Promise<ContainerState | undefined> {
    let i: Dockerode.ContainerInspectInfo;
    try {
      i = await this.docker.getContainer(id).inspect({ abortSignal: signal });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      this.fail(`inspect container ${id}`, err);
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

  /** The container's health check status (`none` when it has no health check or does not exist). */
  async healthStatus(id: string, signal?: AbortSignal): Promise<HealthStatus> {
    return (await this.inspectContainer(id, signal))?.health ?? "none";
  }

  async listContainers(
    opts: { labels?: Record<string, string>; all?: boolean; signal?: AbortSignal } = {},
  ): Promise<ContainerSummary[]> {
    const list = await this.call("list containers", () =>
      this.docker.listContainers({
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
  async containerLogs(id: string, opts: LogOptions = {}): Promise<{ stdout: string; stderr: string }> {
    const container = this.docker.getContainer(id);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const onOut = (b: Buffer) => (opts.onStdout ? opts.onStdout(b) : out.push(b));
    const onErr = (b: Buffer) => (opts.onStderr ? opts.onStderr(b) : err.push(b));
    const tty = (await this.inspectTty(id, opts.signal)) ?? false;
    const base = {
      stdout: true,
      stderr: true,
      since: opts.since ?? 0,
      timestamps: opts.timestamps ?? false,
      tail: opts.tail ?? "all",
      abortSignal: opts.signal,
    };
    if (opts.follow) {
      const stream = (await this.call(`logs of container ${id}`, () =>
        container.logs({ ...base, follow: true } as Dockerode.ContainerLogsOptions & { follow: true }),
      )) as NodeJS.ReadableStream;
      await this.demux(stream, tty, onOut, onErr, opts.signal);
    } else {
      const buf = (await this.call(`logs of container ${id}`, () =>
        container.logs({ ...base, follow: false } as Dockerode.ContainerLogsOptions & { follow?: false }),
      )) as unknown as Buffer;
      demuxBuffer(Buffer.from(buf), tty, onOut, onErr);
    }
    return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  private async inspectTty(id: string, signal?: AbortSignal): Promise<boolean | undefined> {
    try {
      const i = await this.docker.getContainer(id).inspect({ abortSignal: signal });
      return i.Config.Tty;
    } catch (err) {
      this.fail(`inspect container ${id}`, err);
    }
  }

  private demux(
    stream: NodeJS.ReadableStream,
    tty: boolean,
    onOut: (b: Buffer) => void,
    onErr: (b: Buffer) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (tty) stream.on("data", (b: Buffer) => onOut(Buffer.from(b)));
      else {
        // Frames are handed on in the order they come, stdout and stderr interleaved as written.
        const frames = frameReader(onOut, onErr);
        stream.on("data", (b: Buffer) => frames(Buffer.from(b)));
      }
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      stream.on("end", done);
      stream.on("close", done);
      stream.on("error", (err: Error) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) resolve();
        else reject(err);
      });
    });
  }

  /**
   * Extracts a tar (see tarFiles) into a container, created or running, at `path`. Entries are owned by
   * the container's user (copyUIDGID), so a 0600 file is readable by the process that needs it.
   */
  async putArchive(id: string, path: string, tar: Buffer, signal?: AbortSignal): Promise<void> {
    await this.call(`copy files into container ${id}`, () =>
      this.docker.getContainer(id).putArchive(tar, { path, copyUIDGID: "true", abortSignal: signal }),
    );
  }

  /** Runs a command in a running container; its exit code and output. */
  async execInContainer(id: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const exec = await this.call(`exec in container ${id}`, () =>
      this.docker.getContainer(id).exec({
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
    const stream = await this.call(`exec in container ${id}`, () =>
      exec.start({ hijack: true, stdin: false, abortSignal: opts.signal } as Dockerode.ExecStartOptions),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    await this.demux(
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
    const info = await this.call(`inspect exec in container ${id}`, () => exec.inspect());
    return {
      exitCode: info.ExitCode ?? -1,
      stdout: Buffer.concat(out).toString(),
      stderr: Buffer.concat(err).toString(),
    };
  }

  // --- volumes ---

  /** Creates a named volume (an existing one with that name is returned as it is). */
  async createVolume(
    name: string,
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<VolumeInfo> {
    await this.call(`create volume ${name}`, () =>
      this.docker.createVolume({
        Name: name,
        Labels: opts.labels ?? {},
        abortSignal: opts.signal,
      } as Dockerode.VolumeCreateOptions),
    );
    const info = await this.inspectVolume(name, opts.signal);
    if (!info) throw new EngineError(`create volume ${name}: the engine does not show it after creating it`);
    return info;
  }

  async inspectVolume(name: string, signal?: AbortSignal): Promise<VolumeInfo | undefined> {
    try {
      const v = await this.docker.getVolume(name).inspect({ abortSignal: signal } as object);
      return { name: v.Name, labels: v.Labels ?? {}, mountpoint: v.Mountpoint };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      this.fail(`inspect volume ${name}`, err);
    }
  }

  async listVolumes(
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<VolumeInfo[]> {
    const r = await this.call("list volumes", () =>
      this.docker.listVolumes({
        filters: JSON.stringify(labelFilters(opts.labels)),
        abortSignal: opts.signal,
      } as object),
    );
    return (r.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {}, mountpoint: v.Mountpoint }));
  }

  /** Removes a named volume; false when there is none. A volume still in use is an error. */
  async removeVolume(name: string, opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.docker
        .getVolume(name)
        .remove({ force: opts.force ?? false, abortSignal: opts.signal } as object);
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      this.fail(`remove volume ${name}`, err);
    }
  }

  // --- networks ---

  /** Creates a bridge network (or returns the id of the existing one with that name). */
  async createNetwork(
    name: string,
    opts: { labels?: Record<string, string>; internal?: boolean; signal?: AbortSignal } = {},
  ): Promise<string> {
    try {
      const n = await this.docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: opts.internal ?? false,
        Labels: opts.labels ?? {},
        abortSignal: opts.signal,
      } as Dockerode.NetworkCreateOptions);
      return n.id;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) {
        const existing = await this.call(`inspect network ${name}`, () =>
          this.docker.getNetwork(name).inspect(),
        );
        return existing.Id;
      }
      this.fail(`create network ${name}`, err);
    }
  }

  async removeNetwork(name: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.docker.getNetwork(name).remove({ abortSignal: signal });
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      this.fail(`remove network ${name}`, err);
    }
  }

  async connectNetwork(
    network: string,
    container: string,
    opts: { aliases?: string[]; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.call(`connect ${container} to network ${network}`, () =>
      this.docker.getNetwork(network).connect({
        Container: container,
        EndpointConfig: { Aliases: opts.aliases ?? [] },
        abortSignal: opts.signal,
      } as object),
    );
  }

  async disconnectNetwork(network: string, container: string, signal?: AbortSignal): Promise<void> {
    await this.call(`disconnect ${container} from network ${network}`, () =>
      this.docker.getNetwork(network).disconnect({ Container: container, Force: true, abortSignal: signal }),
    );
  }

  async listNetworks(
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    const list = await this.call("list networks", () =>
      this.docker.listNetworks({
        filters: JSON.stringify(labelFilters(opts.labels)),
        abortSignal: opts.signal,
      } as object),
    );
    return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
  }
}

/** A reader of the multiplexed stream format fed chunk by chunk (frames may span chunks). */
export function frameReader(onOut: (b: Buffer) => void, onErr: (b: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const payload = pending.subarray(8, 8 + size);
      if (pending[0] === 2) onErr(payload);
      else onOut(payload);
      pending = pending.subarray(8 + size);
    }
  };
}

/** Splits the Engine API's multiplexed stream format held in one buffer (logs without follow). */
export function demuxBuffer(
  buf: Buffer,
  tty: boolean,
  onOut: (b: Buffer) => void,
  onErr: (b: Buffer) => void,
): void {
  if (tty) {
    if (buf.length) onOut(buf);
    return;
  }
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const size = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + size);
    if (kind === 2) onErr(chunk);
    else onOut(chunk);
    i += 8 + size;
  }
}

/** An Engine for DOCKER_HOST (or `opts.host`); nothing is dialled until a method needs the engine. */
export function connectEngine(opts: EngineOptions = {}): Engine {
  return new Engine(opts);
}
