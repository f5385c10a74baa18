import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";
import { describe, expect, test } from "vitest";
import { matchWorkflowTrigger, type TriggerEvent } from "./triggers.js";

// `on:` goes through GitHub's own parser, so the tests see exactly the shapes the planner will.
async function parseOn(on: string): Promise<EventsConfig> {
  const content = `on:\n${on.replace(/^/gm, "  ")}\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: hi }]\n`;
  const parsed = parseWorkflow({ name: "w.yml", content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors();
  if (errors.length > 0 || parsed.value === undefined)
    throw new Error(errors.map((e) => e.message).join("\n"));
  return (await convertWorkflowTemplate(parsed.context, parsed.value)).events;
}

function push(ref: string, changedFiles?: string[]): TriggerEvent {
  return { name: "push", payload: { ref }, changedFiles };
}

function pullRequest(
  base: string,
  changedFiles?: string[],
  action = "opened",
  name = "pull_request",
): TriggerEvent {
  return { name, payload: { action, pull_request: { base: { ref: base } } }, changedFiles };
}

type Case = [on: string, event: TriggerEvent, matched: boolean, reason: RegExp];

const cases: Record<string, Case[]> = {
  "event names": [
    ["push", push("refs/heads/main"), true, /triggered by push to refs\/heads\/main/],
    ["[push, pull_request]", pullRequest("main"), true, /pull_request into main/],
    ["pull_request", push("refs/heads/main"), false, /not triggered by push \(on: pull_request\)/],
    [
      "workflow_dispatch:\n  inputs:\n    x: { type: string }",
      { name: "workflow_dispatch", payload: {} },
      true,
      /./,
    ],
    ["schedule:\n  - cron: '0 0 * * *'", { name: "schedule", payload: {} }, true, /schedule/],
    [
      "schedule:\n  - cron: '0 0 * * *'",
      { name: "schedule", payload: { schedule: "5 5 * * *" } },
      false,
      /not one of the workflow's crons/,
    ],
    ["workflow_call", { name: "workflow_call", payload: {} }, true, /workflow_call/],
  ],
  "push branches": [
    ["push:\n  branches: [main]", push("refs/heads/main"), true, /matches branches \[main\]/],
    [
      "push:\n  branches: [main]",
      push("refs/heads/dev"),
      false,
      /^push to refs\/heads\/dev does not match branches \[main\]$/,
    ],
    ["push:\n  branches: ['releases/**']", push("refs/heads/releases/v1/rc"), true, /releases/],
    ["push:\n  branches: ['releases/*']", push("refs/heads/releases/v1/rc"), false, /does not match/],
    [
      "push:\n  branches-ignore: ['dependabot/**']",
      push("refs/heads/dependabot/npm/x"),
      false,
      /branches-ignore/,
    ],
    ["push:\n  branches-ignore: ['dependabot/**']", push("refs/heads/main"), true, /not in branches-ignore/],
    [
      "push:\n  branches: ['releases/**', '!releases/**-alpha']",
      push("refs/heads/releases/10-alpha"),
      false,
      /does not match/,
    ],
    [
      "push:\n  branches: ['releases/**', '!releases/**-alpha']",
      push("refs/heads/releases/10"),
      true,
      /matches/,
    ],
    ["push:\n  branches: ['!main']", push("refs/heads/dev"), false, /only '!' patterns/],
  ],
  "push tags": [
    ["push:\n  tags: ['v*']", push("refs/tags/v1.2.3"), true, /matches tags/],
    ["push:\n  tags: ['v*']", push("refs/tags/release-1"), false, /does not match tags/],
    ["push:\n  tags-ignore: ['*-rc*']", push("refs/tags/v1-rc1"), false, /tags-ignore/],
    ["push:\n  tags-ignore: ['*-rc*']", push("refs/tags/v1"), true, /not in tags-ignore/],
    // Only tag filters: branch pushes do not run, and the other way round.
    ["push:\n  tags: ['v*']", push("refs/heads/main"), false, /filters only tags/],
    ["push:\n  branches: [main]", push("refs/tags/v1"), false, /filters only branches/],
    ["push:\n  tags-ignore: ['x']", push("refs/heads/main"), false, /filters only tags/],
    // No ref filters: both run.
    ["push", push("refs/tags/v1"), true, /triggered by push to refs\/tags\/v1/],
    ["push:\n  branches: [main]\n  tags: ['v*']", push("refs/tags/v2"), true, /matches tags/],
    ["push:\n  branches: [main]\n  tags: ['v*']", push("refs/heads/main"), true, /matches branches/],
    ["push:\n  branches: [main]\n  tags: ['v*']", push("refs/heads/dev"), false, /does not match branches/],
    // Path filters are not evaluated for tags.
    ["push:\n  tags: ['v*']\n  paths: ['src/**']", push("refs/tags/v1", ["docs/a.md"]), true, /matches tags/],
    ["push:\n  paths: ['src/**']", push("refs/tags/v1", ["docs/a.md"]), true, /refs\/tags\/v1/],
    // A detached sha is neither a branch nor a tag.
    ["push:\n  branches: [main]", push("0123abcd"), false, /neither a branch nor a tag/],
    ["push", push("0123abcd"), true, /./],
  ],
  "push paths": [
    [
      "push:\n  paths: ['src/**']",
      push("refs/heads/main", ["src/a.ts", "README.md"]),
      true,
      /src\/a.ts matches paths/,
    ],
    [
      "push:\n  paths: ['src/**']",
      push("refs/heads/main", ["README.md"]),
      false,
      /none of the 1 changed files/,
    ],
    ["push:\n  paths: ['src/**']", push("refs/heads/main", []), false, /no files changed/],
    ["push:\n  paths: ['src/**']", push("refs/heads/main"), true, /changed files unknown/],
    [
      "push:\n  paths: ['src/**', '!src/docs/**']",
      push("refs/heads/main", ["src/docs/a.md"]),
      false,
      /none of the 1 changed files/,
    ],
    [
      "push:\n  paths: ['src/**', '!src/docs/**', 'src/docs/keep.md']",
      push("refs/heads/main", ["src/docs/keep.md"]),
      true,
      /keep.md matches/,
    ],
    [
      "push:\n  paths-ignore: ['docs/**']",
      push("refs/heads/main", ["docs/a.md", "docs/b/c.md"]),
      false,
      /every/,
    ],
    [
      "push:\n  paths-ignore: ['docs/**']",
      push("refs/heads/main", ["docs/a.md", "src/x.ts"]),
      true,
      /src\/x.ts is not in paths-ignore/,
    ],
    ["push:\n  paths-ignore: ['docs/**']", push("refs/heads/main"), true, /unknown/],
    ["push:\n  paths-ignore: ['docs/**']", push("refs/heads/main", []), false, /no files changed/],
    [
      "push:\n  paths-ignore: ['docs/**', '!docs/api/**']",
      push("refs/heads/main", ["docs/api/x.md"]),
      true,
      /not in paths-ignore/,
    ],
  ],
  "push branches and paths together": [
    [
      "push:\n  branches: [main]\n  paths: ['src/**']",
      push("refs/heads/main", ["src/a"]),
      true,
      /branches.*paths/,
    ],
    [
      "push:\n  branches: [main]\n  paths: ['src/**']",
      push("refs/heads/main", ["docs/a"]),
      false,
      /matches paths \[src\/\*\*\]$/,
    ],
    [
      "push:\n  branches: [main]\n  paths: ['src/**']",
      push("refs/heads/dev", ["src/a"]),
      false,
      /branches \[main\]/,
    ],
    [
      "push:\n  branches-ignore: [wip]\n  paths-ignore: ['*.md']",
      push("refs/heads/main", ["a.md"]),
      false,
      /paths-ignore/,
    ],
  ],
  pull_request: [
    [
      "pull_request",
      pullRequest("main"),
      true,
      /action 'opened' is in types \[opened, synchronize, reopened\]/,
    ],
    ["pull_request", pullRequest("main", undefined, "synchronize"), true, /synchronize/],
    ["pull_request", pullRequest("main", undefined, "reopened"), true, /reopened/],
    ["pull_request", pullRequest("main", undefined, "closed"), false, /'closed' is not in types/],
    ["pull_request", pullRequest("main", undefined, "labeled"), false, /not in types/],
    ["pull_request:\n  types: [closed]", pullRequest("main", undefined, "closed"), true, /\[closed\]/],
    [
      "pull_request:\n  types: [closed]",
      pullRequest("main", undefined, "opened"),
      false,
      /not in types \[closed\]/,
    ],
    ["pull_request_target", pullRequest("main", [], "opened", "pull_request_target"), true, /opened/],
    ["pull_request_target", pullRequest("main", [], "edited", "pull_request_target"), false, /not in types/],
    // Branch filters look at the base branch.
    [
      "pull_request:\n  branches: [main]",
      pullRequest("main"),
      true,
      /into main: .*matches branches \[main\]/,
    ],
    ["pull_request:\n  branches: [main]", pullRequest("feature/x"), false, /into feature\/x does not match/],
    ["pull_request:\n  branches: ['releases/**']", pullRequest("releases/1.x"), true, /matches branches/],
    [
      "pull_request:\n  branches-ignore: ['releases/**']",
      pullRequest("releases/1.x"),
      false,
      /branches-ignore/,
    ],
    [
      "pull_request:\n  branches: [main]",
      { name: "pull_request", payload: { action: "opened" } },
      false,
      /no pull_request.base.ref/,
    ],
    ["pull_request:\n  paths: ['src/**']", pullRequest("main", ["src/a.ts"]), true, /matches paths/],
    ["pull_request:\n  paths: ['src/**']", pullRequest("main", ["docs/a.md"]), false, /none of the 1/],
    ["pull_request:\n  paths-ignore: ['**.md']", pullRequest("main", ["a.md", "docs/b.md"]), false, /every/],
    [
      "pull_request:\n  branches: [main]\n  paths: ['src/**']\n  types: [opened]",
      pullRequest("main", ["src/x"]),
      true,
      /types.*branches.*paths/,
    ],
    [
      "pull_request:\n  branches: [main]\n  paths: ['src/**']",
      pullRequest("dev", ["src/x"]),
      false,
      /into dev/,
    ],
    // An event file without `action` cannot be held against types.
    ["pull_request", { name: "pull_request", payload: {} }, true, /payload has no action/],
  ],
  "types of other events": [
    [
      "release:\n  types: [published]",
      { name: "release", payload: { action: "published" } },
      true,
      /published/,
    ],
    [
      "release:\n  types: [published]",
      { name: "release", payload: { action: "created" } },
      false,
      /'created'/,
    ],
    ["release", { name: "release", payload: { action: "created" } }, true, /triggered by release/],
    [
      "issues:\n  types: [opened, labeled]",
      { name: "issues", payload: { action: "labeled" } },
      true,
      /labeled/,
    ],
    ["issues:\n  types: [opened, labeled]", { name: "issues", payload: {} }, true, /no action/],
    [
      "workflow_run:\n  workflows: [Build]\n  types: [completed]\n  branches: [main]",
      {
        name: "workflow_run",
        payload: { action: "completed", workflow: { name: "Build" }, workflow_run: { head_branch: "main" } },
      },
      true,
      /workflow_run of 'Build'/,
    ],
    [
      "workflow_run:\n  workflows: [Build]",
      { name: "workflow_run", payload: { action: "completed", workflow: { name: "Lint" } } },
      false,
      /not in workflows \[Build\]/,
    ],
    [
      "workflow_run:\n  workflows: [Build]\n  branches: [main]",
      {
        name: "workflow_run",
        payload: { workflow: { name: "Build" }, workflow_run: { head_branch: "dev" } },
      },
      false,
      /on dev does not match branches/,
    ],
  ],
  // Mutually exclusive filters make the workflow invalid; it is reported as not matching (see triggers.ts).
  "invalid workflows": [
    [
      "push:\n  branches: [main]\n  branches-ignore: [dev]",
      push("refs/heads/main"),
      false,
      /^invalid workflow: on.push cannot use both branches and branches-ignore$/,
    ],
    ["push:\n  tags: [a]\n  tags-ignore: [b]", push("refs/tags/a"), false, /both tags and tags-ignore/],
    [
      "push:\n  paths: [a]\n  paths-ignore: [b]",
      push("refs/heads/main", ["a"]),
      false,
      /both paths and paths-ignore/,
    ],
    [
      "pull_request:\n  branches: [main]\n  branches-ignore: [dev]",
      pullRequest("main"),
      false,
      /on.pull_request cannot use both/,
    ],
    [
      "push:\n  branches: ['+x']",
      push("refs/heads/main"),
      false,
      /^invalid workflow: invalid filter pattern '\+x'/,
    ],
  ],
};

for (const [group, rows] of Object.entries(cases)) {
  describe(group, () => {
    test.each(rows)("on: %s", async (on, event, matched, reason) => {
      const result = matchWorkflowTrigger(await parseOn(on), event);
      expect(result.matched).toBe(matched);
      expect(result.reason).toMatch(reason);
    });
  });
}

test("an on: built by hand (no parser) is handled the same way", () => {
  const events: EventsConfig = { push: { branches: ["main"] }, pull_request: {} };
  expect(matchWorkflowTrigger(events, push("refs/heads/main")).matched).toBe(true);
  expect(matchWorkflowTrigger(events, push("refs/heads/x")).reason).toBe(
    "push to refs/heads/x does not match branches [main]",
  );
});
