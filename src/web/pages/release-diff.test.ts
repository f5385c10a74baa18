// What changed between two releases, as releases are recorded (a ReleaseDocument in spec, images per
// service): version, images and digests, services added and removed, spec fields; values stay data.
import { describe, expect, it } from "vitest";
import { type DiffableRelease, diffLines, diffReleases } from "./release-diff.js";

const service = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  runtime: "docker",
  replicas: 1,
  env: { LOG: "info" },
  secrets: [],
  strategy: { type: "rolling", maxSurge: 1 },
  ...extra,
});

const release = (
  number: number,
  version: string | null,
  services: ReturnType<typeof service>[],
  images: DiffableRelease["images"],
  revisions: Record<string, string>,
): DiffableRelease => ({
  number,
  version,
  images,
  strategy: Object.fromEntries(services.map((s) => [s.name, "rolling"])),
  spec: { spec: { app: "shop", maxStarting: 4, services }, revisions, hashes: {}, changed: [] },
});

describe("diffReleases", () => {
  const one = release(
    1,
    "v1.0.0",
    [service("api", { image: "shop/api:1" }), service("worker", { image: "shop/worker:1" })],
    { api: { image: "shop/api:1", digest: "sha256:aaa" }, worker: { image: "shop/worker:1" } },
    { api: "r1", worker: "r1" },
  );
  const two = release(
    2,
    "v1.1.0",
    [
      service("api", { image: "shop/api:2", replicas: 3, env: { LOG: "debug", NEW: "1" } }),
      service("web", { image: "shop/web:1" }),
    ],
    { api: { image: "shop/api:2", digest: "sha256:bbb" }, web: { image: "shop/web:1" } },
    { api: "r2", web: "r2" },
  );

  it("names the version, image and digest changes, services added and removed, and spec fields", () => {
    const d = diffReleases(one, two);
    expect(d).toMatchObject({
      from: 1,
      to: 2,
      version: { from: "v1.0.0", to: "v1.1.0" },
      added: ["web"],
      removed: ["worker"],
      app: [],
    });
    expect(d.services.api).toEqual([
      { path: "image", from: "shop/api:1", to: "shop/api:2" },
      { path: "digest", from: "sha256:aaa", to: "sha256:bbb" },
      { path: "revision", from: "r1", to: "r2" },
      { path: "env.LOG", from: "info", to: "debug" },
      { path: "env.NEW", to: "1" },
      { path: "replicas", from: 1, to: 3 },
    ]);
    expect(diffLines(d)).toEqual([
      "version: v1.0.0 → v1.1.0",
      "+ service web (added)",
      "- service worker (removed)",
      "~ service api:",
      '    image: "shop/api:1" → "shop/api:2"',
      '    digest: "sha256:aaa" → "sha256:bbb"',
      '    revision: "r1" → "r2"',
      '    env.LOG: "info" → "debug"',
      '    env.NEW: (none) → "1"',
      "    replicas: 1 → 3",
    ]);
  });

  it("says nothing changed for the same release, and diffs app-level fields", () => {
    expect(diffLines(diffReleases(one, one))).toEqual(["nothing changed"]);
    const moved = structuredClone(one);
    moved.number = 3;
    (moved.spec as { spec: Record<string, unknown> }).spec.dockerHost = "ssh://deploy@db1";
    expect(diffReleases(one, moved).app).toEqual([{ path: "dockerHost", to: "ssh://deploy@db1" }]);
    // Lists of objects (secrets, volumes, depends_on) are compared item by item.
    const withSecret = structuredClone(one);
    withSecret.number = 5;
    (withSecret.spec as { spec: { services: { secrets: unknown[] }[] } }).spec.services[0].secrets = [
      { name: "DB_URL", key: "db" },
    ];
    expect(diffReleases(one, withSecret).services.api).toEqual([
      { path: "secrets[0].key", to: "db" },
      { path: "secrets[0].name", to: "DB_URL" },
    ]);
  });

  it("works from images alone for a release that recorded no spec", () => {
    const bare = (n: number, image: string): DiffableRelease => ({
      number: n,
      version: null,
      images: { api: { image } },
    });
    expect(diffLines(diffReleases(bare(1, "a:1"), bare(2, "a:2")))).toEqual([
      "~ service api:",
      '    image: "a:1" → "a:2"',
    ]);
  });

  it("keeps markup in values as quoted text", () => {
    const evil = release(
      4,
      '<img src=x onerror="alert(1)">',
      [service("api", { image: "shop/api:1", env: { LOG: "<script>alert(2)</script>" } })],
      { api: { image: "shop/api:1", digest: "sha256:aaa" } },
      { api: "r1" },
    );
    const lines = diffLines(diffReleases(one, evil));
    expect(lines).toContain('version: v1.0.0 → <img src=x onerror="alert(1)">');
    expect(lines).toContain('    env.LOG: "info" → "<script>alert(2)</script>"');
  });
});
