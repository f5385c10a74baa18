import { describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import {
  describeCommit,
  findPreviousRelease,
  isValidTagName,
  parseMarkers,
  parseTagTemplate,
  planRelease,
  type ReleaseCommit,
  type ReleaseInput,
  summarizePlan,
} from "./plan.js";

const head = "5e15f0a9c3b2d1e0f9a8b7c6d5e4f3a2b1c0d9e8";
function c(subject: string, body = ""): ReleaseCommit {
  return { sha: "", subject, body };
}

/** Plans with defaults; the commits get recognisable shas by position: c000001…, c000002…, … */
function plan(input: Partial<ReleaseInput>) {
  const commits = (input.commits ?? []).map((commit, i) => ({
    ...commit,
    sha: `c${String(i + 1).padStart(6, "0")}${"0".repeat(33)}`,
  }));
  return planRelease({ tags: ["v1.2.0"], template: "v{version}", sha: head, ...input, commits });
}

type Case = {
  name: string;
  input: Partial<ReleaseInput>;
  bump: string;
  version: string | null;
  tag?: string | null;
  reasons?: string[];
};

const cases: Case[] = [
  // markers
  {
    name: "[minor] marker in the PR title",
    input: { prTitle: "[minor] add read receipts", commits: [c("add read receipts")] },
    bump: "minor",
    version: "1.3.0",
    reasons: ["[minor] marker in PR title"],
  },
  {
    name: "markers are case-insensitive",
    input: { prTitle: "Drop the v1 API [MAJOR]", commits: [c("drop v1")] },
    bump: "major",
    version: "2.0.0",
  },
  {
    name: "a marker wins over conventional commits",
    input: { prTitle: "[patch] small things", commits: [c("feat: a feature"), c("feat!: a break")] },
    bump: "patch",
    version: "1.2.1",
    reasons: ["[patch] marker in PR title"],
  },
  {
    name: "a marker in a commit title counts without a PR title",
    input: { commits: [c("[minor] add read receipts"), c("fix: typo")] },
    bump: "minor",
    version: "1.3.0",
    reasons: ["[minor] marker in c000001"],
  },
  {
    name: "the highest marker wins, across the PR title and the commits",
    input: { prTitle: "[patch] fix", commits: [c("[patch] fix"), c("[major] new storage")] },
    bump: "major",
    version: "2.0.0",
    reasons: ["[major] marker in c000002"],
  },
  {
    name: "a GitHub merge commit's PR title carries its marker",
    input: { commits: [c("Merge pull request #7 from me/receipts", "[minor] add read receipts"), c("wip")] },
    bump: "minor",
    version: "1.3.0",
  },
  {
    name: "configured markers replace the defaults of their level",
    input: {
      prTitle: "add receipts #feature [minor]",
      markers: { minor: ["#feature"], major: ["#breaking"] },
      commits: [c("x")],
    },
    bump: "minor",
    version: "1.3.0",
    reasons: ["#feature marker in PR title"],
  },
  {
    name: "a replaced default marker is plain text",
    input: { prTitle: "[major] not a marker", markers: { major: ["#breaking"] }, commits: [c("chore: x")] },
    bump: "none",
    version: null,
  },
  // conventional commits
  {
    name: "feat → minor",
    input: { commits: [c("fix: a"), c("feat(ui): b"), c("chore: c")] },
    bump: "minor",
    version: "1.3.0",
    reasons: ["feat in c000002"],
  },
  { name: "fix → patch", input: { commits: [c("fix: a"), c("docs: b")] }, bump: "patch", version: "1.2.1" },
  { name: "perf → patch", input: { commits: [c("perf(db): faster")] }, bump: "patch", version: "1.2.1" },
  {
    name: "feat! → major",
    input: { commits: [c("feat!: drop v1"), c("fix: x")] },
    bump: "major",
    version: "2.0.0",
  },
  {
    name: "fix(scope)! → major",
    input: { commits: [c("fix(api)!: strict")] },
    bump: "major",
    version: "2.0.0",
  },
  {
    name: "a BREAKING CHANGE footer → major",
    input: { commits: [c("refactor: storage", "Rewritten.\n\nBREAKING CHANGE: the v1 format is gone")] },
    bump: "major",
    version: "2.0.0",
    reasons: ["breaking change in c000001"],
  },
  {
    name: "a BREAKING-CHANGE footer → major",
    input: { commits: [c("feat: x", "BREAKING-CHANGE: y")] },
    bump: "major",
    version: "2.0.0",
  },
  {
    name: "the PR title counts as a conventional commit",
    input: { prTitle: "feat: read receipts", commits: [c("wip"), c("more wip")] },
    bump: "minor",
    version: "1.3.0",
    reasons: ["feat in PR title"],
  },
  {
    name: "the squash commit of the PR is not counted twice",
    input: { prTitle: "feat: read receipts", prNumber: 12, commits: [c("feat: read receipts (#12)")] },
    bump: "minor",
    version: "1.3.0",
    reasons: ["feat in c000001"],
  },
  {
    name: "plain merge commits carry nothing",
    input: { commits: [c("Merge branch 'feat: x' into main"), c("chore: y")] },
    bump: "none",
    version: null,
  },
  // nothing releasable
  {
    name: "only chores, docs and other messages: no release",
    input: { commits: [c("chore: deps"), c("docs: readme"), c("Update things")] },
    bump: "none",
    version: null,
    tag: null,
    reasons: ["nothing to release since v1.2.0: 3 commits, no marker, feat, fix, perf or breaking change"],
  },
  {
    name: "no commits: no release",
    input: {},
    bump: "none",
    version: null,
    reasons: ["no commits since v1.2.0"],
  },
  // 0.x
  {
    name: "0.x: feat → patch",
    input: { tags: ["v0.3.1"], commits: [c("feat: x")] },
    bump: "patch",
    version: "0.3.2",
    reasons: ["feat in c000001", "0.x: a feat bumps patch"],
  },
  {
    name: "0.x: breaking → minor",
    input: { tags: ["v0.3.1"], commits: [c("feat!: x"), c("feat: y")] },
    bump: "minor",
    version: "0.4.0",
    reasons: ["breaking change in c000001", "0.x: a breaking change bumps minor"],
  },
  {
    name: "0.x: fix → patch",
    input: { tags: ["v0.3.1"], commits: [c("fix: x")] },
    bump: "patch",
    version: "0.3.2",
  },
  {
    name: "0.x: [minor] is minor",
    input: { tags: ["v0.3.1"], prTitle: "[minor] x", commits: [c("x")] },
    bump: "minor",
    version: "0.4.0",
  },
  {
    name: "0.x: [major] makes 1.0.0",
    input: { tags: ["v0.3.1"], prTitle: "[major] stable API", commits: [c("x")] },
    bump: "major",
    version: "1.0.0",
  },
  // first release
  {
    name: "no release tag: the initial version, whatever the commits",
    input: { tags: ["latest"], commits: [c("chore: init")] },
    bump: "initial",
    version: "0.1.0",
    tag: "v0.1.0",
    reasons: ["first release: no tag matches 'v{version}'"],
  },
  {
    name: "no release tag: a chosen initial version",
    input: { tags: [], initialVersion: "1.0.0", prTitle: "[major] x", commits: [c("feat!: x")] },
    bump: "initial",
    version: "1.0.0",
  },
  {
    name: "no release tag, prerelease: the initial version's first prerelease",
    input: { tags: [], prerelease: "rc", commits: [c("x")] },
    bump: "initial",
    version: "0.1.0-rc.0",
  },
  // templates
  {
    name: "v{version}-{sha7}: reads v1.2.0-<sha7> and writes v1.3.0-<sha7>",
    input: {
      tags: ["v1.2.0-1a2b3c4", "v1.2.1-aaaaaaa", "v1.1.0"],
      template: "v{version}-{sha7}",
      prTitle: "[minor] add read receipts",
      commits: [c("x")],
    },
    bump: "minor",
    version: "1.3.0",
    tag: "v1.3.0-5e15f0a",
  },
  {
    name: "v{version}-{sha7}: a prerelease version in the tag",
    input: {
      tags: ["v1.3.0-rc.1-1a2b3c4"],
      template: "v{version}-{sha7}",
      prerelease: "rc",
      commits: [c("fix: x")],
    },
    bump: "patch",
    version: "1.3.0-rc.2",
    tag: "v1.3.0-rc.2-5e15f0a",
  },
  {
    name: "release-{version}",
    input: { tags: ["release-2.0.0", "v9.0.0"], template: "release-{version}", commits: [c("fix: x")] },
    bump: "patch",
    version: "2.0.1",
    tag: "release-2.0.1",
  },
  {
    name: "{sha} and {date}",
    input: {
      tags: [`rel/1.0.0/2024-01-31/${"a".repeat(40)}`],
      template: "rel/{version}/{date}/{sha}",
      date: "2024-05-01",
      commits: [c("feat: x")],
    },
    bump: "minor",
    version: "1.1.0",
    tag: `rel/1.1.0/2024-05-01/${head}`,
  },
  // the previous release
  {
    name: "the highest semver wins, not the last in name order",
    input: { tags: ["v1.9.0", "v1.10.0", "v1.2.0"], commits: [c("fix: x")] },
    bump: "patch",
    version: "1.10.1",
  },
  // prereleases
  {
    name: "prerelease from a release: premajor/preminor/prepatch",
    input: { prerelease: "rc", commits: [c("feat: x")] },
    bump: "minor",
    version: "1.3.0-rc.0",
  },
  {
    name: "prerelease: a change that fits the coming version",
    input: { tags: ["v1.2.0", "v1.3.0-rc.0"], prerelease: "rc", commits: [c("feat: x")] },
    bump: "minor",
    version: "1.3.0-rc.1",
  },
  {
    name: "prerelease: a bigger change starts the next version",
    input: { tags: ["v1.3.0-rc.1"], prerelease: "rc", commits: [c("feat!: x")] },
    bump: "major",
    version: "2.0.0-rc.0",
  },
  {
    name: "prerelease: beta → rc of the same version",
    input: { tags: ["v1.3.0-beta.2"], prerelease: "rc", commits: [c("fix: x")] },
    bump: "patch",
    version: "1.3.0-rc.0",
  },
  {
    name: "a stable plan after a prerelease releases it",
    input: { tags: ["v1.2.0", "v1.3.0-rc.1"], commits: [c("chore: x")] },
    bump: "patch",
    version: "1.3.0",
    reasons: ["releases prerelease 1.3.0-rc.1"],
  },
  {
    name: "a stable plan after a prerelease, with a feat",
    input: { tags: ["v1.3.0-rc.1"], commits: [c("feat: x")] },
    bump: "minor",
    version: "1.3.0",
  },
];

describe("planRelease", () => {
  it.each(cases)("$name", ({ input, bump, version, tag, reasons }) => {
    const p = plan(input);
    expect(p.bump).toBe(bump);
    expect(p.version).toBe(version);
    if (tag !== undefined) expect(p.tag).toBe(tag);
    if (version === null) {
      expect(p.tag).toBeNull();
      expect(p.changelog).toBe("");
    }
    if (reasons) expect(p.reasons).toEqual(reasons);
  });

  it("ignores tags outside the template silently and warns about non-semver ones", () => {
    const p = plan({
      tags: ["latest", "deploy-1", "v1.2.0", "vnext", "v1.2", "v01.2.3", "v1.5.0x"],
      commits: [c("fix: x")],
    });
    expect(p.previous).toEqual({ tag: "v1.2.0", version: "1.2.0" });
    expect(p.version).toBe("1.2.1");
    expect(p.warnings).toEqual([
      "tag v01.2.3 ignored: '01.2.3' is not a semver version",
      "tag v1.2 ignored: '1.2' is not a semver version",
      "tag v1.5.0x ignored: '1.5.0x' is not a semver version",
      "tag vnext ignored: 'next' is not a semver version",
    ]);
  });

  it("a version must be written exactly: {version} does not read v1.2.3", () => {
    const p = plan({ tags: ["v1.2.3", "1.0.0"], template: "{version}", commits: [c("fix: x")] });
    expect(p.previous?.tag).toBe("1.0.0");
    expect(p.warnings).toEqual(["tag v1.2.3 ignored: 'v1.2.3' is not a semver version"]);
  });

  it("warns when one version has several tags", () => {
    const p = plan({
      tags: ["v1.2.0-bbbbbbb", "v1.2.0-aaaaaaa"],
      template: "v{version}-{sha7}",
      commits: [c("fix: x")],
    });
    expect(p.previous?.tag).toBe("v1.2.0-aaaaaaa");
    expect(p.warnings).toEqual([
      "version 1.2.0 has several tags (v1.2.0-aaaaaaa, v1.2.0-bbbbbbb); using v1.2.0-aaaaaaa",
    ]);
  });

  it.each([
    ["", /must contain \{version\} exactly once/],
    ["release", /must contain \{version\} exactly once/],
    ["v{version}-{version}", /exactly once/],
    ["v{version}-{build}", /unknown placeholder \{build\}/],
    ["v{version", /unbalanced/],
    ["v {version}", /not make a valid git tag name/],
    ["v{version}..x", /not make a valid git tag name/],
    ["v{version}.lock", /not make a valid git tag name/],
    ["/v{version}", /not make a valid git tag name/],
  ])("rejects the template %j", (template, message) => {
    expect(() => plan({ template })).toThrow(UserError);
    expect(() => plan({ template })).toThrow(message);
  });

  it("rejects a bad initial version, prerelease identifier or sha", () => {
    expect(() => plan({ tags: [], initialVersion: "1.0" })).toThrow(/initial version '1.0' is not a semver/);
    expect(() => plan({ prerelease: "rc 1" })).toThrow(UserError);
    expect(() => plan({ sha: "HEAD" })).toThrow(/not a full commit sha/);
  });

  it("refuses a prerelease that would go backwards", () => {
    expect(() => plan({ tags: ["v1.3.0-rc.1"], prerelease: "beta", commits: [c("fix: x")] })).toThrow(
      "prerelease 'beta' would make 1.3.0-beta.0, which is not above 1.3.0-rc.1; use a later identifier",
    );
  });

  it("needs a date for {date}", () => {
    expect(() => plan({ template: "{version}-{date}", tags: [] })).toThrow(
      /uses \{date\}, but no date is known/,
    );
  });
});

describe("changelog", () => {
  it("groups by type, with scopes, short shas and PR links", () => {
    const p = plan({
      repoUrl: "https://github.com/octo/chat/",
      commits: [
        c("Merge pull request #14 from octo/receipts", "feat(chat): read receipts\n\nShows who read what."),
        c("feat(chat): read receipts"),
        c("fix: crash on empty message (#13)"),
        c("perf(db): index messages"),
        c("refactor(store)!: drop the v1 format"),
        c("feat: new wire format", "BREAKING CHANGE: clients before 2.0\nmust upgrade"),
        c("docs: fix a typo"),
        c("Merge branch 'main' into receipts"),
        c("[minor] Update the logo"),
      ],
    });
    expect(p.bump).toBe("minor"); // the marker wins over the breaking changes
    expect(p.changelog).toBe(
      [
        "### Breaking changes",
        "",
        "- store: drop the v1 format (c000005)",
        "- new wire format (c000006)",
        "  - clients before 2.0 must upgrade",
        "",
        "### Features",
        "",
        "- chat: read receipts (c000001) ([#14](https://github.com/octo/chat/pull/14))",
        "- chat: read receipts (c000002)",
        "",
        "### Bug fixes",
        "",
        "- crash on empty message (c000003) ([#13](https://github.com/octo/chat/pull/13))",
        "",
        "### Performance",
        "",
        "- db: index messages (c000004)",
        "",
        "### Other",
        "",
        "- docs: fix a typo (c000007)",
        "- Update the logo (c000009)",
        "",
      ].join("\n"),
    );
  });

  it("links the known PR number to the newest commit; without a repository URL, plain #n", () => {
    const p = plan({
      prTitle: "[minor] receipts",
      prNumber: 12,
      commits: [c("receipts"), c("fix: x (#11)")],
    });
    expect(p.changelog).toBe(
      "### Bug fixes\n\n- x (c000002) (#11)\n\n### Other\n\n- receipts (c000001) (#12)\n",
    );
  });
});

describe("describeCommit", () => {
  it("reads GitHub merge and squash commits", () => {
    expect(
      describeCommit({
        sha: head,
        subject: "Merge pull request #12 from x/y",
        body: "\n[minor] add receipts\n\nmore",
      }),
    ).toEqual({
      title: "[minor] add receipts",
      message: "[minor] add receipts\n\nmore",
      pr: 12,
      merge: "pull-request",
    });
    expect(describeCommit({ sha: head, subject: "add receipts (#12)", body: "" })).toMatchObject({
      title: "add receipts (#12)",
      pr: 12,
      merge: false,
    });
    expect(describeCommit({ sha: head, subject: "Merge branch 'x'", body: "" }).merge).toBe("other");
  });
});

describe("templates and markers", () => {
  it("parses tags back through a template", () => {
    const t = parseTagTemplate("v{version}-{sha7}");
    expect(t.pattern.exec("v1.2.0-5e15f0a")?.[1]).toBe("1.2.0");
    expect(t.pattern.exec("v1.2.0-rc.1-5e15f0a")?.[1]).toBe("1.2.0-rc.1");
    expect(t.pattern.exec("v1.2.0")).toBeNull();
    expect(t.pattern.exec("v1.2.0-5E15F0A")).toBeNull();
    expect(t.render({ version: "1.3.0", sha: head })).toBe("v1.3.0-5e15f0a");
    expect(findPreviousRelease(["v1.2.0-5e15f0a", "v1.10.0-aaaaaaa", "v1.9.9-bbbbbbb"], t).previous).toEqual({
      tag: "v1.10.0-aaaaaaa",
      version: "1.10.0",
    });
  });

  it("checks tag names like git check-ref-format", () => {
    for (const ok of ["v1.2.3", "release/1.2.3", "v1.2.3+build.5", "v1.2.3-rc.1"])
      expect(isValidTagName(ok)).toBe(true);
    for (const bad of [
      "",
      "@",
      "v1 2",
      "v1..2",
      "v1~2",
      "v1^2",
      "a:b",
      "a?",
      "a*",
      "a[",
      "a\\b",
      ".v1",
      "a/.b",
      "a.lock",
      "a/",
      "a.",
      "a@{b",
      "a//b",
    ])
      expect(isValidTagName(bad)).toBe(false);
  });

  it("parses marker specs", () => {
    expect(parseMarkers("major:[breaking], minor:[feature]\nminor: #feat")).toEqual({
      major: ["[breaking]"],
      minor: ["[feature]", "#feat"],
      patch: ["[patch]"],
    });
    expect(() => parseMarkers("huge:[x]")).toThrow(UserError);
    expect(() => parseMarkers("[major]")).toThrow(UserError);
  });

  it("summarizes a plan in one line", () => {
    expect(summarizePlan(plan({ prTitle: "[minor] x", commits: [c("x")] }))).toBe(
      "v1.3.0 (minor from v1.2.0: [minor] marker in PR title)",
    );
    expect(
      summarizePlan(plan({ commits: [c("fix: a"), c("fix: b"), c("fix: c"), c("fix: d"), c("fix: e")] })),
    ).toBe("v1.2.1 (patch from v1.2.0: fix in c000001, fix in c000002, fix in c000003 and 2 more)");
    expect(summarizePlan(plan({ tags: [] }))).toBe("v0.1.0 (first release)");
    expect(summarizePlan(plan({}))).toBe("no release (no commits since v1.2.0)");
  });
});
