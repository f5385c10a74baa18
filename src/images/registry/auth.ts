// Registry credentials: given explicitly, or from the docker CLI's config (~/.docker/config.json or
// $DOCKER_CONFIG/config.json): `auths` entries (base64 `user:password`, identity tokens) and credential
// helpers (`credHelpers`, `credsStore`), as `docker login` leaves them.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { OperationError, UserError } from "../../lib/errors.js";

export type Credentials =
  | { username: string; password: string }
  | { identityToken: string; username?: string };

type DockerConfig = {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
};

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), ".docker"), "config.json");
}

/** The keys `docker login` may have used for a host. */
function keysFor(host: string): string[] {
  if (host === "docker.io")
    return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
}

/** Credentials in an `auths` entry, or undefined. */
export function credentialsFromAuthEntry(
  entry: NonNullable<DockerConfig["auths"]>[string],
): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-<helper> get` for a host. */
async function fromHelper(
  helper: string,
  host: string,
  signal?: AbortSignal,
): Promise<Credentials | undefined> {
  const serverUrl = host === "docker.io" ? "https://index.docker.io/v1/" : host;
  try {
    const r = await execa(`docker-credential-${helper}`, ["get"], {
      input: serverUrl,
      cancelSignal: signal,
      timeout: 15_000,
    });
    const out = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    if (!out.Secret) return undefined;
    if (out.Username === "<token>") return { identityToken: out.Secret };
    return { username: out.Username ?? "", password: out.Secret };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; code?: string };
    if (/credentials not found/i.test(`${e.stdout ?? ""} ${e.stderr ?? ""}`)) return undefined;
    if (e.code === "ENOENT")
      throw new UserError(
        `credential helper docker-credential-${helper} (from the docker config) is not installed`,
      );
    throw new OperationError(
      `credential helper docker-credential-${helper} failed for ${host}: ${(e.stderr ?? String(err)).trim()}`,
    );
  }
}

/** Credentials for a registry host from the docker config, or undefined (anonymous). */
export async function dockerCredentials(
  host: string,
  opts: { configFile?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<Credentials | undefined> {
  const file = opts.configFile ?? dockerConfigPath(opts.env);
  if (!existsSync(file)) return undefined;
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(file, "utf8")) as DockerConfig;
  } catch (err) {
    throw new UserError(`cannot read the docker config ${file}: ${(err as Error).message}`);
  }
  const keys = keysFor(host);
  const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean);
  if (helper) return fromHelper(helper, host, opts.signal);
  for (const k of keys) {
    const entry = config.auths?.[k];
    if (entry) {
      const creds = credentialsFromAuthEntry(entry);
      if (creds) return creds;
    }
  }
  if (config.credsStore) return fromHelper(config.credsStore, host, opts.signal);
  return undefined;
}
