// Whether a workflow's `on:` selects an event, by GitHub's rules for branch, tag, path and type filters.
//
// An invalid `on:` (both `branches` and `branches-ignore`, a malformed pattern, …) yields
// `matched: false` with a reason starting "invalid workflow:" rather than a thrown error: GitHub marks
// such a workflow as failed and still runs the other workflows for the same event, and the caller
// deciding which workflows to run needs the same freedom.

import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";
import { UserError } from "../lib/errors.js";
import { matchesAnyFilter } from "./filters.js";

export type TriggerEvent = {
  name: string;
  payload: Record<string, unknown>;
  /** Files changed by the event; undefined when unknown, in which case path filters pass (as on GitHub). */
  changedFiles?: string[];
  /**
   * The local checkout's ref and commit when the event was made, for the GITHUB_REF / GITHUB_SHA of
   * events whose payload does not carry them (workflow_dispatch, schedule, issues, …). GitHub sends
   * these beside the payload, not in it, so they are kept out of `github.event` here too.
   */
  ref?: string;
  sha?: string;
};

export type TriggerMatch = { matched: boolean; reason: string };

type FilterConfig = {
  branches?: string[];
  "branches-ignore"?: string[];
  tags?: string[];
  "tags-ignore"?: string[];
  paths?: string[];
  "paths-ignore"?: string[];
  types?: string[];
  workflows?: string[];
};

// GitHub runs pull_request and pull_request_target workflows for these activity types unless `types` says otherwise.
const defaultPullRequestTypes = ["opened", "synchronize", "reopened"];

class NoMatch extends Error {}

function list(patterns: readonly string[]): string {
  return `[${patterns.join(", ")}]`;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) current = record(current)[key];
  return typeof current === "string" ? current : undefined;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.map(String) : undefined;
}

function filterConfig(value: unknown): FilterConfig {
  const raw = record(value);
  const config: FilterConfig = {};
  for (const key of [
    "branches",
    "branches-ignore",
    "tags",
    "tags-ignore",
    "paths",
    "paths-ignore",
    "types",
    "workflows",
  ] as const) {
    const values = strings(raw[key]);
    if (values !== undefined) config[key] = values;
  }
  return config;
}

function checkExclusive(config: FilterConfig, eventName: string): void {
  for (const [a, b] of [
    ["branches", "branches-ignore"],
    ["tags", "tags-ignore"],
    ["paths", "paths-ignore"],
  ] as const) {
    if (config[a] !== undefined && config[b] !== undefined) {
      throw new UserError(`invalid workflow: on.${eventName} cannot use both ${a} and ${b}`);
    }
  }
}

/** Checks a branch or tag name against `<kind>` / `<kind>-ignore`; returns a note on success. */
function checkRefFilter(
  config: FilterConfig,
  kind: "branches" | "tags",
  name: string,
  subject: string,
): string | undefined {
  const include = config[kind];
  const ignore = config[`${kind}-ignore`];
  if (include !== undefined) {
    if (!matchesAnyFilter(include, name)) {
      const onlyNegated = include.length > 0 && include.every((p) => p.startsWith("!"));
      const hint = onlyNegated ? ` (${kind} has only '!' patterns, which include nothing)` : "";
      throw new NoMatch(`${subject} does not match ${kind} ${list(include)}${hint}`);
    }
    return `matches ${kind} ${list(include)}`;
  }
  if (ignore !== undefined) {
    if (matchesAnyFilter(ignore, name))
      throw new NoMatch(`${subject} matches ${kind}-ignore ${list(ignore)}`);
    return `not in ${kind}-ignore ${list(ignore)}`;
  }
  return undefined;
}

/** Applies `paths` / `paths-ignore`; returns a note when a path filter was considered. */
function checkPaths(config: FilterConfig, changedFiles: string[] | undefined): string | undefined {
  const include = config.paths;
  const ignore = config["paths-ignore"];
  if (include === undefined && ignore === undefined) return undefined;
  if (changedFiles === undefined) return "changed files unknown, so path filters pass";
  if (include !== undefined) {
    const hit = changedFiles.find((file) => matchesAnyFilter(include, file));
    if (hit === undefined) {
      throw new NoMatch(
        changedFiles.length === 0
          ? `no files changed, so nothing matches paths ${list(include)}`
          : `none of the ${changedFiles.length} changed files matches paths ${list(include)}`,
      );
    }
    return `${hit} matches paths ${list(include)}`;
  }
  const kept = changedFiles.find((file) => !matchesAnyFilter(ignore!, file));
  if (kept === undefined) {
    // With no changed files this also holds: there is no file the filter lets through.
    throw new NoMatch(
      changedFiles.length === 0
        ? `no files changed, so nothing passes paths-ignore ${list(ignore!)}`
        : `every changed file matches paths-ignore ${list(ignore!)}`,
    );
  }
  return `${kept} is not in paths-ignore ${list(ignore!)}`;
}

function checkTypes(config: FilterConfig, event: TriggerEvent, defaults?: string[]): string | undefined {
  const types = config.types ?? defaults;
  if (types === undefined) return undefined;
  const action = event.payload.action;
  // A hand-written event file may omit `action`; there is then nothing to hold against `types`.
  if (typeof action !== "string") return "payload has no action, so types are not checked";
  if (!types.includes(action))
    throw new NoMatch(`${event.name} action '${action}' is not in types ${list(types)}`);
  return `action '${action}' is in types ${list(types)}`;
}

type Verdict = { subject: string; notes: (string | undefined)[] };

function matchPush(config: FilterConfig, event: TriggerEvent): Verdict {
  const ref = stringAt(event.payload, "ref") ?? "";
  const hasBranchFilters = config.branches !== undefined || config["branches-ignore"] !== undefined;
  const hasTagFilters = config.tags !== undefined || config["tags-ignore"] !== undefined;
  const subject = `push to ${ref || "(no ref)"}`;

  if (ref.startsWith("refs/tags/")) {
    if (!hasTagFilters && hasBranchFilters) {
      throw new NoMatch(`${subject} is a tag push, and the workflow filters only branches`);
    }
    // Path filters do not apply to tag pushes.
    return { subject, notes: [checkRefFilter(config, "tags", ref.slice("refs/tags/".length), subject)] };
  }
  if (ref.startsWith("refs/heads/")) {
    if (!hasBranchFilters && hasTagFilters) {
      throw new NoMatch(`${subject} is a branch push, and the workflow filters only tags`);
    }
    const branch = ref.slice("refs/heads/".length);
    return {
      subject,
      notes: [checkRefFilter(config, "branches", branch, subject), checkPaths(config, event.changedFiles)],
    };
  }
  if (hasBranchFilters || hasTagFilters)
    throw new NoMatch(`${subject}: the ref is neither a branch nor a tag`);
  return { subject, notes: [checkPaths(config, event.changedFiles)] };
}

function matchPullRequest(config: FilterConfig, event: TriggerEvent): Verdict {
  // Branch filters of pull request events look at the base branch, the one the PR merges into.
  const base = stringAt(event.payload, "pull_request", "base", "ref")?.replace(/^refs\/heads\//, "");
  const subject = base === undefined ? event.name : `${event.name} into ${base}`;
  const notes = [checkTypes(config, event, defaultPullRequestTypes)];
  if (config.branches !== undefined || config["branches-ignore"] !== undefined) {
    if (base === undefined)
      throw new NoMatch(`${event.name} payload has no pull_request.base.ref to filter on`);
    notes.push(checkRefFilter(config, "branches", base, subject));
  }
  notes.push(checkPaths(config, event.changedFiles));
  return { subject, notes };
}

function matchWorkflowRun(config: FilterConfig, event: TriggerEvent): Verdict {
  const name = stringAt(event.payload, "workflow", "name");
  const subject = name === undefined ? "workflow_run" : `workflow_run of '${name}'`;
  const notes = [checkTypes(config, event)];
  if (config.workflows !== undefined && name !== undefined && !config.workflows.includes(name)) {
    throw new NoMatch(`${subject} is not in workflows ${list(config.workflows)}`);
  }
  if (config.branches !== undefined || config["branches-ignore"] !== undefined) {
    const branch = stringAt(event.payload, "workflow_run", "head_branch");
    if (branch === undefined) throw new NoMatch("workflow_run payload has no workflow_run.head_branch");
    notes.push(checkRefFilter(config, "branches", branch, `${subject} on ${branch}`));
  }
  return { subject, notes };
}

function matchSchedule(config: unknown, event: TriggerEvent): Verdict {
  // GitHub sends one event per cron entry, naming it in `schedule`.
  const cron = stringAt(event.payload, "schedule");
  const crons = Array.isArray(config) ? config.map((entry) => stringAt(entry, "cron")) : [];
  if (cron !== undefined && crons.length > 0 && !crons.includes(cron)) {
    throw new NoMatch(`schedule '${cron}' is not one of the workflow's crons`);
  }
  return { subject: cron === undefined ? "schedule" : `schedule '${cron}'`, notes: [] };
}

function matchEvent(raw: unknown, event: TriggerEvent): Verdict {
  switch (event.name) {
    case "workflow_dispatch":
    case "workflow_call":
      return { subject: event.name, notes: [] };
    case "schedule":
      return matchSchedule(raw, event);
  }
  const config = filterConfig(raw);
  checkExclusive(config, event.name);
  switch (event.name) {
    case "push":
      return matchPush(config, event);
    case "pull_request":
    case "pull_request_target":
      return matchPullRequest(config, event);
    case "workflow_run":
      return matchWorkflowRun(config, event);
    default:
      return { subject: event.name, notes: [checkTypes(config, event)] };
  }
}

/** Decides whether `events` (a workflow's parsed `on:`) selects `event`, and says why in one sentence. */
export function matchWorkflowTrigger(events: EventsConfig, event: TriggerEvent): TriggerMatch {
  if (!Object.hasOwn(events, event.name)) {
    const names = Object.keys(events);
    return { matched: false, reason: `workflow is not triggered by ${event.name} (on: ${names.join(", ")})` };
  }
  try {
    const { subject, notes } = matchEvent(events[event.name], event);
    const detail = notes.filter((n) => n !== undefined).join("; ");
    return {
      matched: true,
      reason: detail === "" ? `workflow is triggered by ${subject}` : `${subject}: ${detail}`,
    };
  } catch (err) {
    if (err instanceof NoMatch) return { matched: false, reason: err.message };
    if (err instanceof UserError) {
      const message = err.message.startsWith("invalid workflow:")
        ? err.message
        : `invalid workflow: ${err.message}`;
      return { matched: false, reason: message };
    }
    throw err;
  }
}
