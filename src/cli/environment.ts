// `slipway environment`: a repository's deployment environments on the server — required reviewers,
// wait timer, the branches and tags allowed to deploy, and vars. `set` replaces the environment's rules
// with exactly what it is given (admin); list and show read them.
import type { Command } from "@commander-js/extra-typings";
import { parseDuration } from "../ci/index.js";
import { formatDuration, textTable } from "../lib/format.js";
import { out, withClient } from "./ci.js";
import { ApiClient, type ClientFlags } from "./client.js";
import { confirm, type ConfirmFlags, yesOption } from "./confirm.js";
import { collect, parsePairs } from "./options.js";

type Json = Record<string, any>;

type SetFlags = ClientFlags & {
  json?: boolean;
  reviewer: string[];
  waitTimer?: string;
  branch: string[];
  tag: string[];
  allowSelfReview?: boolean;
  var: string[];
};

const path = (repo: string, env?: string) =>
  `/api/v1/environments${env === undefined ? "" : `/${encodeURIComponent(env)}`}?${new URLSearchParams({ repo })}`;

/** The rules of `set` as the API takes them: a ref list only when given (none given: any ref). */
export function environmentRequest(flags: Omit<SetFlags, keyof ClientFlags | "json">): Json {
  const refsGiven = flags.branch.length > 0 || flags.tag.length > 0;
  return {
    reviewers: flags.reviewer,
    waitTimer: flags.waitTimer === undefined ? 0 : parseDuration(flags.waitTimer, "--wait-timer"),
    branches: refsGiven ? flags.branch : null,
    tags: refsGiven ? flags.tag : null,
    allowSelfReview: flags.allowSelfReview === true,
    vars: parsePairs(flags.var, "--var"),
  };
}

function describe(e: Json): string {
  const refs =
    e.branches === null && e.tags === null
      ? "any branch or tag"
      : [
          e.branches?.length ? `branches ${e.branches.join(", ")}` : "",
          e.tags?.length ? `tags ${e.tags.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; ") || "no ref";
  return [
    `environment ${e.name}`,
    `  reviewers    ${e.reviewers.length ? e.reviewers.join(", ") : "none"}${e.reviewers.length && e.allowSelfReview ? " (self-review allowed)" : ""}`,
    `  wait timer   ${e.waitTimerS ? formatDuration(e.waitTimerS * 1000) : "none"}`,
    `  deploys from ${refs}`,
    `  vars         ${Object.keys(e.vars).join(", ") || "none"}`,
    `  updated by ${e.updatedBy} at ${new Date(e.updatedAt).toISOString()}`,
  ].join("\n");
}

export function registerEnvironment(program: Command): void {
  const env = program
    .command("environment")
    .description(
      "deployment environments of a repository on the server: reviewers, wait timer, allowed refs, vars",
    );
  withClient(
    env
      .command("set")
      .description("set an environment's protection rules and vars, replacing what it had (admin)")
      .argument("<repo>", "repository name")
      .argument("<env>", "environment name")
      .option(
        "--reviewer <role-or-token>",
        "who may approve: a role (it or above) or a token name",
        collect,
        [] as string[],
      )
      .option("--wait-timer <duration>", "how long jobs wait before they start (e.g. 90s, 5m, 1h)")
      .option(
        "--branch <pattern>",
        "a branch allowed to deploy (GitHub filter pattern)",
        collect,
        [] as string[],
      )
      .option("--tag <pattern>", "a tag allowed to deploy (GitHub filter pattern)", collect, [] as string[])
      .option("--allow-self-review", "whoever triggered a run may approve it")
      .option(
        "--var <name=value>",
        "a variable (the vars context) of jobs of this environment",
        collect,
        [] as string[],
      ),
  ).action(async (repo: string, name: string, flags: SetFlags) => {
    const r = await new ApiClient(flags).request<Json>("PUT", path(repo, name), environmentRequest(flags));
    out(flags, r.environment, () => `${r.created ? "created" : "updated"} ${describe(r.environment)}\n`);
  });
  withClient(
    env.command("list").description("the repository's environments").argument("<repo>", "repository name"),
  ).action(async (repo: string, flags: ClientFlags & { json?: boolean }) => {
    const r = await new ApiClient(flags).request<Json>("GET", path(repo));
    out(flags, r.environments, () =>
      textTable([
        ["ENVIRONMENT", "REVIEWERS", "WAIT", "BRANCHES", "TAGS"],
        ...r.environments.map((e: Json) => [
          e.name,
          e.reviewers.join(", ") || "-",
          e.waitTimerS ? formatDuration(e.waitTimerS * 1000) : "-",
          e.branches === null ? "any" : e.branches.join(", ") || "-",
          e.tags === null ? "any" : e.tags.join(", ") || "-",
        ]),
      ]),
    );
  });
  withClient(
    env
      .command("show")
      .description("an environment's rules and vars")
      .argument("<repo>", "repository name")
      .argument("<env>", "environment name"),
  ).action(async (repo: string, name: string, flags: ClientFlags & { json?: boolean }) => {
    const r = await new ApiClient(flags).request<Json>("GET", path(repo, name));
    out(flags, r.environment, () => `${describe(r.environment)}\n`);
  });
  yesOption(
    withClient(
      env
        .command("rm")
        .description("remove an environment's rules and vars (admin); its secrets stay")
        .argument("<repo>", "repository name")
        .argument("<env>", "environment name"),
    ),
  ).action(async (repo: string, name: string, flags: ClientFlags & ConfirmFlags & { json?: boolean }) => {
    await confirm(`Remove environment ${name} of ${repo}? Its jobs then run unprotected.`, flags);
    const r = await new ApiClient(flags).request<Json>("DELETE", path(repo, name));
    out(flags, r, () => `removed environment ${name} of ${repo}\n`);
  });
}
