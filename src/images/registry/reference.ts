// Repository references as registries see them: `127.0.0.1:5000/team/app` → host + repository; Docker Hub
// names (`alpine`, `team/app`) → registry-1.docker.io and `library/alpine`.

export type RepositoryRef = {
  /** The host as written (`docker.io` for Hub names), the key for credentials. */
  host: string;
  /** Where the API is (`registry-1.docker.io` for Docker Hub). */
  apiHost: string;
  repository: string;
};

const hubHosts = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** Splits `host/repo[:tag|@digest]`; the tag or digest, if any, is returned separately. */
export function parseRepository(ref: string): RepositoryRef & { tag?: string; digest?: string } {
  let rest = ref.trim();
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split("/")[0];
  const hasHost =
    rest.includes("/") &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("["));
  let host = hasHost ? first : "docker.io";
  let repository = hasHost ? rest.slice(first.length + 1) : rest;
  if (hubHosts.has(host)) {
    host = "docker.io";
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  return { host, apiHost: host === "docker.io" ? "registry-1.docker.io" : host, repository, tag, digest };
}

/** Loopback hosts are spoken to over plain http; so are hosts listed as insecure. */
export function registryScheme(host: string, insecure: readonly string[] = []): "http" | "https" {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  if (name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name)) return "http";
  if (insecure.includes(host) || insecure.includes(name)) return "http";
  return "https";
}
