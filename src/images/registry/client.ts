// A client for the Docker Registry HTTP API v2 / OCI distribution API over plain fetch: anonymous first, then
// basic or bearer tokens as the registry's WWW-Authenticate challenge asks (tokens cached per scope).
import { createHash } from "node:crypto";
import { retry } from "../../lib/async.js";
import { OperationError } from "../../lib/errors.js";
import { fetchWithDeadline, HttpTimeoutError, httpTimeoutMs } from "../../lib/http.js";
import { type Credentials, dockerCredentials } from "./auth.js";
import { parseRepository, registryScheme } from "./reference.js";

export const manifestTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

const acceptManifests = Object.values(manifestTypes).join(", ");

export type RegistryFailure = "auth" | "unreachable" | "not-found" | "unsupported" | "other";

export class RegistryError extends OperationError {
  readonly kind: RegistryFailure;
  readonly status?: number;
  constructor(message: string, kind: RegistryFailure, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "RegistryError";
    this.kind = kind;
    this.status = status;
  }
}

export type Manifest = {
  digest: string;
  mediaType: string;
  /** The bytes as served: what the digest is of, and what a re-tag must send back. */
  raw: Buffer;
  json: {
    mediaType?: string;
    manifests?: {
      digest: string;
      mediaType?: string;
      platform?: { os?: string; architecture?: string };
      annotations?: Record<string, string>;
    }[];
    config?: { digest: string; mediaType?: string };
    layers?: { digest: string; size: number }[];
  };
};

export type ImageConfig = {
  /** Digest of the (platform) manifest the config belongs to. */
  manifestDigest: string;
  created?: string;
  os?: string;
  architecture?: string;
  labels: Record<string, string>;
};

export type RegistryClientOptions = {
  /** Registry host (`127.0.0.1:5000`, `ghcr.io`, `docker.io`). */
  host: string;
  /** Explicit credentials; default: the docker config's for the host. `null`: anonymous only. */
  credentials?: Credentials | null;
  /** Hosts spoken to over http (loopback hosts always are). */
  insecure?: readonly string[];
  /** Attempts for a request that cannot reach the registry (default 3). */
  attempts?: number;
  /** First retry delay in ms, doubled each time (default 250). */
  retryDelayMs?: number;
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  /** Deadline for connecting and the response headers, per attempt (default SLIPWAY_HTTP_TIMEOUT_MS or 30 s). */
  timeoutMs?: number;
};

type RequestOptions = {
  scope: string;
  accept?: string;
  body?: Buffer;
  contentType?: string;
  signal?: AbortSignal;
};

function parseChallenge(
  header: string | null,
): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    params[m[1].toLowerCase()] = m[2] ?? m[3];
  return { scheme, params };
}

function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header);
  return m?.[1];
}

export class RegistryClient {
  readonly host: string;
  readonly baseUrl: string;
  private readonly explicit?: Credentials | null;
  private readonly env?: NodeJS.ProcessEnv;
  private readonly fetchFn: typeof fetch;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private credentials?: Credentials | null;
  private scheme: "none" | "basic" | "bearer" = "none";
  private readonly tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    const parsed = parseRepository(`${opts.host}/x`);
    this.host = parsed.host;
    this.baseUrl = `${registryScheme(parsed.apiHost, opts.insecure)}://${parsed.apiHost}`;
    this.explicit = opts.credentials;
    this.env = opts.env;
    this.fetchFn = opts.fetch ?? fetch;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? httpTimeoutMs(opts.env ?? process.env);
  }

  private async creds(signal?: AbortSignal): Promise<Credentials | undefined> {
    if (this.credentials === undefined)
      this.credentials =
        this.explicit !== undefined
          ? this.explicit
          : ((await dockerCredentials(this.host, { env: this.env, signal })) ?? null);
    return this.credentials ?? undefined;
  }

  private who(c: Credentials | undefined): string {
    return c ? ("password" in c ? `user '${c.username}'` : "the identity token") : "anonymous access";
  }

  /** fetch with retries when the registry cannot be reached or is temporarily unavailable. */
  private async send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    let last: unknown;
    try {
      return await retry(
        async (attempt) => {
          // A registry that accepts the connection and never answers is an attempt that failed.
          const res = await fetchWithDeadline(
            url,
            { ...init, signal, redirect: "follow" },
            this.timeoutMs,
            this.fetchFn,
          );
          if ([502, 503, 504].includes(res.status) && attempt < this.attempts) {
            await res.body?.cancel();
            throw new Error(`HTTP ${res.status}`);
          }
          return res;
        },
        { attempts: this.attempts, backoff: { baseMs: this.retryDelayMs }, signal },
      );
    } catch (err) {
      if (signal?.aborted) throw err;
      last = err;
    }
    const cause = last as { cause?: { code?: string; message?: string }; message?: string };
    const why =
      last instanceof HttpTimeoutError
        ? last.message
        : (cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(last));
    throw new RegistryError(
      `registry ${this.host} is unreachable at ${this.baseUrl} (${why}) after ${this.attempts} attempt${this.attempts > 1 ? "s" : ""}`,
      "unreachable",
      undefined,
      { cause: last },
    );
  }

  private async token(
    realm: string,
    service: string | undefined,
    scope: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const c = await this.creds(signal);
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    if (scope) for (const s of scope.split(" ")) url.searchParams.append("scope", s);
    let res: Response;
    if (c && "identityToken" in c) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: c.identityToken,
        client_id: "slipway",
      });
      if (service) form.set("service", service);
      if (scope) form.set("scope", scope);
      res = await this.send(
        realm,
        { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } },
        signal,
      );
    } else {
      const headers: Record<string, string> = {};
      if (c) headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
      res = await this.send(url.toString(), { headers }, signal);
    }
    if (res.status === 401 || res.status === 403)
      throw new RegistryError(
        `authentication failed for ${this.host}: the token server refused ${this.who(c)}`,
        "auth",
        res.status,
      );
    if (!res.ok)
      throw new RegistryError(`token request to ${realm} failed: HTTP ${res.status}`, "other", res.status);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`token server ${realm} returned no token`, "other");
    return token;
  }

  /** One API request, authenticating as the registry's challenge asks. */
  private async request(method: string, pathOrUrl: string, opts: RequestOptions): Promise<Response> {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
    let sentBasic = false;
    let sentToken = false;
    for (let round = 0; round < 3; round++) {
      const headers: Record<string, string> = {};
      if (opts.accept) headers.accept = opts.accept;
      if (opts.contentType) headers["content-type"] = opts.contentType;
      if (this.scheme === "basic") {
        const c = await this.creds(opts.signal);
        if (c && "password" in c) {
          headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
          sentBasic = true;
        }
      } else if (this.scheme === "bearer" && this.tokens.has(opts.scope)) {
        headers.authorization = `Bearer ${this.tokens.get(opts.scope)}`;
        sentToken = true;
      }
      const res = await this.send(url, { method, headers, body: opts.body }, opts.signal);
      if (res.status !== 401) {
        if (res.status === 403) {
          await res.body?.cancel();
          throw new RegistryError(
            `${this.host} denied ${method} ${new URL(url).pathname} to ${this.who(await this.creds(opts.signal))}`,
            "auth",
            403,
          );
        }
        return res;
      }
      await res.body?.cancel();
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      const c = await this.creds(opts.signal);
      if (challenge?.scheme === "basic") {
        if (!c || !("password" in c))
          throw new RegistryError(
            `${this.host} requires authentication and no credentials are configured for it (docker login ${this.host}, or pass credentials)`,
            "auth",
            401,
          );
        if (sentBasic)
          throw new RegistryError(
            `authentication failed for ${this.host}: it refused ${this.who(c)}`,
            "auth",
            401,
          );
        this.scheme = "basic";
        continue;
      }
      if (challenge?.scheme === "bearer" && challenge.params.realm) {
        if (sentToken)
          throw new RegistryError(
            `${this.host} refused the token for ${opts.scope} (${this.who(c)} lacks the permission)`,
            "auth",
            401,
          );
        const scope = challenge.params.scope ?? opts.scope;
        this.tokens.set(
          opts.scope,
          await this.token(challenge.params.realm, challenge.params.service, scope, opts.signal),
        );
        this.scheme = "bearer";
        continue;
      }
      throw new RegistryError(`${this.host} answered 401 without a usable challenge`, "auth", 401);
    }
    throw new RegistryError(`authentication failed for ${this.host}`, "auth", 401);
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = "";
    try {
      const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
      detail = (body.errors ?? []).map((e) => `${e.code ?? ""}: ${e.message ?? ""}`).join("; ");
    } catch {
      // not JSON
    }
    const kind: RegistryFailure =
      res.status === 404 ? "not-found" : res.status === 405 ? "unsupported" : "other";
    throw new RegistryError(
      `${what} on ${this.host}: HTTP ${res.status}${detail ? ` (${detail})` : ""}`,
      kind,
      res.status,
    );
  }

  /** Checks that the registry answers (and that the credentials work, if it asks for them). */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.request("GET", "/v2/", { scope: "", signal });
    if (!res.ok) await this.fail(res, "ping");
    await res.body?.cancel();
  }

  /** Follows `Link: <…>; rel="next"` pages, collecting `key` of each JSON page. */
  private async paginate(
    first: string,
    key: "tags" | "repositories",
    scope: string,
    what: string,
    signal?: AbortSignal,
  ) {
    const out: string[] = [];
    let next: string | undefined = first;
    while (next) {
      const res = await this.request("GET", next, { scope, signal });
      if (!res.ok) await this.fail(res, what);
      const body = (await res.json()) as Record<string, string[] | null | undefined>;
      out.push(...(body[key] ?? []));
      const link = nextLink(res.headers.get("link"));
      next = link ? new URL(link, this.baseUrl).toString() : undefined;
    }
    return out;
  }

  /** All tags of a repository, following `Link` pagination (registries that do not paginate send all at once). */
  async tags(repository: string, opts: { pageSize?: number; signal?: AbortSignal } = {}): Promise<string[]> {
    return this.paginate(
      `/v2/${repository}/tags/list?n=${opts.pageSize ?? 1000}`,
      "tags",
      `repository:${repository}:pull`,
      `list tags of ${repository}`,
      opts.signal,
    );
  }

  /** The repositories of the registry (`/v2/_catalog`), following `Link` pagination. */
  async repositories(opts: { pageSize?: number; signal?: AbortSignal } = {}): Promise<string[]> {
    return this.paginate(
      `/v2/_catalog?n=${opts.pageSize ?? 1000}`,
      "repositories",
      "registry:catalog:*",
      "list repositories",
      opts.signal,
    );
  }

  /** A manifest (index, list or image manifest) by tag or digest. */
  async manifest(repository: string, reference: string, signal?: AbortSignal): Promise<Manifest> {
    const res = await this.request("GET", `/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull`,
      accept: acceptManifests,
      signal,
    });
    if (!res.ok) await this.fail(res, `get manifest ${repository}:${reference}`);
    const raw = Buffer.from(await res.arrayBuffer());
    const digest =
      res.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(raw).digest("hex")}`;
    const json = JSON.parse(raw.toString("utf8")) as Manifest["json"];
    const mediaType =
      json.mediaType ?? res.headers.get("content-type")?.split(";")[0] ?? manifestTypes.ociManifest;
    return { digest, mediaType, raw, json };
  }

  /** The digest a tag points to, or undefined when the tag does not exist. */
  async digest(repository: string, reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.request("HEAD", `/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull`,
      accept: acceptManifests,
      signal,
    });
    if (res.status === 404) return undefined;
    if (!res.ok) await this.fail(res, `get digest of ${repository}:${reference}`);
    const d = res.headers.get("docker-content-digest");
    return d ?? (await this.manifest(repository, reference, signal)).digest;
  }

  async blob(repository: string, digest: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.request("GET", `/v2/${repository}/blobs/${digest}`, {
      scope: `repository:${repository}:pull`,
      signal,
    });
    if (!res.ok) await this.fail(res, `get blob ${digest} of ${repository}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /**
   * The image configuration (creation time, platform, labels) of a tag or digest; for an index, of the
   * linux/amd64 image (else the first image that is not an attestation).
   */
  async imageConfig(repository: string, reference: string, signal?: AbortSignal): Promise<ImageConfig> {
    let m = await this.manifest(repository, reference, signal);
    if (m.json.manifests) {
      const images = m.json.manifests.filter(
        (d) => d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest",
      );
      const pick =
        images.find((d) => d.platform?.os === "linux" && d.platform?.architecture === "amd64") ??
        images[0] ??
        m.json.manifests[0];
      if (!pick) throw new RegistryError(`${repository}:${reference} is an empty index`, "other");
      m = await this.manifest(repository, pick.digest, signal);
    }
    if (!m.json.config)
      throw new RegistryError(
        `${repository}:${reference} has no image config (${m.mediaType})`,
        "unsupported",
      );
    const config = JSON.parse(
      (await this.blob(repository, m.json.config.digest, signal)).toString("utf8"),
    ) as {
      created?: string;
      os?: string;
      architecture?: string;
      config?: { Labels?: Record<string, string> | null };
    };
    return {
      manifestDigest: m.digest,
      created: config.created,
      os: config.os,
      architecture: config.architecture,
      labels: config.config?.Labels ?? {},
    };
  }

  /** Stores a manifest under a tag (re-tagging without moving blobs); its digest. */
  async putManifest(
    repository: string,
    reference: string,
    manifest: Pick<Manifest, "raw" | "mediaType">,
    signal?: AbortSignal,
  ) {
    const res = await this.request("PUT", `/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull,push`,
      body: manifest.raw,
      contentType: manifest.mediaType,
      signal,
    });
    if (!res.ok) await this.fail(res, `put manifest ${repository}:${reference}`);
    await res.body?.cancel();
    return (
      res.headers.get("docker-content-digest") ??
      `sha256:${createHash("sha256").update(manifest.raw).digest("hex")}`
    );
  }

  /** Deletes a manifest by digest (and so every tag pointing to it); false when it did not exist. */
  async deleteManifest(repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new RegistryError(`refusing to delete '${digest}': not a digest`, "other");
    const res = await this.request("DELETE", `/v2/${repository}/manifests/${digest}`, {
      scope: `repository:${repository}:delete`,
      signal,
    });
    if (res.status === 404) return false;
    if (res.status === 405)
      throw new RegistryError(
        `${this.host} does not allow deletes (registry: storage.delete.enabled: true)`,
        "unsupported",
        405,
      );
    if (!res.ok) await this.fail(res, `delete ${repository}@${digest}`);
    await res.body?.cancel();
    return true;
  }
}

/** A client for the registry of a repository reference, and the repository's path on it. */
export function registryFor(
  reference: string,
  opts: Omit<RegistryClientOptions, "host"> = {},
): { client: RegistryClient; repository: string; tag?: string } {
  const r = parseRepository(reference);
  return { client: new RegistryClient({ ...opts, host: r.host }), repository: r.repository, tag: r.tag };
}
