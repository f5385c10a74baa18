// One client for the Docker Engine API (and Podman's compatible API) over dockerode. It connects lazily:
// creating an Engine does no I/O, and an engine that is missing is reported when something needs it.
// The class holds the client (engine-client.ts makes it, pings it and reads its version) and its builder;
// images, containers, volumes and networks are operated on in the files of those names, which take the
// client as data: the class delegates to them, so that its methods stay the one API callers use.
import type Dockerode from "dockerode";
import { type AddressOptions, type EngineAddress, resolveEngineAddress } from "./address.js";
import {
  type Builder,
  type BuildOptions,
  type BuildResult,
  type BuildTarget,
  buildImage,
  engineBuilder,
} from "./build.js";
import type { ContainerSpec } from "./container-spec.js";
import * as containers from "./containers.js";
import {
  createDockerClient,
  type EngineApi,
  type EngineVersion,
  engineFailure,
  engineVersion,
  pingEngine,
} from "./engine-client.js";
import * as images from "./images.js";
import * as networks from "./networks.js";
import type { SshDialer } from "./ssh.js";
import * as volumes from "./volumes.js";

export type EngineOptions = AddressOptions & {
  /** Per-request timeout in ms for calls that are not streams (default: none). */
  timeoutMs?: number;
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
    if (!this.client) {
      const { docker, dialer } = createDockerClient(this.address, {
        timeoutMs: this.timeoutMs,
        env: this.env,
      });
      this.client = docker;
      this.dialer = dialer;
    }
    return this.client;
  }

  /**
   * Closes the SSH connections of an ssh:// engine (they close by themselves when idle, and never keep the
   * process alive); nothing to do for the others. The engine can still be used: it reconnects.
   */
  close(): void {
    this.dialer?.destroy();
  }

  /** Maps an error of a call to what a user can act on. */
  private fail(what: string, err: unknown): never {
    engineFailure(this.address.url, what, err);
  }

  /** The client and the failure mapping, for the operations in images.ts, containers.ts and the others. */
  private api(): EngineApi {
    return { docker: this.docker, fail: (what, err) => this.fail(what, err) };
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

  // --- engine ---

  async ping(signal?: AbortSignal): Promise<void> {
    return pingEngine(this.api(), signal);
  }

  async version(signal?: AbortSignal): Promise<EngineVersion> {
    return engineVersion(this.api(), signal);
  }

  // --- images (images.ts) ---

  async inspectImage(reference: string): Promise<images.ImageInfo | undefined> {
    return images.inspectImage(this.api(), reference);
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
    return images.tagImage(this.api(), source, target, signal);
  }

  /**
   * Pushes one tag. The push stream is read to its end: a registry error in it (auth, unreachable) is a
   * PushError even though the HTTP call itself succeeded.
   */
  async pushImage(reference: string, opts: images.PushOptions = {}): Promise<images.PushResult> {
    return images.pushImage(this.api(), reference, opts);
  }

  /** Pulls an image (all of its layers) from its registry. */
  async pullImage(reference: string, opts: images.PushOptions = {}): Promise<void> {
    return images.pullImage(this.api(), reference, opts);
  }

  /** Makes sure the engine has an image, pulling it when it does not. */
  async ensureImage(reference: string, opts: images.PushOptions = {}): Promise<"present" | "pulled"> {
    if (await this.imageExists(reference)) return "present";
    await this.pullImage(reference, opts);
    return "pulled";
  }

  async removeImage(
    reference: string,
    opts: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<boolean> {
    return images.removeImage(this.api(), reference, opts);
  }

  /** Removes dangling images (all unused ones with `all`), optionally only those with the given labels. */
  async pruneImages(
    opts: { all?: boolean; labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    return images.pruneImages(this.api(), opts);
  }

  async listImages(
    opts: { labels?: Record<string, string>; dangling?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ id: string; repoTags: string[]; labels: Record<string, string> }[]> {
    return images.listImages(this.api(), opts);
  }

  // --- containers (containers.ts) ---

  async createContainer(spec: ContainerSpec, signal?: AbortSignal): Promise<string> {
    return containers.createContainer(this.api(), spec, signal);
  }

  async startContainer(id: string, signal?: AbortSignal): Promise<void> {
    return containers.startContainer(this.api(), id, signal);
  }

  /** Stops a container (SIGTERM, then SIGKILL after `timeoutSeconds`); a stopped one is left as is. */
  async stopContainer(
    id: string,
    opts: { timeoutSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    return containers.stopContainer(this.api(), id, opts);
  }

  /** Removes a container (with `force`, a running one too); a missing one is not an error. */
  async removeContainer(id: string, opts: { force?: boolean; volumes?: boolean; signal?: AbortSignal } = {}) {
    return containers.removeContainer(this.api(), id, opts);
  }

  /** Waits until the container stops; its exit code. */
  async waitContainer(id: string, signal?: AbortSignal): Promise<number> {
    return containers.waitContainer(this.api(), id, signal);
  }

  async inspectContainer(id: string, signal?: AbortSignal): Promise<containers.ContainerState | undefined> {
    return containers.inspectContainer(this.api(), id, signal);
  }

  /** The container's health check status (`none` when it has no health check or does not exist). */
  async healthStatus(id: string, signal?: AbortSignal): Promise<containers.HealthStatus> {
    return (await this.inspectContainer(id, signal))?.health ?? "none";
  }

  async listContainers(
    opts: { labels?: Record<string, string>; all?: boolean; signal?: AbortSignal } = {},
  ): Promise<containers.ContainerSummary[]> {
    return containers.listContainers(this.api(), opts);
  }

  /** Container output; with `follow`, until the container stops or `signal` aborts. */
  async containerLogs(
    id: string,
    opts: containers.LogOptions = {},
  ): Promise<{ stdout: string; stderr: string }> {
    return containers.containerLogs(this.api(), id, opts);
  }

  /**
   * Extracts a tar (see tarFiles) into a container, created or running, at `path`. Entries are owned by
   * the container's user (copyUIDGID), so a 0600 file is readable by the process that needs it.
   */
  async putArchive(id: string, path: string, tar: Buffer, signal?: AbortSignal): Promise<void> {
    return containers.putArchive(this.api(), id, path, tar, signal);
  }

  /** Runs a command in a running container; its exit code and output. */
  async execInContainer(
    id: string,
    cmd: string[],
    opts: containers.ExecOptions = {},
  ): Promise<containers.ExecResult> {
    return containers.execInContainer(this.api(), id, cmd, opts);
  }

  // --- volumes (volumes.ts) ---

  /** Creates a named volume (an existing one with that name is returned as it is). */
  async createVolume(
    name: string,
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<volumes.VolumeInfo> {
    return volumes.createVolume(this.api(), name, opts);
  }

  async inspectVolume(name: string, signal?: AbortSignal): Promise<volumes.VolumeInfo | undefined> {
    return volumes.inspectVolume(this.api(), name, signal);
  }

  async listVolumes(
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<volumes.VolumeInfo[]> {
    return volumes.listVolumes(this.api(), opts);
  }

  /** Removes a named volume; false when there is none. A volume still in use is an error. */
  async removeVolume(name: string, opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<boolean> {
    return volumes.removeVolume(this.api(), name, opts);
  }

  // --- networks (networks.ts) ---

  /** Creates a bridge network (or returns the id of the existing one with that name). */
  async createNetwork(
    name: string,
    opts: { labels?: Record<string, string>; internal?: boolean; signal?: AbortSignal } = {},
  ): Promise<string> {
    return networks.createNetwork(this.api(), name, opts);
  }

  async removeNetwork(name: string, signal?: AbortSignal): Promise<boolean> {
    return networks.removeNetwork(this.api(), name, signal);
  }

  async connectNetwork(
    network: string,
    container: string,
    opts: { aliases?: string[]; signal?: AbortSignal } = {},
  ): Promise<void> {
    return networks.connectNetwork(this.api(), network, container, opts);
  }

  async disconnectNetwork(network: string, container: string, signal?: AbortSignal): Promise<void> {
    return networks.disconnectNetwork(this.api(), network, container, signal);
  }

  async listNetworks(
    opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
    return networks.listNetworks(this.api(), opts);
  }
}

/** An Engine for DOCKER_HOST (or `opts.host`); nothing is dialled until a method needs the engine. */
export function connectEngine(opts: EngineOptions = {}): Engine {
  return new Engine(opts);
}
