// The release plan: from the repository's tags, the commits since the previous release and the merged
// pull request's title to the next version, its tag and its changelog. Pure: no git, no clock, no I/O;
// git.ts reads the inputs and apply.ts creates the tag.
//
// Rules (the README's "Versions" section says the same to users):
// - Tags are read back through the tag template (`v{version}`, `v{version}-{sha7}`, `release-{version}`):
//   a tag that does not match the template is not a release and is silently ignored; one that matches
//   but whose `{version}` is not a valid semver is ignored with a warning. The previous release is the
//   highest semver (prereleases included), not the newest tag by date.
// - The bump comes from markers (`[major]`, `[minor]`, `[patch]`, case-insensitive, configurable) in the
//   PR title or in the title of any commit since the previous release (a GitHub merge commit's title is
//   the PR title on its body's first line); the highest marker wins. With no marker, from conventional
//   commits: `type!:` or a `BREAKING CHANGE:`/`BREAKING-CHANGE:` footer → major, `feat` → minor,
//   `fix`/`perf` → patch; the PR title counts as one more commit. Other types (chore, docs, ci, …) and
//   non-conventional messages release nothing: bump "none", no version, no tag.
// - 0.x (previous major is 0), conventional-changelog's "pre-major" rule: a breaking change bumps minor
//   and a feat bumps patch (fix/perf stay patch), so commits alone never leave 0.x. Markers are taken
//   literally: `[minor]` bumps minor and `[major]` makes 1.0.0.
// - First release (no release tag yet): exactly the initial version (default 0.1.0), bump "initial",
//   whatever the commits say; choose 1.0.0 with `initial`.
// - Prerelease (`prerelease: "rc"`): 1.2.0 + minor → 1.3.0-rc.0; from 1.3.0-rc.0, a change that fits in
//   1.3.0 → 1.3.0-rc.1, a bigger one → 2.0.0-rc.0. A stable plan after a prerelease releases it
//   (1.3.0-rc.1 → 1.3.0) even when nothing releasable was merged since.
import { CommitParser } from "conventional-commits-parser";
import semver from "semver";
import { UserError } from "../lib/errors.js";

export type Bump = "major" | "minor" | "patch" | "none" | "initial";
type Level = "major" | "minor" | "patch";

export type ReleaseCommit = { sha: string; subject: string; body: string; author?: string };
export type Markers = { major: string[]; minor: string[]; patch: string[] };
export type TagVersion = { tag: string; version: string };

export type ReleaseInput = {
  /** Tag names that can be the previous release (git.ts passes the tags merged into `sha`). */
  tags: string[];
  /** The tag template: `{version}` once, optionally `{sha7}`, `{sha}`, `{date}`. */
  template: string;
  /** The commits since the previous release tag, newest first (the whole history when there is none). */
  commits: ReleaseCommit[];
  /** The commit to release (40 hex). */
  sha: string;
  /** The commit date of `sha` as YYYY-MM-DD, for `{date}`. */
  date?: string;
  prTitle?: string;
  prNumber?: number;
  /** https://host/owner/name, for PR links in the changelog. */
  repoUrl?: string;
  markers?: Partial<Markers>;
  /** The first release's version (default 0.1.0). */
  initialVersion?: string;
  /** A prerelease identifier such as `rc` or `beta`. */
  prerelease?: string;
};

export type ReleasePlan = {
  previous: TagVersion | null;
  bump: Bump;
  /** null when there is nothing to release (bump "none"). */
  version: string | null;
  tag: string | null;
  sha: string;
  changelog: string;
  warnings: string[];
  /** Why this bump: the markers or commits that decided it. */
  reasons: string[];
};

export const defaultTemplate = "v{version}";
export const defaultInitialVersion = "0.1.0";
export const defaultMarkers: Markers = { major: ["[major]"], minor: ["[minor]"], patch: ["[patch]"] };

const levels = ["major", "minor", "patch"] as const;
const rank: Record<Level | "none", number> = { none: 0, patch: 1, minor: 2, major: 3 };

// ---------------------------------------------------------------------------------------------------
// Tag templates

const placeholderPatterns: Record<string, string> = {
  // Lazy, so `v{version}-{sha7}` reads `v1.2.0-rc.1-5e15f0a` as 1.2.0-rc.1; validated with semver after.
  version: "(.+?)",
  sha7: "[0-9a-f]{7}",
  sha: "[0-9a-f]{40}",
  date: "\\d{4}-\\d{2}-\\d{2}",
};

export type TagTemplate = {
  source: string;
  /** Matches a tag made from this template; group 1 is the version. */
  pattern: RegExp;
  render(values: { version: string; sha: string; date?: string }): string;
};

/** Parses and validates a tag template; a UserError when it cannot make valid, parseable tags. */
export function parseTagTemplate(template: string): TagTemplate {
  const parts = template.split(/(\{[^{}]*\})/);
  let versions = 0;
  let regex = "";
  for (const part of parts) {
    const name = /^\{(.*)\}$/.exec(part)?.[1];
    if (name === undefined) {
      if (/[{}]/.test(part)) throw new UserError(`tag template '${template}': unbalanced '{' or '}'`);
      regex += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (Object.hasOwn(placeholderPatterns, name)) {
      if (name === "version") versions++;
      regex += placeholderPatterns[name];
    } else {
      throw new UserError(
        `tag template '${template}': unknown placeholder {${name}} (use {version}, {sha7}, {sha} or {date})`,
      );
    }
  }
  if (versions !== 1)
    throw new UserError(`tag template '${template}' must contain {version} exactly once (e.g. v{version})`);
  const render = (values: { version: string; sha: string; date?: string }) =>
    template.replace(/\{(version|sha7|sha|date)\}/g, (_, name: string) => {
      if (name === "version") return values.version;
      if (name === "sha7") return values.sha.slice(0, 7);
      if (name === "sha") return values.sha;
      if (values.date === undefined)
        throw new UserError(`tag template '${template}' uses {date}, but no date is known`);
      return values.date;
    });
  const sample = render({ version: "1.2.3-rc.1", sha: "0".repeat(40), date: "2000-01-01" });
  if (!isValidTagName(sample))
    throw new UserError(`tag template '${template}' does not make a valid git tag name (e.g. '${sample}')`);
  return { source: template, pattern: new RegExp(`^${regex}$`), render };
}

/** git check-ref-format's rules for `refs/tags/<name>`. */
export function isValidTagName(name: string): boolean {
  if (name === "" || name === "@") return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  if (name.includes("..") || name.includes("@{") || name.includes("//")) return false;
  if (name.startsWith("/") || name.endsWith("/") || name.endsWith(".")) return false;
  return name.split("/").every((c) => !c.startsWith(".") && !c.endsWith(".lock"));
}

/** The previous release: the tag with the highest semver among those the template made. */
export function findPreviousRelease(
  tags: string[],
  template: string | TagTemplate,
): { previous: TagVersion | null; warnings: string[] } {
  const t = typeof template === "string" ? parseTagTemplate(template) : template;
  const warnings: string[] = [];
  const releases: TagVersion[] = [];
  for (const tag of [...tags].sort()) {
    const m = t.pattern.exec(tag);
    if (!m) continue;
    // Exactly as written: semver.valid() would also accept `v1.2.3` or `=1.2.3` and return `1.2.3`.
    if (semver.valid(m[1]) !== m[1]) {
      warnings.push(`tag ${tag} ignored: '${m[1]}' is not a semver version`);
      continue;
    }
    releases.push({ tag, version: m[1] });
  }
  releases.sort((a, b) => semver.rcompare(a.version, b.version) || (a.tag < b.tag ? -1 : 1));
  const [previous = null, second] = releases;
  if (previous && second && semver.eq(previous.version, second.version)) {
    const same = releases.filter((r) => semver.eq(r.version, previous.version)).map((r) => r.tag);
    warnings.push(`version ${previous.version} has several tags (${same.join(", ")}); using ${previous.tag}`);
  }
  return { previous, warnings };
}

// ---------------------------------------------------------------------------------------------------
// Markers

/**
 * `major:[breaking], minor:[feature]` (commas or newlines between entries) → markers; a level given
 * replaces its defaults, the others keep them.
 */
export function parseMarkers(spec: string): Markers {
  const out: Markers = { major: [], minor: [], patch: [] };
  const given = new Set<Level>();
  for (const entry of spec.split(/[,\n]/)) {
    const e = entry.trim();
    if (e === "") continue;
    const colon = e.indexOf(":");
    const level = e.slice(0, Math.max(colon, 0)).trim().toLowerCase();
    const marker = e.slice(colon + 1).trim();
    if (colon < 0 || !(levels as readonly string[]).includes(level) || marker === "")
      throw new UserError(
        `markers '${spec}': expected entries like major:[major], minor:[minor], patch:[patch]`,
      );
    given.add(level as Level);
    out[level as Level].push(marker);
  }
  for (const l of levels) if (!given.has(l)) out[l] = [...defaultMarkers[l]];
  return out;
}

function markerLevel(text: string, markers: Markers): { level: Level; marker: string } | undefined {
  const lower = text.toLowerCase();
  for (const level of levels) {
    const marker = markers[level].find((m) => m !== "" && lower.includes(m.toLowerCase()));
    if (marker) return { level, marker };
  }
  return undefined;
}

function stripMarkers(text: string, markers: Markers): string {
  let out = text;
  for (const m of [...markers.major, ...markers.minor, ...markers.patch]) {
    if (m === "") continue;
    out = out.replace(new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi"), "");
  }
  return out.replace(/\s{2,}/g, " ").trim();
}

// ---------------------------------------------------------------------------------------------------
// Commits

const githubMerge = /^Merge pull request #(\d+) from \S+/;
const otherMerge = /^Merge (?:branch|remote-tracking branch|tag|commit) /;
const prSuffix = /\s*\(#(\d+)\)$/;

/** A commit's title and PR: a GitHub merge commit's title is its body's first line (the PR title). */
export function describeCommit(commit: ReleaseCommit): {
  title: string;
  message: string;
  pr?: number;
  merge: "pull-request" | "other" | false;
} {
  const gh = githubMerge.exec(commit.subject);
  if (gh) {
    const lines = commit.body.replace(/^\s+/, "").split("\n");
    return {
      title: lines[0].trim(),
      message: lines.join("\n").trim(),
      pr: Number(gh[1]),
      merge: "pull-request",
    };
  }
  const squash = prSuffix.exec(commit.subject);
  const message = commit.body.trim() === "" ? commit.subject : `${commit.subject}\n\n${commit.body.trim()}`;
  return {
    title: commit.subject,
    message,
    pr: squash ? Number(squash[1]) : undefined,
    merge: otherMerge.test(commit.subject) ? "other" : false,
  };
}

type Analyzed = {
  sha7: string;
  /** The commit's title without a `(#12)` suffix, to recognise the PR title's own commit. */
  title: string;
  type: string | null;
  scope: string | null;
  subject: string;
  breaking: string | null;
  pr?: number;
  marker?: { level: Level; marker: string };
};

const parser = new CommitParser({ breakingHeaderPattern: /^(\w*)(?:\((.*)\))?!: (.*)$/ });

function analyze(message: string, markers: Markers): Omit<Analyzed, "sha7" | "title" | "pr"> {
  const [first, ...rest] = message.split("\n");
  const marker = markerLevel(first, markers);
  const header = stripMarkers(first, markers).replace(prSuffix, "");
  if (header === "") return { type: null, scope: null, subject: first.trim(), breaking: null, marker };
  const c = parser.parse([header, ...rest].join("\n"));
  const note = c.notes.find((n) => /^BREAKING[ -]CHANGE$/i.test(n.title));
  const conventional = typeof c.type === "string" && c.type !== "" && typeof c.subject === "string";
  return {
    type: conventional ? (c.type as string).toLowerCase() : null,
    scope: conventional ? (c.scope ?? null) : null,
    subject: conventional ? (c.subject as string) : header,
    breaking: note ? note.text.trim() || (c.subject ?? header) : null,
    marker,
  };
}

function commitLevel(a: Pick<Analyzed, "type" | "breaking">, zeroMajor: boolean): Level | "none" {
  if (a.breaking !== null) return zeroMajor ? "minor" : "major";
  if (a.type === "feat") return zeroMajor ? "patch" : "minor";
  if (a.type === "fix" || a.type === "perf") return "patch";
  return "none";
}

// ---------------------------------------------------------------------------------------------------
// Changelog

const groups = [
  ["Breaking changes", (a: Analyzed) => a.breaking !== null],
  ["Features", (a: Analyzed) => a.type === "feat"],
  ["Bug fixes", (a: Analyzed) => a.type === "fix"],
  ["Performance", (a: Analyzed) => a.type === "perf"],
  ["Other", () => true],
] as const;

function renderChangelog(entries: Analyzed[], repoUrl: string | undefined): string {
  const sections: string[] = [];
  const left = new Set(entries);
  for (const [heading, test] of groups) {
    const lines: string[] = [];
    for (const a of entries) {
      if (!left.has(a) || !test(a)) continue;
      left.delete(a);
      // In "Other" the type stays: `docs: fix a typo` is not a bug fix.
      const type = heading === "Other" && a.type ? a.type : "";
      const scope = type && a.scope ? `${type}(${a.scope}): ` : type || a.scope ? `${type || a.scope}: ` : "";
      const pr = a.pr === undefined ? "" : repoUrl ? ` ([#${a.pr}](${repoUrl}/pull/${a.pr}))` : ` (#${a.pr})`;
      lines.push(`- ${scope}${a.subject} (${a.sha7})${pr}`);
      if (a.breaking && a.breaking !== a.subject) lines.push(`  - ${a.breaking.split(/\s*\n\s*/).join(" ")}`);
    }
    if (lines.length) sections.push(`### ${heading}\n\n${lines.join("\n")}\n`);
  }
  return sections.join("\n");
}

// ---------------------------------------------------------------------------------------------------
// The plan

function nextVersion(previous: string, bump: Level, prerelease: string | undefined): string {
  if (prerelease === undefined) return semver.inc(previous, bump)!;
  const p = semver.parse(previous)!;
  if (p.prerelease.length === 0) return semver.inc(previous, `pre${bump}`, prerelease)!;
  // A prerelease of 1.3.0 already carries any minor or patch change since 1.2.x.
  const fits =
    bump === "patch" ||
    (bump === "minor" && p.patch === 0) ||
    (bump === "major" && p.minor === 0 && p.patch === 0);
  return semver.inc(previous, fits ? "prerelease" : `pre${bump}`, prerelease)!;
}

function validatePrerelease(id: string | undefined): string | undefined {
  if (id === undefined || id === "") return undefined;
  if (!/^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/.test(id))
    throw new UserError(`prerelease '${id}': use letters, digits and hyphens, like rc or beta`);
  return id;
}

export function planRelease(input: ReleaseInput): ReleasePlan {
  const template = parseTagTemplate(input.template);
  const initial = input.initialVersion ?? defaultInitialVersion;
  if (semver.valid(initial) === null)
    throw new UserError(`initial version '${initial}' is not a semver version (e.g. 0.1.0 or 1.0.0)`);
  const prerelease = validatePrerelease(input.prerelease);
  if (!/^[0-9a-f]{40}$/.test(input.sha)) throw new UserError(`'${input.sha}' is not a full commit sha`);
  const markers: Markers = { ...defaultMarkers, ...input.markers };
  const { previous, warnings } = findPreviousRelease(input.tags, template);
  const zeroMajor = previous !== null && semver.major(previous.version) === 0;

  // Commits: analysed for the bump and the changelog; plain `Merge branch` commits carry nothing.
  const entries: Analyzed[] = [];
  input.commits.forEach((commit, i) => {
    const d = describeCommit(commit);
    if (d.merge === "other") return;
    const a = analyze(d.merge === "pull-request" ? d.message || d.title : d.message, markers);
    const pr = d.pr ?? (i === 0 ? input.prNumber : undefined);
    entries.push({ ...a, sha7: commit.sha.slice(0, 7), title: d.title.replace(prSuffix, "").trim(), pr });
  });

  // Markers first (PR title, then commit titles), the highest wins; then conventional commits. The
  // commit that is the PR itself (squash or merge) is not counted twice.
  let level: Level | "none" = "none";
  let reasons: string[] = [];
  const raise = (l: Level | "none", reason: string) => {
    if (rank[l] > rank[level]) {
      level = l;
      reasons = [reason];
    } else if (l !== "none" && l === level) reasons.push(reason);
  };
  const prTitle = input.prTitle?.replace(prSuffix, "").trim() || undefined;
  const prCommit = prTitle === undefined ? undefined : entries.find((a) => a.title === prTitle);
  const prMarker = prTitle ? markerLevel(prTitle, markers) : undefined;
  if (prMarker) raise(prMarker.level, `${prMarker.marker} marker in PR title`);
  for (const a of entries)
    if (a.marker && a !== prCommit) raise(a.marker.level, `${a.marker.marker} marker in ${a.sha7}`);
  if (level === "none") {
    const kind = (a: Pick<Analyzed, "type" | "breaking">) =>
      a.breaking !== null ? "breaking change" : a.type;
    if (prTitle && !prCommit) {
      const a = analyze(prTitle, markers);
      raise(commitLevel(a, zeroMajor), `${kind(a)} in PR title`);
    }
    for (const a of entries) raise(commitLevel(a, zeroMajor), `${kind(a)} in ${a.sha7}`);
    if (zeroMajor && reasons.some((r) => r.startsWith("breaking change")))
      reasons.push("0.x: a breaking change bumps minor");
    else if (zeroMajor && reasons.some((r) => r.startsWith("feat"))) reasons.push("0.x: a feat bumps patch");
  }

  const changelog = renderChangelog(entries, input.repoUrl?.replace(/\/+$/, ""));
  const plan = (bump: Bump, version: string | null, why: string[]): ReleasePlan => ({
    previous,
    bump,
    version,
    tag: version === null ? null : template.render({ version, sha: input.sha, date: input.date }),
    sha: input.sha,
    changelog: version === null ? "" : changelog,
    warnings,
    reasons: why,
  });

  if (previous === null) {
    const version =
      prerelease && semver.prerelease(initial) === null
        ? `${initial}-${prerelease}.0`
        : semver.valid(initial)!;
    return plan("initial", version, [`first release: no tag matches '${input.template}'`]);
  }
  if (level === "none") {
    if (prerelease === undefined && semver.prerelease(previous.version) !== null)
      return plan("patch", semver.inc(previous.version, "patch"), [
        `releases prerelease ${previous.version}`,
      ]);
    const n = input.commits.length;
    const why =
      n === 0
        ? `no commits since ${previous.tag}`
        : `nothing to release since ${previous.tag}: ${n} commit${n > 1 ? "s" : ""}, no marker, feat, fix, perf or breaking change`;
    return plan("none", null, [why]);
  }
  const version = nextVersion(previous.version, level, prerelease);
  if (!semver.gt(version, previous.version))
    throw new UserError(
      `prerelease '${prerelease}' would make ${version}, which is not above ${previous.version}; use a later identifier`,
    );
  return plan(level, version, reasons);
}

/** One line for people: `v1.3.0-5e15f0a (minor from v1.2.0: [minor] marker in PR title)`. */
export function summarizePlan(plan: ReleasePlan): string {
  const shown = plan.reasons.slice(0, 3).join(", ");
  const more = plan.reasons.length > 3 ? ` and ${plan.reasons.length - 3} more` : "";
  if (plan.tag === null) return `no release (${shown}${more})`;
  if (plan.previous === null) return `${plan.tag} (first release)`;
  return `${plan.tag} (${plan.bump} from ${plan.previous.tag}: ${shown}${more})`;
}
