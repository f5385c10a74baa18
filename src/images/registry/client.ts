// A client for the Docker Registry HTTP API v2 / OCI distribution API over plain fetch: catalog, tags,
// manifests, blobs and deletes. Retries, deadlines and authentication (anonymous first, then basic or
// bearer tokens as the registry's challenge asks) live in transport.ts, which every request goes through.
import { createHash } from "node:crypto";
import { httpTimeoutMs } from "../../lib/http.js";
import type { Credentials } from "./auth.js";
import { failedResponse, RegistryError } from "./errors.js";
import { parseRepository, registryScheme } from "./reference.js";
import { RegistryTransport, type RequestOptions } from "./transport.js";

export const manifestTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

const acceptManifests = Object.values(manifestTypes).join(", ");

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

function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header);
  return m?.[1];
}

export class RegistryClient {
  readonly host: string;
  readonly baseUrl: string;
  private readonly transport: RegistryTransport;

  constructor(opts: RegistryClientOptions) {
    const parsed = parseRepository(`${opts.host}/x`);
    this.host = parsed.host;
    this.baseUrl = `${registryScheme(parsed.apiHost, opts.insecure)}://${parsed.apiHost}`;
    this.transport = new RegistryTransport({
      host: this.host,
      baseUrl: this.baseUrl,
      credentials: opts.credentials,
      env: opts.env,
      fetch: opts.fetch ?? fetch,
      attempts: Math.max(1, opts.attempts ?? 3),
      retryDelayMs: opts.retryDelayMs ?? 250,
      timeoutMs: opts.timeoutMs ?? httpTimeoutMs(opts.env ?? process.env),
    });
  }

  /** One API request, authenticating as the registry's challenge asks. */
  private request(method: string, pathOrUrl: string, opts: RequestOptions): Promise<Response> {
    return this.transport.request(method, pathOrUrl, opts);
  }

  private fail(res: Response, what: string): Promise<never> {
    return failedResponse(res, what, this.host);
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
