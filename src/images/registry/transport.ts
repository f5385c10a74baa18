// The HTTP layer of the registry client: fetch with retries and a deadline per attempt, and the
// authentication handshake — anonymous first, then basic or bearer tokens as the registry's
// WWW-Authenticate challenge asks (tokens cached per scope). client.ts speaks the API over it.
import { retry } from "../../lib/async.js";
import { fetchWithDeadline, HttpTimeoutError } from "../../lib/http.js";
import { type Credentials, dockerCredentials } from "./auth.js";
import { RegistryError } from "./errors.js";

export type TransportOptions = {
  /** Registry host as named in references (`docker.io`), for messages and credentials. */
  host: string;
  /** Scheme and API host (`https://registry-1.docker.io`). */
  baseUrl: string;
  /** Explicit credentials; undefined: the docker config's for the host. `null`: anonymous only. */
  credentials?: Credentials | null;
  env?: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  attempts: number;
  retryDelayMs: number;
  timeoutMs: number;
};

export type RequestOptions = {
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

export class RegistryTransport {
  private readonly host: string;
  private readonly baseUrl: string;
  private readonly explicit?: Credentials | null;
  private readonly env?: NodeJS.ProcessEnv;
  private readonly fetchFn: typeof fetch;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private credentials?: Credentials | null;
  private scheme: "none" | "basic" | "bearer" = "none";
  private readonly tokens = new Map<string, string>();

  constructor(opts: TransportOptions) {
    this.host = opts.host;
    this.baseUrl = opts.baseUrl;
    this.explicit = opts.credentials;
    this.env = opts.env;
    this.fetchFn = opts.fetch;
    this.attempts = opts.attempts;
    this.retryDelayMs = opts.retryDelayMs;
    this.timeoutMs = opts.timeoutMs;
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
  async request(method: string, pathOrUrl: string, opts: RequestOptions): Promise<Response> {
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
}
