// Tag selection and prune planning are pure: tables of tags, digests and times.
import { describe, expect, it } from "vitest";
import { newestFirst, planPrune, selectLatest, type TagInfo, tagSemver } from "../index.js";

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const t = (tag: string, digest: number, created: string): TagInfo => ({
  tag,
  digest: d(digest),
  created,
  version: tagSemver(tag),
});

const tags: TagInfo[] = [
  t("1.0.0-main", 1, "2026-01-01T00:00:00Z"),
  t("prod", 1, "2026-01-01T00:00:00Z"),
  t("1.1.0-main", 2, "2026-01-02T00:00:00Z"),
  t("1.2.0-feature", 3, "2026-01-03T00:00:00Z"),
  t("1.3.0-main", 4, "2026-01-04T00:00:00Z"),
  t("latest", 4, "2026-01-04T00:00:00Z"),
  t("0.9.0-main", 5, "2026-01-05T00:00:00Z"),
  t("1.1.1-main", 2, "2026-01-02T00:00:00Z"),
];

describe("tag versions", () => {
  it("reads versions from tags", () => {
    expect(tagSemver("1.2.3")).toBe("1.2.3");
    expect(tagSemver("v1.2.3")).toBe("1.2.3");
    expect(tagSemver("1.4.0-main")).toBe("1.4.0-main");
    expect(tagSemver("chat-gateway_1.3.0")).toBe("1.3.0");
    expect(tagSemver("latest")).toBeUndefined();
    expect(tagSemver("2024.1")).toBeUndefined();
  });
});

describe("selectLatest", () => {
  it("by semver or by time, among tags matching a glob", () => {
    expect(selectLatest(tags, { match: "*-main", by: "semver" })?.tag).toBe("1.3.0-main");
    expect(selectLatest(tags, { match: "*-main", by: "time" })?.tag).toBe("0.9.0-main");
    expect(selectLatest(tags, { by: "semver" })?.tag).toBe("1.3.0-main");
    expect(selectLatest(tags, { match: "*-nothing", by: "semver" })).toBeUndefined();
    // Tags of one image tie on time: versions first, then names.
    expect(
      newestFirst(tags, "time")
        .map((x) => x.tag)
        .slice(0, 3),
    ).toEqual(["0.9.0-main", "latest", "1.3.0-main"]);
  });
});

describe("planPrune", () => {
  it("keeps the newest N, never deletes a digest a kept, protected or other tag points to", () => {
    expect(planPrune(tags, { keep: 1, match: "*-main", protect: ["prod"], by: "semver" })).toEqual({
      kept: ["1.3.0-main"],
      protected: ["prod"],
      // 1.1.0-main and 1.1.1-main are one image: deleted together.
      delete: [
        { digest: d(2), tags: ["1.1.1-main", "1.1.0-main"] },
        { digest: d(5), tags: ["0.9.0-main"] },
      ],
      spared: [{ digest: d(1), tags: ["1.0.0-main"], heldBy: ["prod"] }],
      ignored: ["1.2.0-feature", "latest"],
    });
  });

  it("orders by time when asked", () => {
    const plan = planPrune(tags, { keep: 2, match: "*-main", by: "time" });
    expect(plan.kept).toEqual(["0.9.0-main", "1.3.0-main"]);
    // 1.0.0-main's image is also `prod` (not selected): spared.
    expect(plan.delete).toEqual([{ digest: d(2), tags: ["1.1.1-main", "1.1.0-main"] }]);
    expect(plan.spared.map((s) => s.tags)).toEqual([["1.0.0-main"]]);
  });

  it("spares an old tag that shares its image with a kept one", () => {
    const same = [
      t("1.0.0", 7, "2026-01-01T00:00:00Z"),
      t("1.0.1", 7, "2026-01-01T00:00:00Z"),
      t("0.1.0", 8, "2025-01-01T00:00:00Z"),
    ];
    const plan = planPrune(same, { keep: 1, by: "semver" });
    expect(plan.kept).toEqual(["1.0.1"]);
    expect(plan.spared).toEqual([{ digest: d(7), tags: ["1.0.0"], heldBy: ["1.0.1"] }]);
    expect(plan.delete).toEqual([{ digest: d(8), tags: ["0.1.0"] }]);
  });

  it("with keep 0 and protect globs", () => {
    const plan = planPrune(tags, { keep: 0, protect: ["prod", "latest", "1.3.*"], by: "semver" });
    expect(plan.kept).toEqual([]);
    expect(plan.protected).toEqual(["1.3.0-main", "latest", "prod"]);
    expect(plan.delete.map((x) => x.digest).sort()).toEqual([d(2), d(3), d(5)]);
    expect(() => planPrune(tags, { keep: -1, by: "semver" })).toThrow(/--keep/);
  });
});
