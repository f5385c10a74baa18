// The server's notification file and a repository's `notify:` section: valid shapes are read, every
// problem is a UserError located at file:line:col, and a repository's other sections are not judged here.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatProblem, UserError } from "../lib/errors.js";
import { loadNotifyFile, parseNotifyFile, parseNotifySection } from "./config.js";

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as UserError).problems.map(formatProblem);
  }
  throw new Error("expected a UserError");
}

const serverFile = `channels:
  ops: { slack: { webhook_url_secret: OPS_SLACK } }
  audit:
    webhook: { url: "https://hooks.example.test/ci", secret_name: AUDIT_KEY }
rules:
  - on: [run.failed, run.fixed]
    channels: [ops]
    branch: main
  - { on: [run.completed], channels: [audit] }
`;

describe("the server's notification file", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-notify-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has channels and rules at its top level, as under notify:", () => {
    const config = parseNotifyFile(serverFile, "notify.yaml");
    expect(Object.keys(config.channels)).toEqual(["ops", "audit"]);
    expect(config.rules[0]).toMatchObject({ on: ["run.failed", "run.fixed"], branch: ["main"] });
  });

  it("also takes a file with a single notify: key (a slipway.yaml)", () => {
    const wrapped = `notify:\n${serverFile.replace(/^/gm, "  ")}`;
    expect(parseNotifyFile(wrapped, "slipway.yaml")).toEqual(parseNotifyFile(serverFile, "x.yaml"));
  });

  it("an empty file has no channels and no rules", () => {
    expect(parseNotifyFile("", "empty.yaml")).toEqual({ channels: {}, rules: [] });
  });

  it("locates every problem at file:line:col, rules naming unknown channels included", () => {
    expect(
      problemsOf(() =>
        parseNotifyFile(
          `channels:\n  ops: { slack: { webhook_url: "ftp://x" } }\nrules:\n  - { on: [run.exploded], channels: [ops] }\n`,
          "notify.yaml",
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^notify\.yaml:2:\d+: channels\.ops\.slack\.webhook_url: expected an http/),
      expect.stringMatching(/^notify\.yaml:4:\d+: rules\[0\]\.on\[0\]: /),
    ]);
    expect(
      problemsOf(() =>
        parseNotifyFile(
          `channels:\n  ops: { slack: { webhook_url_secret: OPS } }\nrules:\n  - on: [run.failed]\n    channels: [ops, nowhere]\n`,
          "notify.yaml",
        ),
      ),
    ).toEqual(["notify.yaml:5:21: rules[0].channels[1]: unknown channel 'nowhere' (channels: ops)"]);
    expect(problemsOf(() => parseNotifyFile("channels: [a\n", "bad.yaml"))[0]).toMatch(
      /^bad\.yaml:\d+:\d+: /,
    );
    expect(problemsOf(() => parseNotifyFile("hooks: {}\n", "notify.yaml"))).toEqual([
      expect.stringMatching(/^notify\.yaml:1:1: unknown key 'hooks'/),
    ]);
  });

  it("a missing file is a clear UserError", () => {
    const err = (() => {
      try {
        loadNotifyFile(join(dir, "absent.yaml"));
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err?.message).toMatch(/cannot read the notification configuration .*absent\.yaml: no such file/);
    writeFileSync(join(dir, "ok.yaml"), serverFile);
    expect(loadNotifyFile(join(dir, "ok.yaml")).rules).toHaveLength(2);
  });
});

describe("a repository's notify: section", () => {
  it("is undefined when slipway.yaml has none, and other sections are not judged", () => {
    expect(parseNotifySection("build: { whatever: true }\nfuture_section: 1\n", "slipway.yaml")).toBe(
      undefined,
    );
    const config = parseNotifySection(
      `build: { not: valid }\nnotify:\n${serverFile.replace(/^/gm, "  ")}`,
      "slipway.yaml",
    );
    expect(config?.rules).toHaveLength(2);
  });

  it("reports the section's problems at file:line:col", () => {
    expect(
      problemsOf(() =>
        parseNotifySection(
          "build: {}\nnotify:\n  channels: {}\n  rules:\n    - { on: [run.failed], channels: [ghost] }\n",
          "slipway.yaml",
        ),
      ),
    ).toEqual([
      expect.stringMatching(
        /^slipway\.yaml:5:\d+: notify\.rules\[0\]\.channels\[0\]: unknown channel 'ghost'/,
      ),
    ]);
    // Not YAML at all: nothing in it can be read, notify: included.
    expect(problemsOf(() => parseNotifySection("notify:\n  rules: [1\n", "slipway.yaml"))[0]).toMatch(
      /^slipway\.yaml:\d+:\d+: /,
    );
    expect(problemsOf(() => parseNotifySection("- just\n- a list\n", "slipway.yaml"))[0]).toMatch(
      /^slipway\.yaml:1:1: expected a mapping/,
    );
  });
});
