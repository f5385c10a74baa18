// The registry client against real registries: anonymous, htpasswd basic auth, and the bearer-token flow;
// latest and prune semantics on real tags and digests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushTestImage } from "../../../test/support/images.js";
import { freePort } from "../../../test/support/ports.js";
import { startRegistry, type TestRegistry } from "../../../test/support/registry.js";
import { connectEngine } from "../../engines/index.js";
import {
  dockerCredentials,
  latestTag,
  parseRepository,
  pruneRepository,
  RegistryClient,
  RegistryError,
  registryScheme,
} from "../index.js";

const engine = connectEngine();
const run = Date.now().toString(36);

describe("references", () => {
  it("splits hosts, repositories, tags and digests", () => {
    expect(parseRepository("127.0.0.1:5000/team/app:1.0")).toEqual({
      host: "127.0.0.1:5000",
      apiHost: "127.0.0.1:5000",
      repository: "team/app",
      tag: "1.0",
      digest: undefined,
    });
    expect(parseRepository("alpine")).toMatchObject({
      host: "docker.io",
      apiHost: "registry-1.docker.io",
      repository: "library/alpine",
    });
    expect(parseRepository("ghcr.io/o/r@sha256:ab")).toMatchObject({
      host: "ghcr.io",
      repository: "o/r",
      digest: "sha256:ab",
    });
    expect(registryScheme("127.0.0.1:5000")).toBe("http");
    expect(registryScheme("localhost")).toBe("http");
    expect(registryScheme("registry.internal:5000")).toBe("https");
    expect(registryScheme("registry.internal:5000", ["registry.internal"])).toBe("http");
  });

  it("reads credentials from the docker config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-dockercfg-"));
    try {
      writeFileSync(
        join(dir, "config.json"),
        JSON.stringify({
          auths: {
            "registry.example:5000": { auth: Buffer.from("bob:pa:ss").toString("base64") },
            "https://index.docker.io/v1/": { auth: Buffer.from("hub:x").toString("base64") },
            "tokens.example": { identitytoken: "refresh" },
          },
        }),
      );
      const env = { DOCKER_CONFIG: dir };
      expect(await dockerCredentials("registry.example:5000", { env })).toEqual({
        username: "bob",
        password: "pa:ss",
      });
      expect(await dockerCredentials("docker.io", { env })).toEqual({ username: "hub", password: "x" });
      expect(await dockerCredentials("tokens.example", { env })).toEqual({
        identityToken: "refresh",
        username: undefined,
      });
      expect(await dockerCredentials("other.example", { env })).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("registry client", () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let token: TestRegistry;
  const creds = { username: "alice", password: "s3cret" };
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    [plain, basic, token] = await Promise.all([
      startRegistry(),
      startRegistry({ basic: creds }),
      startRegistry({ token: creds }),
    ]);
    // Oldest first, so that creation times follow this order.
    const repo = `${plain.host}/retention/app`;
    digests.a = await pushTestImage(engine, repo, ["1.0.0-main", "prod"], `a-${run}`);
    digests.b = await pushTestImage(engine, repo, ["1.1.0-main", "1.1.1-main"], `b-${run}`);
    digests.c = await pushTestImage(engine, repo, ["1.2.0-feature"], `c-${run}`);
    digests.d = await pushTestImage(engine, repo, ["1.3.0-main", "latest"], `d-${run}`);
    digests.e = await pushTestImage(engine, repo, ["0.9.0-main"], `e-${run}`);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([plain?.stop(), basic?.stop(), token?.stop()]);
  });

  it("lists tags, and repositories across pages (Link header)", async () => {
    const client = new RegistryClient({ host: plain.host, credentials: null });
    const all = [
      "0.9.0-main",
      "1.0.0-main",
      "1.1.0-main",
      "1.1.1-main",
      "1.2.0-feature",
      "1.3.0-main",
      "latest",
      "prod",
    ];
    // distribution 2.x pages the catalog but sends all tags at once; the same Link-following code reads both.
    expect((await client.tags("retention/app", { pageSize: 3 })).sort()).toEqual(all);
    await pushTestImage(engine, `${plain.host}/retention/other`, ["1"], `other-${run}`);
    await pushTestImage(engine, `${plain.host}/retention/third`, ["1"], `third-${run}`);
    expect(await client.repositories({ pageSize: 1 })).toEqual([
      "retention/app",
      "retention/other",
      "retention/third",
    ]);
  });

  it("reads manifests, digests and the image config", async () => {
    const client = new RegistryClient({ host: plain.host, credentials: null });
    expect(await client.digest("retention/app", "prod")).toBe(digests.a);
    expect(await client.digest("retention/app", "nope")).toBeUndefined();
    const m = await client.manifest("retention/app", "latest");
    expect(m.digest).toBe(digests.d);
    expect(m.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const config = await client.imageConfig("retention/app", "latest");
    expect(config.labels["io.slipway.test"]).toBe(`d-${run}`);
    expect(Date.parse(config.created ?? "")).toBeGreaterThan(Date.now() - 600_000);
    const err = await client.manifest("retention/nothing", "1").catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe("not-found");
  });

  it("finds the newest tag matching a glob by version or by time", async () => {
    const client = new RegistryClient({ host: plain.host, credentials: null });
    expect(await latestTag(client, "retention/app", { match: "*-main", by: "semver" })).toMatchObject({
      tag: "1.3.0-main",
      digest: digests.d,
    });
    expect(await latestTag(client, "retention/app", { match: "*-main", by: "time" })).toMatchObject({
      tag: "0.9.0-main",
      digest: digests.e,
    });
    expect(await latestTag(client, "retention/app", { match: "*-nothing" })).toBeUndefined();
  });

  it("prunes old tags by digest, never a protected or kept digest", async () => {
    const client = new RegistryClient({ host: plain.host, credentials: null });
    const opts = { keep: 1, match: "*-main", protect: ["prod"], by: "semver" as const };
    const dry = await pruneRepository(client, "retention/app", { ...opts, dryRun: true });
    expect(dry.deleted).toEqual([]);
    expect(dry.delete.map((d) => d.digest).sort()).toEqual([digests.b, digests.e].sort());
    expect(dry.spared).toEqual([{ digest: digests.a, tags: ["1.0.0-main"], heldBy: ["prod"] }]);
    expect((await client.tags("retention/app")).length).toBe(8);

    const done = await pruneRepository(client, "retention/app", opts);
    expect(done.deleted.sort()).toEqual([digests.b, digests.e].sort());
    expect((await client.tags("retention/app")).sort()).toEqual([
      "1.0.0-main",
      "1.2.0-feature",
      "1.3.0-main",
      "latest",
      "prod",
    ]);
    expect(await client.digest("retention/app", "prod")).toBe(digests.a);
    expect(await client.digest("retention/app", "1.0.0-main")).toBe(digests.a);
  });

  it("authenticates with basic auth, and says clearly when it cannot", async () => {
    await pushTestImage(engine, `${basic.host}/secure/app`, ["1.0.0"], `basic-${run}`, {
      ...creds,
      serveraddress: basic.host,
    });
    const ok = new RegistryClient({ host: basic.host, credentials: creds });
    expect(await ok.tags("secure/app")).toEqual(["1.0.0"]);

    const anonymous = new RegistryClient({ host: basic.host, credentials: null });
    await expect(anonymous.tags("secure/app")).rejects.toThrow(
      `${basic.host} requires authentication and no credentials are configured for it`,
    );
    const wrong = new RegistryClient({
      host: basic.host,
      credentials: { username: "alice", password: "nope" },
    });
    await expect(wrong.tags("secure/app")).rejects.toThrow(
      `authentication failed for ${basic.host}: it refused user 'alice'`,
    );

    // Credentials from the docker config when none are given.
    const dir = mkdtempSync(join(tmpdir(), "slipway-dockercfg-"));
    try {
      writeFileSync(
        join(dir, "config.json"),
        JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from("alice:s3cret").toString("base64") } } }),
      );
      const fromConfig = new RegistryClient({ host: basic.host, env: { DOCKER_CONFIG: dir } });
      expect(await fromConfig.tags("secure/app")).toEqual(["1.0.0"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("follows the bearer-token flow: anonymous pulls, authenticated deletes", async () => {
    const digest = await pushTestImage(engine, `${token.host}/tok/app`, ["1.0.0", "2.0.0"], `token-${run}`, {
      ...creds,
      serveraddress: token.host,
    });
    const anonymous = new RegistryClient({ host: token.host, credentials: null });
    expect((await anonymous.tags("tok/app")).sort()).toEqual(["1.0.0", "2.0.0"]);
    expect(await anonymous.digest("tok/app", "1.0.0")).toBe(digest);
    const denied = await anonymous.deleteManifest("tok/app", digest).catch((e) => e);
    expect(denied).toBeInstanceOf(RegistryError);
    expect((denied as RegistryError).kind).toBe("auth");

    const wrong = new RegistryClient({
      host: token.host,
      credentials: { username: "alice", password: "nope" },
    });
    await expect(wrong.tags("tok/app")).rejects.toThrow(
      `authentication failed for ${token.host}: the token server refused user 'alice'`,
    );

    const alice = new RegistryClient({ host: token.host, credentials: creds });
    expect(await alice.deleteManifest("tok/app", digest)).toBe(true);
    expect(await alice.tags("tok/app")).toEqual([]);
  });

  it("reports an unreachable registry after bounded retries", async () => {
    const port = await freePort();
    const client = new RegistryClient({
      host: `127.0.0.1:${port}`,
      credentials: null,
      attempts: 3,
      retryDelayMs: 10,
    });
    const started = Date.now();
    const err = await client.tags("x/y").catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).kind).toBe("unreachable");
    expect((err as Error).message).toBe(
      `registry 127.0.0.1:${port} is unreachable at http://127.0.0.1:${port} (ECONNREFUSED) after 3 attempts`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
