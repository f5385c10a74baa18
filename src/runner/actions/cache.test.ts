// The action cache against real git servers on loopback (smart HTTP, git daemon, dumb HTTP) holding real
// repositories: fetched by commit, once, whole or not at all, offline from the cache, and every way a
// fetch can fail named with the action, the server and the reason.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GitServer,
  publishRepo,
  startDumbHttp,
  startGitDaemon,
  startSmartHttp,
} from "../../../test/support/git-server.js";
import { UserError } from "../../lib/errors.js";
import { remoteRefOf } from "../steps/action-loader.js";
import { ActionCache, repoCacheDir } from "./cache.js";
import { ActionFetchError } from "./fetch.js";
import { pruneCandidates, listCachedActions } from "./manage.js";
import { actionSource, gitEnvFor } from "./source.js";

let root: string;
let repos: string;
let shas: string[];
let multiSha: string;
const servers: Record<string, GitServer> = {};

const actionYml = (name: string) =>
  `name: ${name}\nruns:\n  using: composite\n  steps:\n    - run: echo ${name}\n      shell: bash\n`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "slipway-cache-test-"));
  repos = join(root, "repos");
  shas = await publishRepo(repos, "acme/hello", [
    { files: { "action.yml": actionYml("one") }, tags: ["v1"] },
    { files: { "action.yml": actionYml("two") }, tags: ["v2"], annotated: true },
  ]);
  [multiSha] = await publishRepo(repos, "acme/multi", [
    { files: { "sub/action.yml": actionYml("sub"), "README.md": "x" }, tags: ["v1"] },
  ]);
  servers.smart = await startSmartHttp(repos);
  servers.daemon = await startGitDaemon(repos);
  servers.dumb = await startDumbHttp(repos);
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function freshCache(url: string, extra: Partial<ReturnType<typeof actionSource>> = {}): ActionCache {
  const dir = join(root, `actions-${++n}`);
  return new ActionCache(dir, { ...actionSource({ url }, {}), ...extra });
}

describe.each(["smart", "daemon", "dumb"])("fetching over %s", (kind) => {
  it("resolves a tag (lightweight and annotated), a branch and a sha to a commit and fetches its files", async () => {
    const cache = freshCache(servers[kind].url);
    const v1 = await cache.ensure(remoteRefOf("acme/hello@v1"));
    expect(v1.endsWith(shas[0])).toBe(true);
    expect(readFileSync(join(v1, "action.yml"), "utf8")).toContain("echo one");
    expect(existsSync(join(v1, ".git"))).toBe(false);
    const v2 = await cache.ensure(remoteRefOf("acme/hello@v2"));
    expect(v2.endsWith(shas[1])).toBe(true);
    expect((await cache.ensure(remoteRefOf("acme/hello@main"))).endsWith(shas[1])).toBe(true);
    expect((await cache.ensure(remoteRefOf(`acme/hello@${shas[0]}`))).endsWith(shas[0])).toBe(true);
    const multi = await cache.ensure(remoteRefOf("acme/multi/sub@v1"));
    expect(existsSync(join(multi, "sub", "action.yml"))).toBe(true);
    expect(multi.endsWith(multiSha)).toBe(true);
  });

  it("names the action, the server and the reason when the repository or the ref is unknown, and caches nothing", async () => {
    const cache = freshCache(servers[kind].url);
    const repoErr = await cache.ensure(remoteRefOf("acme/nope@v1")).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect(repoErr).toBeInstanceOf(ActionFetchError);
    expect((repoErr as ActionFetchError).reason).toBe("unknown repository");
    expect(repoErr.message).toContain(`acme/nope@v1 from ${servers[kind].url}`);
    const refErr = await cache.ensure(remoteRefOf("acme/hello@v9")).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect((refErr as ActionFetchError).reason).toBe("unknown ref");
    expect(refErr.message).toContain("acme/hello@v9");
    const shaErr = await cache.ensure(remoteRefOf(`acme/hello@${"1".repeat(40)}`)).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect((shaErr as ActionFetchError).reason).toBe("unknown ref");
    expect(listCachedActions(cache.actionsDir)).toEqual([]);
    const repoDir = repoCacheDir(cache.actionsDir, cache.source, remoteRefOf("acme/hello@v9"));
    const left = existsSync(repoDir) ? readdirSync(repoDir).filter((f) => f !== "refs.json") : [];
    expect(left).toEqual([]);
  });
});

describe("the cache", () => {
  it("fetches a commit once for jobs asking at the same time, and serves it offline with the server gone", async () => {
    const url = servers.smart.url;
    const dir = join(root, "shared");
    const before = servers.smart.fetches.get("acme/hello") ?? 0;
    const dirs = await Promise.all(
      Array.from({ length: 4 }, () =>
        new ActionCache(dir, actionSource({ url }, {})).ensure(remoteRefOf("acme/hello@v1")),
      ),
    );
    expect(new Set(dirs).size).toBe(1);
    expect((servers.smart.fetches.get("acme/hello") ?? 0) - before).toBe(1);
    const offline = new ActionCache(dir, actionSource({ url: "http://127.0.0.1:1", offline: true }, {}));
    // The ref index is per server; offline with the same server URL uses it.
    const same = new ActionCache(dir, actionSource({ url, offline: true }, {}));
    expect(await same.ensure(remoteRefOf("acme/hello@v1"))).toBe(dirs[0]);
    const missing = await offline.ensure(remoteRefOf("acme/hello@v1")).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect(missing).toBeInstanceOf(UserError);
    expect(missing.message).toMatch(
      /action acme\/hello@v1 is not in the action cache and slipway is offline/,
    );
  });

  it("takes over a lock its dead owner left and ignores a half-fetched temp dir", async () => {
    const url = servers.smart.url;
    const cache = freshCache(url);
    const repoDir = repoCacheDir(cache.actionsDir, cache.source, remoteRefOf("acme/hello@v1"));
    mkdirSync(join(repoDir, `.tmp-${shas[0].slice(0, 12)}-dead`, "files"), { recursive: true });
    writeFileSync(join(repoDir, `.tmp-${shas[0].slice(0, 12)}-dead`, "files", "action.yml"), "half");
    writeFileSync(join(repoDir, `${shas[0]}.lock`), "nohost 999999999");
    writeFileSync(join(repoDir, `${shas[0]}.lock`), `${(await import("node:os")).hostname()} 999999999`);
    const got = await cache.ensure(remoteRefOf("acme/hello@v1"));
    expect(readFileSync(join(got, "action.yml"), "utf8")).toContain("echo one");
    expect(existsSync(join(repoDir, `${shas[0]}.lock`))).toBe(false);
  });

  it("leaves no entry and no temp dir when the transfer breaks off, and fetches whole next time", async () => {
    const broken = await startSmartHttp(repos, { breakFetches: true });
    const dir = join(root, "broken");
    try {
      const cache = new ActionCache(dir, actionSource({ url: broken.url }, {}));
      const err = await cache.ensure(remoteRefOf("acme/hello@v1")).then(
        () => new Error("no error"),
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(ActionFetchError);
      expect(err.message).toContain(`acme/hello@v1 from ${broken.url}`);
      expect(broken.fetches.get("acme/hello")).toBeGreaterThan(0);
      const repoDir = repoCacheDir(dir, cache.source, remoteRefOf("acme/hello@v1"));
      expect(readdirSync(repoDir).filter((f) => f !== "refs.json")).toEqual([]);
      expect(listCachedActions(dir)).toEqual([]);
    } finally {
      await broken.stop();
    }
    const good = await startSmartHttp(repos, { port: Number(new URL(broken.url).port) });
    try {
      const got = await new ActionCache(dir, actionSource({ url: good.url }, {})).ensure(
        remoteRefOf("acme/hello@v1"),
      );
      expect(readFileSync(join(got, "action.yml"), "utf8")).toContain("echo one");
    } finally {
      await good.stop();
    }
  });

  it("keeps a resolved ref for its TTL, re-resolves it after, and never re-resolves a sha", async () => {
    const name = "acme/moving";
    const [first] = await publishRepo(repos, name, [
      { files: { "action.yml": actionYml("a") }, tags: ["v1"] },
    ]);
    const dir = join(root, "ttl");
    const url = servers.smart.url;
    const long = new ActionCache(dir, actionSource({ url, refTtlMs: 3_600_000 }, {}));
    expect((await long.ensure(remoteRefOf(`${name}@v1`))).endsWith(first)).toBe(true);
    const [second] = await publishRepo(repos, name, [
      { files: { "action.yml": actionYml("b") }, tags: ["v1"] },
    ]);
    const again = new ActionCache(dir, actionSource({ url, refTtlMs: 3_600_000 }, {}));
    expect((await again.ensure(remoteRefOf(`${name}@v1`))).endsWith(first)).toBe(true);
    const expired = new ActionCache(dir, actionSource({ url, refTtlMs: 0 }, {}));
    expect((await expired.ensure(remoteRefOf(`${name}@v1`))).endsWith(second)).toBe(true);
    // The first commit is no longer named by a ref: prune's candidate.
    expect(pruneCandidates(dir, 86_400_000).map((c) => c.entry.sha)).toEqual([first]);
  });

  it("sends a token as an HTTP header through git's environment, and says when it is refused", async () => {
    const token = "s3cr3t-token-value";
    const guarded = await startSmartHttp(repos, { token });
    try {
      const ok = new ActionCache(join(root, "auth"), actionSource({ url: guarded.url, token }, {}));
      await ok.ensure(remoteRefOf("acme/hello@v1"));
      expect(guarded.requests.some((r) => r.authorization?.startsWith("basic "))).toBe(true);
      const refused = new ActionCache(
        join(root, "auth-bad"),
        actionSource({ url: guarded.url, token: "wrong" }, {}),
      );
      const err = await refused.ensure(remoteRefOf("acme/hello@v1")).then(
        () => new Error("no error"),
        (e: Error) => e,
      );
      expect((err as ActionFetchError).reason).toBe("authentication refused");
      expect(err.message).not.toContain("wrong");
      const env = gitEnvFor(actionSource({ url: guarded.url, token }, {}), {});
      expect(env.GIT_CONFIG_COUNT).toBe("3");
      expect(env.GIT_CONFIG_KEY_2).toBe("http.extraHeader");
      expect(Buffer.from(String(env.GIT_CONFIG_VALUE_2).split(" ")[2], "base64").toString()).toBe(
        `x-access-token:${token}`,
      );
    } finally {
      await guarded.stop();
    }
  });

  it("says the server is unreachable when nothing answers", async () => {
    const down = await startSmartHttp(repos);
    await down.stop();
    const cache = freshCache(`http://user:pw@${down.url.slice("http://".length)}`);
    const err = await cache.ensure(remoteRefOf("acme/hello@v1")).then(
      () => new Error("no error"),
      (e: Error) => e,
    );
    expect((err as ActionFetchError).reason).toBe("server unreachable");
    expect(err.message).toContain(`from ${down.url}:`);
    expect(err.message).not.toContain("pw");
  });

  it("refuses references that would leave the cache or reach git as options, before any request", async () => {
    const cache = freshCache(servers.smart.url);
    const seen = servers.smart.requests.length;
    for (const uses of [
      "../../x@main",
      "acme/hello@--upload-pack=touch /tmp/pwned",
      "acme/hello@--upload-pack=/tmp/pwned",
      "acme/hello/..@main",
      "acme/-x@main",
      "acme/hello/a/../..@v1",
    ]) {
      const err = await (async () => cache.ensure(remoteRefOf(uses)))().then(
        () => new Error("no error"),
        (e: Error) => e,
      );
      expect(err, uses).toBeInstanceOf(UserError);
    }
    expect(servers.smart.requests.length).toBe(seen);
    expect(existsSync("/tmp/pwned")).toBe(false);
  });
});
