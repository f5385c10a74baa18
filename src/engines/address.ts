// Where the container engine listens: DOCKER_HOST (unix://, tcp://, http://, https://, ssh://), an explicit
// address, or the default sockets of Docker Engine and Podman. Pure apart from the existence checks of default
// sockets (and reading TLS files); an ssh:// address is only parsed here, its keys are read on first use.
import { existsSync, readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { UserError } from "../lib/errors.js";

export type EngineAddress =
  | { kind: "unix"; socketPath: string; url: string }
  | {
      kind: "tcp";
      protocol: "http" | "https";
      host: string;
      port: number;
      url: string;
      tls?: { ca: Buffer; cert: Buffer; key: Buffer };
    }
  /** An engine on another machine, reached by running `docker system dial-stdio` there over SSH. */
  | { kind: "ssh"; host: string; port: number; username: string; url: string };

export type AddressOptions = {
  /** An explicit address (same forms as DOCKER_HOST); wins over the environment. */
  host?: string;
  env?: NodeJS.ProcessEnv;
  /** Tells whether a path exists (tests replace it). */
  exists?: (path: string) => boolean;
};

const dockerSocket = "/var/run/docker.sock";

function defaultSockets(env: NodeJS.ProcessEnv): string[] {
  const podman = ["/run/podman/podman.sock"];
  if (env.XDG_RUNTIME_DIR) podman.unshift(join(env.XDG_RUNTIME_DIR, "podman", "podman.sock"));
  return [dockerSocket, ...podman];
}

/**
 * The address to dial. Without DOCKER_HOST or an explicit host: Docker's socket, else the first Podman socket
 * that exists, else Docker's socket (so the error names the usual place).
 */
export function resolveEngineAddress(opts: AddressOptions = {}): EngineAddress {
  const env = opts.env ?? process.env;
  const exists = opts.exists ?? existsSync;
  const raw = (opts.host ?? env.DOCKER_HOST ?? "").trim();
  if (!raw) {
    const socketPath = defaultSockets(env).find(exists) ?? dockerSocket;
    return { kind: "unix", socketPath, url: `unix://${socketPath}` };
  }
  const where = opts.host !== undefined ? "engine address" : "DOCKER_HOST";
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length) || dockerSocket;
    return { kind: "unix", socketPath, url: `unix://${socketPath}` };
  }
  if (raw.startsWith("/")) return { kind: "unix", socketPath: raw, url: `unix://${raw}` };
  let url: URL;
  try {
    url = new URL(raw.includes("://") ? raw : `tcp://${raw}`);
  } catch {
    throw new UserError(`${where} '${raw}' is not an address (unix:///path/to/socket or tcp://host:port)`);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme === "ssh") return sshAddress(raw, url, where, env);
  if (!["tcp", "http", "https"].includes(scheme))
    throw new UserError(
      `${where} '${raw}': the ${scheme}:// scheme is not supported (use unix://, tcp:// or ssh://user@host[:port])`,
    );
  const tlsVerify =
    env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== "" && env.DOCKER_TLS_VERIFY !== "0";
  const protocol = scheme === "https" || (scheme === "tcp" && tlsVerify) ? "https" : "http";
  const port = url.port ? Number(url.port) : protocol === "https" ? 2376 : 2375;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const address: EngineAddress = {
    kind: "tcp",
    protocol,
    host,
    port,
    url: `${scheme === "tcp" ? "tcp" : protocol}://${url.hostname}:${port}`,
  };
  if (protocol === "https") {
    const dir = env.DOCKER_CERT_PATH || join(homedir(), ".docker");
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name));
      } catch (err) {
        throw new UserError(
          `${where} ${raw} uses TLS but ${join(dir, name)} cannot be read (${(err as Error).message}); set DOCKER_CERT_PATH`,
        );
      }
    };
    if (tlsVerify || exists(join(dir, "ca.pem")))
      address.tls = { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
  }
  return address;
}

/**
 * `ssh://user@host[:port]` as the docker CLI takes it: no password (keys only), nothing after the host, and
 * the local user's name when none is given.
 */
function sshAddress(raw: string, url: URL, where: string, env: NodeJS.ProcessEnv): EngineAddress {
  const form = "ssh://user@host[:port]";
  if (!url.hostname) throw new UserError(`${where} '${raw}' names no host (${form})`);
  if (url.password)
    throw new UserError(
      `${where} '${raw}': passwords are not supported; authenticate with a key (SLIPWAY_SSH_KEY, ~/.ssh/id_ed25519 or ssh-agent)`,
    );
  if ((url.pathname && url.pathname !== "/") || url.search || url.hash)
    throw new UserError(`${where} '${raw}': nothing may follow the host and port (${form})`);
  const username = decodeURIComponent(url.username) || env.USER || localUser();
  if (!username) throw new UserError(`${where} '${raw}' names no user (${form})`);
  const port = url.port ? Number(url.port) : 22;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { kind: "ssh", host, port, username, url: `ssh://${username}@${url.hostname}:${port}` };
}

function localUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers).
    return undefined;
  }
}
