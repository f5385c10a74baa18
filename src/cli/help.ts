// What `slipway --help` adds to commander's: the commands grouped by purpose, examples, the exit codes,
// the colour switches and where the docs are. Applied the same way whether the program holds every group
// or only the names of the commands (program.test.ts compares the two).
import type { Command } from "@commander-js/extra-typings";
import { exitCodes } from "../lib/errors.js";
import type { CommandGroup } from "./commands.js";

export const helpSections = [
  "Run workflows:",
  "Release & build:",
  "Deploy:",
  "Server & runners:",
  "Configuration:",
  "Other commands:",
] as const;
export type HelpSection = (typeof helpSections)[number];

/** Where a command is listed, by name; a command not named here goes by its module (sectionOfGroup). */
const sectionOfCommand: Record<string, HelpSection> = {
  demo: "Run workflows:",
  run: "Run workflows:",
  actions: "Run workflows:",
  release: "Release & build:",
  build: "Release & build:",
  registry: "Release & build:",
  images: "Release & build:",
  deploy: "Deploy:",
  rollback: "Deploy:",
  promote: "Deploy:",
  abort: "Deploy:",
  releases: "Deploy:",
  status: "Deploy:",
  up: "Deploy:",
  down: "Deploy:",
  environment: "Server & runners:",
  exec: "Deploy:",
  serve: "Server & runners:",
  runner: "Server & runners:",
  login: "Server & runners:",
  repo: "Server & runners:",
  runs: "Server & runners:",
  logs: "Server & runners:",
  rerun: "Server & runners:",
  cancel: "Server & runners:",
  approve: "Server & runners:",
  reject: "Server & runners:",
  dispatch: "Server & runners:",
  token: "Server & runners:",
  audit: "Server & runners:",
  artifacts: "Server & runners:",
  forge: "Server & runners:",
  init: "Configuration:",
  config: "Configuration:",
  secret: "Configuration:",
  notify: "Configuration:",
  completion: "Configuration:",
  version: "Configuration:",
};

const sectionOfGroup: Partial<Record<CommandGroup, HelpSection>> = {
  run: "Run workflows:",
  actions: "Run workflows:",
  build: "Release & build:",
  deploy: "Deploy:",
  serve: "Server & runners:",
  ci: "Server & runners:",
  config: "Configuration:",
};

export function sectionFor(name: string, group: CommandGroup | undefined): HelpSection {
  return sectionOfCommand[name] ?? (group && sectionOfGroup[group]) ?? "Other commands:";
}

/** Where the documentation is: the pages ship in the source repository (docs/). */
export const docsPointer = "docs/cli.md (every command and flag) and docs/README.md in slipway's repository";

export const exitCodeLines: readonly (readonly [number, string])[] = [
  [exitCodes.success, "success"],
  [exitCodes.failure, "the operation failed (a job, a build, a deploy, a push)"],
  [exitCodes.usage, "usage or configuration error (a bad flag, an invalid slipway.yaml, an unknown run)"],
  [exitCodes.internal, "internal error: a bug in slipway (the message has a stack: please report it)"],
  [130, "interrupted (a second Ctrl-C; the first one cancels and cleans up)"],
];

const rootExamples: readonly (readonly [string, string])[] = [
  ["slipway demo", "try it: a sample app's pipeline, then a deploy"],
  ["slipway run", "run the workflows a push triggers, in this repository"],
  ["slipway run pull_request -j test", "run one job (and the jobs it needs) for a pull request"],
  ["slipway deploy -E staging", "deploy slipway.yaml's services to the staging environment"],
  ["slipway release next --push", "tag the next version and push the tag"],
  ["slipway completion bash >~/.local/share/bash-completion/completions/slipway", "tab completion"],
];

/** Examples shown at the end of a command's own --help, by its path without `slipway`. */
const commandExamples: Record<string, readonly (readonly [string, string])[]> = {
  run: [
    ["slipway run", "the workflows a push of HEAD triggers"],
    ["slipway run -l", "list workflows, their triggers and jobs"],
    ["slipway run -n pull_request", "print what a pull request would run, run nothing"],
    ["slipway run -s NPM_TOKEN --secret-file .secrets", "secrets from the environment and a dotenv file"],
    ["slipway run workflow_dispatch --input level=debug", "a manual run with an input"],
  ],
  deploy: [
    ["slipway deploy -n", "print the plan: what changes against what runs, and why"],
    ["slipway deploy -E staging --service api", "deploy only api to staging"],
    ["slipway deploy -i api=registry.local/api:1.4.0 --version 1.4.0", "deploy a built image"],
  ],
  "release next": [
    ["slipway release next", "print the next tag (stdout) and why (stderr)"],
    ["slipway release next --json", "version, tag, previous, bump and changelog as JSON"],
    ["slipway release next --push", "create the annotated tag and push it"],
  ],
  completion: [
    ["slipway completion bash >~/.local/share/bash-completion/completions/slipway", "bash"],
    ['slipway completion zsh >"${fpath[1]}/_slipway"', "zsh"],
    ["slipway completion fish >~/.config/fish/completions/slipway.fish", "fish"],
  ],
  "secret set": [['printf %s "$TOKEN" | slipway secret set NPM_TOKEN --repo acme/shop', "from stdin"]],
};

function table(rows: readonly (readonly [string | number, string])[]): string {
  const width = Math.min(44, Math.max(...rows.map(([a]) => String(a).length)));
  return rows
    .map(([a, b]) => {
      const left = String(a);
      return left.length > width ? `  ${left}\n  ${"".padEnd(width)}  ${b}` : `  ${left.padEnd(width)}  ${b}`;
    })
    .join("\n");
}

/** The exit codes in a line, under each command's own help (`slipway --help` explains them). */
export const exitCodesInBrief =
  "Exit codes: 0 success, 1 failed, 2 usage or configuration error, 70 bug, 130 interrupted (slipway --help)";

export function rootHelpText(): string {
  return [
    "",
    "Examples:",
    table(rootExamples),
    "",
    "Exit codes:",
    table(exitCodeLines),
    "",
    "Colour: on a terminal only; --no-color or NO_COLOR=1 turn it off, FORCE_COLOR=1 keeps it (CI logs that render ANSI).",
    `Docs: ${docsPointer}`,
    "",
  ].join("\n");
}

/** Every command by its path (`deploy`, `release next`), the root as "". */
function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent as Command | null) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Sections for the top-level commands, the examples, exit codes and docs pointer for the root, and each
 * command's examples where it has some.
 */
export function applyHelp(program: Command, groupOf: (name: string) => CommandGroup | undefined): void {
  for (const c of program.commands) c.helpGroup(sectionFor(c.name(), groupOf(c.name())));
  // commander lists groups in the order it first meets them: make that the order of helpSections.
  const rank = (c: { helpGroup(): string }) => helpSections.indexOf(c.helpGroup() as HelpSection);
  (program.commands as Command[]).sort((a, b) => rank(a) - rank(b));
  // `help [command]` goes last, with the other commands about slipway itself.
  program.commandsGroup("Configuration:").helpCommand(true);
  program.addHelpText("after", rootHelpText());
  const visit = (cmd: Command) => {
    const examples = commandExamples[pathOf(cmd)];
    if (examples) cmd.addHelpText("after", `\nExamples:\n${table(examples)}`);
    if ((cmd as { _actionHandler?: unknown })._actionHandler)
      cmd.addHelpText("after", `\n${exitCodesInBrief}`);
    for (const c of cmd.commands) visit(c as Command);
  };
  for (const c of program.commands) visit(c as Command);
}
