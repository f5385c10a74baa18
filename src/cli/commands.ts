// The top-level commands: the module (command group) that defines each, and what `slipway --help` lists for
// it. `slipway --help` and `slipway --version` are answered from this table without loading any group (the
// groups pull in the server, the database drivers and the container engine client: about a second); any
// command loads only its own group. program.test.ts checks the table against what the groups register.
import type { Command } from "@commander-js/extra-typings";

export type Registrar = (program: Command) => void;

const load = <M>(module: Promise<M>, pick: (m: M) => unknown) => module.then((m) => pick(m) as Registrar);

/** Each group's registrar, imported when the group is needed. */
export const commandGroups = {
  run: () => load(import("./run.js"), (m) => m.registerRun),
  actions: () => load(import("./actions.js"), (m) => m.registerActions),
  release: () => load(import("./release.js"), (m) => m.registerRelease),
  serve: () => load(import("./serve.js"), (m) => m.registerServe),
  build: () => load(import("./build.js"), (m) => m.registerBuild),
  registry: () => load(import("./registry.js"), (m) => m.registerRegistry),
  images: () => load(import("./images.js"), (m) => m.registerImages),
  secret: () => load(import("./secret.js"), (m) => m.registerSecret),
  notify: () => load(import("./notify.js"), (m) => m.registerNotify),
  ci: () => load(import("./ci.js"), (m) => m.registerCiCommands),
  artifacts: () => load(import("./artifacts.js"), (m) => m.registerArtifacts),
  environment: () => load(import("./environment.js"), (m) => m.registerEnvironment),
  deploy: () => load(import("./deploy.js"), (m) => m.registerDeploy),
  demo: () => load(import("./demo.js"), (m) => m.registerDemo),
  config: () => load(import("./config.js"), (m) => m.registerConfig),
  init: () => load(import("./init.js"), (m) => m.registerInit),
  version: () => load(import("./version.js"), (m) => m.registerVersion),
  completion: () => load(import("./completion.js"), (m) => m.registerCompletion),
  logs: () => load(import("./logs.js"), (m) => m.registerLogs),
  exec: () => load(import("./exec.js"), (m) => m.registerExec),
} satisfies Record<string, () => Promise<Registrar>>;

export type CommandGroup = keyof typeof commandGroups;

export type TopLevelCommand = {
  name: string;
  group: CommandGroup;
  /** As `--help` lists it: the name, `[options]` when it has any, its arguments. */
  term: string;
  description: string;
};

const command = (group: CommandGroup, term: string, description: string): TopLevelCommand => ({
  name: term.split(" ")[0],
  group,
  term,
  description,
});

/** In the order the groups register them, which is the order of `--help`. */
export const topLevelCommands: readonly TopLevelCommand[] = [
  command(
    "run",
    "run [options] [event]",
    "run the workflows that EVENT triggers (default: push), as GitHub Actions would",
  ),
  command("actions", "actions", "manage the cache of remote actions and reusable workflows"),
  command("release", "release", "compute release versions, tags and changelogs"),
  command("serve", "serve [options]", "run the CI server: webhooks, runs, re-runs, runners, API"),
  command(
    "serve",
    "runner [options]",
    "run jobs for a slipway server on this machine (subcommands: ls, disable, enable, rm)",
  ),
  command(
    "build",
    "build [options]",
    "build the images of slipway.yaml that changed since the last release tag, in dependency order",
  ),
  command("registry", "registry", "read and tidy an image registry (Docker Registry API v2)"),
  command("images", "images", "images on the container engine host"),
  command(
    "secret",
    "secret",
    "encrypted secrets for runs and deploys: global < repository < environment, the narrowest wins",
  ),
  command("notify", "notify", "notifications: Slack and signed webhooks"),
  command(
    "ci",
    "login [options]",
    "remember a server and token in ~/.config/slipway/config.json (mode 0600)",
  ),
  command("ci", "repo", "repositories the server builds"),
  command("ci", "runs", "runs on the server"),
  command(
    "ci",
    "rerun [options] <run>",
    "re-run a job (all its legs, or one with --matrix) and what depends on it, or every failed job, as a new attempt",
  ),
  command("ci", "cancel [options] <run>", "cancel a run"),
  command(
    "ci",
    "approve [options] <run>",
    "let a run's jobs waiting for an environment go (--env E: that one), or start a fork pull request's held run (without secrets)",
  ),
  command(
    "ci",
    "reject [options] <run>",
    "fail a run's jobs waiting for an environment, or end a fork pull request's held run without running it",
  ),
  command("ci", "dispatch [options] <repo> <workflow>", "start a workflow with workflow_dispatch"),
  command("ci", "token", "API tokens (admin)"),
  command("ci", "audit [options]", "the server's audit log: who changed what and when (admin)"),
  command("artifacts", "artifacts", "artifacts of runs on the server"),
  command(
    "environment",
    "environment",
    "deployment environments of a repository on the server: reviewers, wait timer, allowed refs, vars",
  ),
  command(
    "deploy",
    "deploy [options]",
    "deploy slipway.yaml's services: zero-downtime rollout through slipway's router, health-gated, rolled back on failure",
  ),
  command(
    "deploy",
    "rollback [options]",
    "deploy an earlier successful release again (default: the one before the current)",
  ),
  command("deploy", "promote [options]", "let a paused canary continue to 100%"),
  command("deploy", "abort [options]", "stop the deploy in progress and roll it back"),
  command("deploy", "releases [options]", "list an environment's releases, newest first"),
  command("deploy", "status [options]", "services, instances, versions, health and traffic weights"),
  command(
    "deploy",
    "up [options]",
    "start the environment's agent: re-adopt running instances and converge to the current release",
  ),
  command("deploy", "down [options]", "stop the environment's agent and its instances"),
  command(
    "demo",
    "demo [options]",
    "try slipway: make a sample multi-service app, run its pipeline, deploy v1, then v2 blue-green under load",
  ),
  command("config", "config", "check and print slipway.yaml (subcommands: validate, schema, show)"),
  command(
    "init",
    "init [options]",
    "write a commented slipway.yaml from the repository's Dockerfiles, compose file, package.json and workflows",
  ),
  command(
    "version",
    "version [options]",
    "print slipway's version (--json: with the Node.js version and platform)",
  ),
  command(
    "completion",
    "completion <shell>",
    "print a tab-completion script for bash, zsh or fish, made from every command and flag",
  ),
  command(
    "logs",
    "logs [options] <service|run>",
    "the output of a deployed service's instances (-f follows it), or with a run number the log of a CI run",
  ),
  command(
    "exec",
    "exec [options] <service> <command...>",
    "run a command in one of a deployed service's instances (docker) or beside it with its environment (process)",
  ),
];
