import { describe, expect, test } from "vitest";
import { UserError } from "../lib/errors.js";
import { compileFilterPattern, matchesAnyFilter } from "./filters.js";

type Case = [patterns: string[], value: string, included: boolean];

// The "Filter pattern cheat sheet" of GitHub's workflow syntax reference, row by row.
const branchAndTagCases: Case[] = [
  [["feature/*"], "feature/my-branch", true],
  [["feature/*"], "feature/your-branch", true],
  [["feature/*"], "feature/your-branch/x", false],
  [["feature/*"], "feature", false],
  [["feature/**"], "feature/beta-a/my-branch", true],
  [["feature/**"], "feature/your-branch", true],
  [["feature/**"], "feature/mona/the/octocat", true],
  [["feature/**"], "features/x", false],
  [["main", "releases/mona-the-octocat"], "main", true],
  [["main", "releases/mona-the-octocat"], "releases/mona-the-octocat", true],
  [["main", "releases/mona-the-octocat"], "releases/other", false],
  [["main"], "main2", false],
  [["main"], "xmain", false],
  [["*"], "main", true],
  [["*"], "releases", true],
  [["*"], "releases/v1", false],
  [["**"], "all/the/branches", true],
  [["**"], "every/tag", true],
  [["*feature"], "mona-feature", true],
  [["*feature"], "feature", true],
  [["*feature"], "ver-10-feature", true],
  [["*feature"], "x/feature", false],
  [["v2*"], "v2", true],
  [["v2*"], "v2.0", true],
  [["v2*"], "v2.9", true],
  [["v2*"], "v3", false],
  [["v2*"], "v2/x", false],
  [["v[12].[0-9]+.[0-9]+"], "v1.10.1", true],
  [["v[12].[0-9]+.[0-9]+"], "v2.0.0", true],
  [["v[12].[0-9]+.[0-9]+"], "v3.0.0", false],
  [["v[12].[0-9]+.[0-9]+"], "v1..1", false],
  [["v[12].[0-9]+.[0-9]+"], "v1.x.1", false],
  // `.` is literal, not "any character".
  [["v[12].[0-9]+.[0-9]+"], "v1-1-1", false],
  [["[CB]at"], "Cat", true],
  [["[CB]at"], "Bat", true],
  [["[CB]at"], "Hat", false],
  [["[1-2]00"], "100", true],
  [["[1-2]00"], "200", true],
  [["[1-2]00"], "300", false],
  [["release-[0-9a-z]"], "release-7", true],
  [["release-[0-9a-z]"], "release-q", true],
  [["release-[0-9a-z]"], "release-Q", false],
  [["release-[0-9a-z]"], "release-", false],
];

const pathCases: Case[] = [
  [["*"], "README.md", true],
  [["*"], "server.rb", true],
  [["*"], "docs/README.md", false],
  [["*.jsx?"], "page.js", true],
  [["*.jsx?"], "page.jsx", true],
  [["*.jsx?"], "page.jsxx", false],
  [["*.jsx?"], "page.j", false],
  [["**"], "all/the/files.md", true],
  [["*.js"], "app.js", true],
  [["*.js"], "index.js", true],
  [["*.js"], "docs/app.js", false],
  [["**.js"], "index.js", true],
  [["**.js"], "js/index.js", true],
  [["**.js"], "src/js/app.js", true],
  [["**/*.js"], "src/js/app.js", true],
  [["**/*.js"], "app.js", true],
  [["docs/*"], "docs/README.md", true],
  [["docs/*"], "docs/file.txt", true],
  [["docs/*"], "docs/mona/octocat.txt", false],
  [["docs/**"], "docs/README.md", true],
  [["docs/**"], "docs/mona/octocat.txt", true],
  [["docs/**"], "README.md", false],
  [["docs/**/*.md"], "docs/README.md", true],
  [["docs/**/*.md"], "docs/mona/hello-world.md", true],
  [["docs/**/*.md"], "docs/a/markdown/file.md", true],
  [["docs/**/*.md"], "docs/a/file.txt", false],
  [["**/docs/**"], "docs/hello.md", true],
  [["**/docs/**"], "dir/docs/my-file.txt", true],
  [["**/docs/**"], "space/docs/plan/space.doc", true],
  [["**/docs/**"], "mydocs/x.md", false],
  [["**/README.md"], "README.md", true],
  [["**/README.md"], "js/README.md", true],
  [["**/README.md"], "js/NOTREADME.md", false],
  [["**/*src/**"], "a/src/app.js", true],
  [["**/*src/**"], "my-src/code/js/app.js", true],
  [["**/*-post.md"], "my-post.md", true],
  [["**/*-post.md"], "path/their-post.md", true],
  [["**/migrate-*.sql"], "migrate-10909.sql", true],
  [["**/migrate-*.sql"], "db/migrate-v1.0.sql", true],
  [["**/migrate-*.sql"], "db/sept/migrate-v1.sql", true],
  [["*.md", "!README.md"], "hello.md", true],
  [["*.md", "!README.md"], "README.md", false],
  [["*.md", "!README.md"], "docs/hello.md", false],
  [["*.md", "!README.md", "README*"], "hello.md", true],
  [["*.md", "!README.md", "README*"], "README.md", true],
  [["*.md", "!README.md", "README*"], "README.doc", true],
];

const orderAndEscapeCases: Case[] = [
  // The last matching pattern decides.
  [["src/**", "!src/docs/**", "src/docs/keep.md"], "src/docs/keep.md", true],
  [["src/**", "!src/docs/**", "src/docs/keep.md"], "src/docs/other.md", false],
  [["src/**", "!src/docs/**", "src/docs/keep.md"], "src/main.ts", true],
  [["!src/docs/**", "src/**"], "src/docs/other.md", true],
  // Only negative patterns include nothing.
  [["!main"], "dev", false],
  [["!main"], "main", false],
  [[], "main", false],
  // `!` is special only at the start.
  [["a!b"], "a!b", true],
  [["\\!file"], "!file", true],
  [["\\*"], "*", true],
  [["\\*"], "x", false],
  [["v1\\+"], "v1+", true],
  [["v1\\+"], "v11", false],
  [["what\\?"], "what?", true],
  [["\\[x]"], "[x]", true],
  [["escape\\\\backslash"], "escape\\backslash", true],
  // Before an ordinary character `\` is itself.
  [["a\\b"], "a\\b", true],
  // Regex and shell syntax GitHub does not have stays literal.
  [[".yml"], "fyml", false],
  [["(a|b)"], "(a|b)", true],
  [["{a,b}"], "a", false],
  [["{a,b}"], "{a,b}", true],
  [["^x$"], "^x$", true],
  // Quantifiers apply to classes and escaped characters too.
  [["[0-9]+"], "2024", true],
  [["[0-9]+"], "", false],
  [["x[0-9]?y"], "xy", true],
  [["x[0-9]?y"], "x1y", true],
  [["x[0-9]?y"], "x12y", false],
  [["a/+b"], "a//b", true],
  // Literal characters in a class.
  [["[._]x"], ".x", true],
  [["[._]x"], "ax", false],
  // Case matters.
  [["Main"], "main", false],
];

describe("matchesAnyFilter", () => {
  test.each([...branchAndTagCases, ...pathCases, ...orderAndEscapeCases])(
    "%j against %j → %s",
    (patterns, value, included) => {
      expect(matchesAnyFilter(patterns, value)).toBe(included);
    },
  );
});

describe("compileFilterPattern", () => {
  test("reports negation and strips the '!'", () => {
    const p = compileFilterPattern("!docs/**");
    expect(p.negated).toBe(true);
    expect(p.regex.test("docs/a.md")).toBe(true);
    expect(p.regex.test("!docs/a.md")).toBe(false);
    expect(compileFilterPattern("docs/**").negated).toBe(false);
  });

  test.each([
    ["", /empty/],
    ["!", /must be followed/],
    ["+x", /'\+' must follow/],
    ["?x", /'\?' must follow/],
    ["!?x", /'\?' must follow/],
    ["a*+", /'\+' must follow/],
    ["a**?", /'\?' must follow/],
    ["a+?", /'\?' must follow/],
    ["x[]", /at least one character/],
    ["x[0-9", /no closing/],
    ["[a-Z]", /range 'a-Z'/],
    ["[A-z]", /range 'A-z'/],
    ["[9-0]", /range '9-0'/],
  ])("rejects %j", (pattern, message) => {
    expect(() => compileFilterPattern(pattern)).toThrow(UserError);
    expect(() => compileFilterPattern(pattern)).toThrow(message);
  });
});
