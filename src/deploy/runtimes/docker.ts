// The docker runtime: instances are containers named `slipway-<app>-<env>-<id>` on the network
// `slipway-<app>-<env>`, where each is reachable by its service's name. Everything slipway needs to
// re-adopt them is in their labels (dev.slipway.*), and Docker's restart policy keeps them up while
// slipway is down. The service's port is published on a host port the engine picks, on 127.0.0.1 for a
// local engine and on every interface of a remote one (whose host name is then the address). Secret files
// are copied into the container before it starts, never bind-mounted, so a remote engine works the same.
import { sleep } from "../../lib/async.js";
import {
  attachExec,
  connectEngine,
  type ContainerSpec,
  type ContainerState,
  type Engine,
  type EngineAddress,
  type Mount,
  type RestartPolicy,
  tarFiles,
} from "../../engines/index.js";
import { OperationError, UserError } from "../../lib/errors.js";
import type {
  InstanceInfo,
  InstanceLabels,
  RestartSpec,
  Runtime,
  ServiceSpec,
  StartRequest,
  TaskRequest,
  TaskResult,
} from "../types.js";
import { outputTail } from "./output.js";

export type DockerRuntimeOptions = {
  /** The engine to use; default: one for `host` (or DOCKER_HOST). */
  engine?: Engine;
  /**
   * DOCKER_HOST-style address (unix://, tcp://, ssh://user@host[:port]). With an `engine` as well (one that
   * reaches a forwarded socket, say), it only tells which host the instances are reached on.
   */
  host?: string;
  /** slipway's state directory (the docker runtime keeps its state in the engine's labels). */
  stateDir: string;
};

export const labelKeys = {
  managed: "dev.slipway.managed",
  app: "dev.slipway.app",
  env: "dev.slipway.env",
  service: "dev.slipway.service",
  release: "dev.slipway.release",
  instance: "dev.slipway.instance",
  /** The port the service listens on inside the container, to find its published host port again. */
  port: "dev.slipway.port",
  /** One-off task containers (hooks) carry this instead of `instance`, so they are never listed. */
  task: "dev.slipway.task",
} as const;

/** Output kept of exec and runTask. */
/** Where a secret file with a relative path goes (as Docker's own secrets). */
const secretsDir = "/run/secrets";

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function checkName(kind: string, value: string): string {
  if (!namePattern.test(value))
    throw new UserError(
      `${kind} '${value}' cannot be part of a container name: use letters, digits, '.', '_' and '-'`,
    );
  return value;
}

export const networkName = (app: string, env: string) => `slipway-${app}-${env}`;
export const containerName = (app: string, env: string, id: string) => `slipway-${app}-${env}-${id}`;
export const volumeName = (app: string, env: string, name: string) => `slipway-${app}-${env}-${name}`;

/** slipway's restart policy as Docker's: "always" must not bring back what slipway stopped on purpose. */
export function dockerRestartPolicy(restart: RestartSpec): RestartPolicy {
  if (restart.policy === "always") return { name: "unless-stopped" };
  if (restart.policy === "on-failure") return { name: "on-failure" };
  return { name: "no" };
}

const loopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);

/**
 * Where published ports are bound and how instances are reached: a local engine publishes on 127.0.0.1;
 * a remote one (tcp:// or ssh:// to another host) on all interfaces, reached by the engine host's name.
 */
export function publishTarget(
  host: string | undefined,
  address: EngineAddress,
): { hostIp: string; addressHost: string } {
  let remote: string | undefined;
  if (host && /^ssh:\/\//i.test(host)) {
    try {
      remote = new URL(host).hostname.replace(/^\[|\]$/g, "");
    } catch {
      throw new UserError(`docker host '${host}' is not an address (ssh://user@host)`);
    }
  } else if (address.kind === "tcp" || address.kind === "ssh") remote = address.host;
  if (remote && !loopback(remote)) return { hostIp: "0.0.0.0", addressHost: remote };
  return { hostIp: "127.0.0.1", addressHost: "127.0.0.1" };
}

/** The container for an instance: data only (tests compare it; nothing runs). */
export function instanceContainerSpec(
  request: StartRequest,
  publish: { hostIp: string },
): ContainerSpec & { image: string } {
  const { id, service, labels } = request;
  const image = request.image ?? service.image;
  if (!image) throw new UserError(`service ${service.name}: the docker runtime needs an image`);
  const { app, env } = labels;
  return {
    image,
    name: containerName(checkName("app", app), checkName("environment", env), checkName("instance id", id)),
    ...(service.command?.length ? { cmd: service.command } : {}),
    env: request.env,
    labels: {
      [labelKeys.managed]: "true",
      [labelKeys.app]: app,
      [labelKeys.env]: env,
      [labelKeys.service]: labels.service,
      [labelKeys.release]: labels.release,
      [labelKeys.instance]: id,
      ...(service.port !== undefined ? { [labelKeys.port]: String(service.port) } : {}),
    },
    network: { name: networkName(app, env), aliases: [service.name] },
    ports:
      service.port !== undefined ? [{ container: service.port, host: 0, hostIp: publish.hostIp }] : undefined,
    mounts: serviceMounts(service, app, env),
    restartPolicy: dockerRestartPolicy(service.restart),
    ...(service.resources?.memoryBytes ? { memoryBytes: service.resources.memoryBytes } : {}),
    ...(service.resources?.cpus ? { cpus: service.resources.cpus } : {}),
  };
}

function serviceMounts(service: ServiceSpec, app: string, env: string): Mount[] {
  return service.volumes.map((v) =>
    v.kind === "named"
      ? {
          type: "volume",
          source: volumeName(app, env, checkName("volume", v.source)),
          target: v.target,
          readOnly: v.readOnly,
        }
      : { type: "bind", source: v.source, target: v.target, readOnly: v.readOnly },
  );
}

function scopeLabels(app: string, env: string): Record<string, string> {
  return { [labelKeys.managed]: "true", [labelKeys.app]: app, [labelKeys.env]: env };
}

/** A signal that fires on `signal` or after `ms`; `timedOut()` tells which. */
function deadline(ms: number, signal?: AbortSignal) {
  const timeout = AbortSignal.timeout(Math.max(1, ms));
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  return { signal: combined, timedOut: () => timeout.aborted && !signal?.aborted };
}

export function createDockerRuntime(options: DockerRuntimeOptions): Runtime {
  const engine = options.engine ?? connectEngine({ host: options.host });
  const publish = publishTarget(options.host, engine.address);

  /** The container of an instance: by label, so any slipway (a restarted one too) finds it. */
  async function findContainer(id: string): Promise<string | undefined> {
    if (!namePattern.test(id)) return undefined;
    const found = await engine.listContainers({
      labels: { [labelKeys.managed]: "true", [labelKeys.instance]: id },
      all: true,
    });
    return found[0]?.id;
  }

  function info(state: ContainerState): InstanceInfo {
    const l = state.labels;
    const port = l[labelKeys.port];
    const binding = port ? state.ports[`${port}/tcp`]?.find((b) => b.hostPort > 0) : undefined;
    const labels: InstanceLabels = {
      app: l[labelKeys.app] ?? "",
      env: l[labelKeys.env] ?? "",
      service: l[labelKeys.service] ?? "",
      release: l[labelKeys.release] ?? "",
      instance: l[labelKeys.instance] ?? "",
    };
    return {
      id: labels.instance,
      labels,
      runtime: "docker",
      address: binding ? { host: publish.addressHost, port: binding.hostPort } : undefined,
      ref: state.id,
      running: state.running,
      ...(state.running ? {} : { exitCode: state.exitCode }),
      startedAt: state.startedAt ?? 0,
    };
  }

  // Docker's duplicate check on network names is best effort: two instances starting at once would create
  // two networks of one name, and every later start then fails as "ambiguous". Concurrent starts share one
  // creation; it is not cached beyond that, since the network may be removed while slipway runs.
  const creatingNetworks = new Map<string, Promise<void>>();

  async function ensureScope(app: string, env: string, signal?: AbortSignal): Promise<void> {
    const name = networkName(app, env);
    let creating = creatingNetworks.get(name);
    if (!creating) {
      // No caller's signal: the others wait on the same creation (and it takes milliseconds).
      creating = engine.createNetwork(name, { labels: scopeLabels(app, env) }).then(() => {});
      creatingNetworks.set(name, creating);
      const forget = () => creatingNetworks.delete(name);
      creating.then(forget, forget);
    }
    signal?.throwIfAborted();
    await creating;
  }

  async function ensureVolumes(service: ServiceSpec, app: string, env: string, signal?: AbortSignal) {
    for (const v of service.volumes) {
      if (v.kind !== "named") continue;
      await engine.createVolume(volumeName(app, env, checkName("volume", v.source)), {
        labels: { ...scopeLabels(app, env), "dev.slipway.volume": v.source },
        signal,
      });
    }
  }

  /** Reads the container's state until its published port shows (it does once the start call returns). */
  async function startedState(containerId: string, signal?: AbortSignal): Promise<ContainerState> {
    for (let attempt = 0; ; attempt++) {
      const state = await engine.inspectContainer(containerId, signal);
      if (!state) throw new OperationError(`container ${containerId} disappeared right after it started`);
      const port = state.labels[labelKeys.port];
      const published = !port || state.ports[`${port}/tcp`]?.some((b) => b.hostPort > 0);
      if (published || !state.running || attempt >= 20) return state;
      await sleep(50, signal);
    }
  }

  return {
    kind: "docker",

    async prepare(service, signal) {
      const image = service.image;
      if (!image) throw new UserError(`service ${service.name}: the docker runtime needs an image`);
      if (!(await engine.imageExists(image))) {
        try {
          await engine.pullImage(image, { signal });
        } catch (err) {
          signal?.throwIfAborted();
          throw new OperationError(
            `image ${image}: not found locally and pull failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }
      const found = await engine.inspectImage(image);
      if (!found) throw new OperationError(`image ${image}: not found after pulling it`);
      const repoDigest = found.repoDigests.find((d) => d.includes("@"));
      return { image, digest: repoDigest ? repoDigest.slice(repoDigest.indexOf("@") + 1) : found.id };
    },

    async start(request) {
      const { service, labels, signal } = request;
      const spec = instanceContainerSpec(request, publish);
      await ensureScope(labels.app, labels.env, signal);
      await ensureVolumes(service, labels.app, labels.env, signal);
      const containerId = await engine.createContainer(spec, signal);
      try {
        if (request.files.length) {
          const files = request.files.map((f) => ({
            path: f.path.startsWith("/") ? f.path : `${secretsDir}/${f.path}`,
            content: f.content,
            mode: 0o600,
          }));
          await engine.putArchive(containerId, "/", await tarFiles(files), signal);
        }
        await engine.startContainer(containerId, signal);
        return info(await startedState(containerId, signal));
      } catch (err) {
        await engine.removeContainer(containerId, { force: true }).catch(() => {});
        throw err;
      }
    },

    async stop(id, { timeoutMs, signal }) {
      const containerId = await findContainer(id);
      if (!containerId) return;
      if (!signal?.aborted)
        await engine.stopContainer(containerId, { timeoutSeconds: Math.ceil(timeoutMs / 1000), signal });
      // Named volumes are never removed with a container (only anonymous ones are).
      await engine.removeContainer(containerId, { force: true });
    },

    async inspect(id) {
      const containerId = await findContainer(id);
      const state = containerId ? await engine.inspectContainer(containerId) : undefined;
      return state ? info(state) : undefined;
    },

    async list(filter) {
      const containers = await engine.listContainers({
        labels: {
          ...scopeLabels(checkName("app", filter.app), checkName("environment", filter.env)),
          [labelKeys.instance]: "",
        },
        all: true,
      });
      const out: InstanceInfo[] = [];
      for (const c of containers) {
        const state = await engine.inspectContainer(c.id);
        if (state) out.push(info(state));
      }
      return out.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
    },

    async exec(id, command, { timeoutMs, signal }) {
      const containerId = await findContainer(id);
      if (!containerId) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      const output = outputTail();
      const limit = deadline(timeoutMs, signal);
      try {
        const r = await engine.execInContainer(containerId, command, {
          onStdout: (b) => output.push(b),
          onStderr: (b) => output.push(b),
          signal: limit.signal,
        });
        return { exitCode: r.exitCode, output: output.text(), timedOut: false };
      } catch (err) {
        // The engine cannot kill an exec'd process; it ends with the container, or when it finishes.
        if (limit.timedOut()) return { exitCode: 124, output: output.text(), timedOut: true };
        throw err;
      }
    },

    async runTask(request: TaskRequest): Promise<TaskResult> {
      const { service, labels } = request;
      const image = request.image ?? service.image;
      if (!image) throw new UserError(`task ${request.id}: no image (the service ${service.name} has none)`);
      const app = checkName("app", labels.app);
      const env = checkName("environment", labels.env);
      const name = containerName(app, env, checkName("task id", request.id));
      await ensureScope(app, env, request.signal);
      await ensureVolumes(service, app, env, request.signal);
      // A container left by an earlier attempt with this id is not this task's.
      await engine.removeContainer(name, { force: true });
      const containerId = await engine.createContainer(
        {
          image,
          name,
          cmd: request.command,
          env: request.env,
          labels: {
            ...scopeLabels(app, env),
            [labelKeys.service]: labels.service,
            [labelKeys.release]: labels.release,
            [labelKeys.task]: request.id,
          },
          network: { name: networkName(app, env) },
          mounts: serviceMounts(service, app, env),
        },
        request.signal,
      );
      try {
        await engine.startContainer(containerId, request.signal);
        const limit = deadline(request.timeoutMs, request.signal);
        let exitCode: number;
        let timedOut = false;
        try {
          exitCode = await engine.waitContainer(containerId, limit.signal);
        } catch (err) {
          if (!limit.timedOut()) throw err;
          timedOut = true;
          await engine.stopContainer(containerId, { timeoutSeconds: 0 });
          exitCode = await engine.waitContainer(containerId);
        }
        const output = outputTail();
        await engine.containerLogs(containerId, {
          onStdout: (b) => output.push(b),
          onStderr: (b) => output.push(b),
        });
        return { exitCode, output: output.text(), timedOut };
      } finally {
        await engine.removeContainer(containerId, { force: true }).catch(() => {});
      }
    },

    async logs(id, opts = {}) {
      const containerId = await findContainer(id);
      if (!containerId) return "";
      const output: Buffer[] = [];
      try {
        await engine.containerLogs(containerId, {
          tail: opts.tail ?? 100,
          onStdout: (b) => output.push(b),
          onStderr: (b) => output.push(b),
        });
      } catch (err) {
        // Removed between the lookup and the read: gone, so nothing to show.
        if (!(await engine.inspectContainer(containerId))) return "";
        throw err;
      }
      return Buffer.concat(output).toString().replace(/\n$/, "");
    },

    async streamLogs(id, opts) {
      const containerId = await findContainer(id);
      if (!containerId) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      // With the engine's timestamps (RFC 3339, nanoseconds), split into lines per stream.
      const splitter = (stream: "stdout" | "stderr") => {
        let pending = Buffer.alloc(0);
        return (b: Buffer) => {
          let data = Buffer.concat([pending, b]);
          for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
            const text = data.subarray(0, nl).toString();
            data = data.subarray(nl + 1);
            const space = text.indexOf(" ");
            const at = space > 0 ? Date.parse(text.slice(0, space)) : Number.NaN;
            opts.onLine(
              Number.isNaN(at) ? { stream, line: text } : { at, stream, line: text.slice(space + 1) },
            );
          }
          pending = Buffer.from(data);
        };
      };
      await engine.containerLogs(containerId, {
        follow: opts.follow,
        ...(opts.since !== undefined ? { since: Math.floor(opts.since / 1000) } : {}),
        ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
        timestamps: true,
        onStdout: splitter("stdout"),
        onStderr: splitter("stderr"),
        signal: opts.signal,
      });
    },

    async attach(id, command, io) {
      const containerId = await findContainer(id);
      if (!containerId) throw new OperationError(`instance ${id} does not exist (stopped or never started)`);
      return attachExec(engine, containerId, command, io);
    },

    async cleanup({ app, env }) {
      // Named volumes stay (they hold data); the network goes with the last container.
      const left = await engine
        .listContainers({ labels: { [labelKeys.app]: app, [labelKeys.env]: env } })
        .catch(() => []);
      if (left.length === 0) await engine.removeNetwork(networkName(app, env)).catch(() => false);
    },

    async close() {
      // Containers are Docker's to keep running; an ssh:// engine of our own has connections to close.
      if (!options.engine) engine.close();
    },
  };
}
