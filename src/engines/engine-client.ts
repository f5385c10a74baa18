// The dockerode client of one engine address (a Unix socket, TCP with or without TLS, or SSH channels) and
// what the groups of Engine operations (images, containers, volumes, networks) share: the client, and one
// mapping of a failed call to what a user can act on (no engine there, the engine's own words with its
// status code, an SSH transport's reason), and the calls that ask the engine about itself (ping, version).
// The Engine class holds the client; the operations take it as data.
import Dockerode from "dockerode";
import { OperationError, UserError } from "../lib/errors.js";
import type { EngineAddress } from "./address.js";
import { EngineError } from "./errors.js";
import { SshDialer } from "./ssh.js";
import { SshError } from "./ssh-error.js";

export type EngineVersion = {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  /** True for Podman's Docker-compatible API. */
  podman: boolean;
};

/** The client of one engine, and how its failed calls are reported. */
export type EngineApi = {
  readonly docker: Dockerode;
  /** Maps an error of a call to an EngineError naming what failed (aborts and user errors pass as they are). */
  fail(what: string, err: unknown): never;
};

/**
 * A client for the address; for an ssh:// engine also the dialer whose SSH connections carry its requests
 * (plain HTTP through an agent whose connections are SSH channels: docker-modem's own "ssh" protocol would
 * make an SSH connection per request and cannot tell why one failed). Creating them does no I/O.
 */
export function createDockerClient(
  a: EngineAddress,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
): { docker: Dockerode; dialer?: SshDialer } {
  const timeout = opts.timeoutMs;
  if (a.kind === "unix") return { docker: new Dockerode({ socketPath: a.socketPath, timeout }) };
  if (a.kind === "ssh") {
    const dialer = new SshDialer(a, { env: opts.env });
    const docker = new Dockerode({
      host: a.host,
      port: a.port,
      protocol: "http",
      agent: dialer,
      timeout,
    } as Dockerode.DockerOptions);
    return { docker, dialer };
  }
  return {
    docker: new Dockerode({
      host: a.host,
      port: a.port,
      protocol: a.protocol,
      ca: a.tls?.ca,
      cert: a.tls?.cert,
      key: a.tls?.key,
      timeout,
    }),
  };
}

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

/** Maps an error of a call to the engine at `url` to what a user can act on. */
export function engineFailure(url: string, what: string, err: unknown): never {
  if (err instanceof OperationError || err instanceof UserError) throw err;
  if (err instanceof SshError) throw new EngineError(err.message, undefined, { cause: err });
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
  if (e?.code === "ABORT_ERR" || (err as Error)?.name === "AbortError") throw err;
  if (e?.code && connectionCodes.has(e.code))
    throw new EngineError(
      `no container engine at ${url}: ${e.code === "ENOENT" ? "connect ENOENT" : e.message} — start dockerd (or podman system service) or set DOCKER_HOST`,
      undefined,
      { cause: err },
    );
  if (e?.statusCode) {
    const message = (e.json?.message ?? (typeof e.json === "string" ? e.json : undefined) ?? e.message ?? "")
      .toString()
      .trim();
    throw new EngineError(`${what}: ${message}`, e.statusCode, { cause: err });
  }
  throw new EngineError(`${what}: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err });
}

/** Runs one call, its failure reported as `what` failing. */
export async function call<T>(api: EngineApi, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    api.fail(what, err);
  }
}

/** Calls whose options dockerode's types omit. */
type WithOptions = {
  ping(o: object): Promise<unknown>;
  version(o: object): Promise<Dockerode.DockerVersion>;
};

export async function pingEngine(api: EngineApi, signal?: AbortSignal): Promise<void> {
  await call(api, "ping", () => (api.docker as unknown as WithOptions).ping({ abortSignal: signal }));
}

/** The engine's version, and whether it is Podman's compatible API. */
export async function engineVersion(api: EngineApi, signal?: AbortSignal): Promise<EngineVersion> {
  const v = await call(api, "version", () =>
    (api.docker as unknown as WithOptions).version({ abortSignal: signal }),
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
