// The `slipway` program: which command group an invocation needs, the program with only that group (or, for
// help, a version or a typo, with just the names of all commands), what every command gets whichever group
// defined it (finishProgram), and the one place that maps errors to exit codes.
import { Command, CommanderError, Help, Option } from "@commander-js/extra-typings";
import { describeError, exitCodeFor, exitCodes, UserError } from "../lib/errors.js";
import { slipwayVersion } from "../lib/version.js";
import { type CommandGroup, commandGroups, topLevelCommands } from "./commands.js";
import { aliasOption } from "./flags.js";
import { applyHelp } from "./help.js";
import { setColorFlag } from "./tty.js";

/**
 * The group whose module defines the command that `argv` runs (or asks help for, with `slipway help CMD`);
 * none for `--help`, `--version`, no command or an unknown one.
 */
export function groupFor(argv: readonly string[]): CommandGroup | undefined {
  const words = argv.slice(2).filter((a) => !a.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return topLevelCommands.find((c) => c.name === name)?.group;
}

export function createProgram(): Command {
  return (
    new Command()
      .name("slipway")
      .description("Self-hosted CI/CD: run GitHub Actions workflows unchanged, release, deploy, notify.")
      .version(slipwayVersion)
      .option("--no-color", "no colours (also NO_COLOR=1); FORCE_COLOR=1 keeps them without a terminal")
      // `slipway --version` is slipway's; `slipway deploy --version v1.2.0` is the release's.
      .enablePositionalOptions()
      .exitOverride()
      .configureOutput({ writeErr: (s) => process.stderr.write(s) }) as unknown as Command
  );
}

/**
 * Every top-level command by name and description only: enough for the program's help, for commander to
 * suggest a command for a typo, and for `--version`; none of them can run.
 */
export function listCommands(program: Command): void {
  for (const c of topLevelCommands) program.command(c.name).description(c.description);
}

function* commandsOf(cmd: Command): Generator<Command> {
  yield cmd;
  for (const c of cmd.commands) yield* commandsOf(c as Command);
}

/**
 * What every command gets, whichever group registered it: `--no-color` (hidden below the root, whose
 * help lists it: with positional options the root's own flag must come before the command), act's
 * `--dryrun` wherever `--dry-run` is, and the grouped help with examples and exit codes.
 */
export function finishProgram(program: Command): Command {
  for (const cmd of commandsOf(program)) {
    if (cmd !== program && !cmd.options.some((o) => o.long === "--no-color"))
      cmd.addOption(new Option("--no-color", "no colours (also NO_COLOR=1)").hideHelp());
    if (cmd.options.some((o) => o.long === "--dry-run") && !cmd.options.some((o) => o.long === "--dryrun"))
      aliasOption(cmd, "--dryrun", "--dry-run");
  }
  program.hook("preAction", (root, action) => {
    if (root.getOptionValue("color") === false || action.getOptionValue("color") === false)
      setColorFlag(false);
    // As for --token: accepted so scripts keep working, but said once, since anyone on the machine can
    // read a command line.
    const database = action.getOptionValue("database");
    if (
      typeof database === "string" &&
      action.getOptionValueSource("database") === "cli" &&
      urlPassword(database)
    )
      process.stderr.write(
        "slipway: warning: the password in --database is visible to other local users (ps, /proc) and shell history; set SLIPWAY_DATABASE, or leave the password out and use PGPASSWORD or ~/.pgpass\n",
      );
  });
  // Each command as its group registers it: without the hidden --no-color's `[options]`.
  const terms = new Map(topLevelCommands.map((c) => [c.name, c.term]));
  const plain = new Help();
  program.configureHelp({
    subcommandTerm: (cmd) => terms.get(cmd.name()) ?? plain.subcommandTerm(cmd),
  });
  const groups = new Map(topLevelCommands.map((c) => [c.name, c.group]));
  applyHelp(program, (name) => groups.get(name));
  return program;
}

/** The program with every group loaded and finished: for completion scripts and the consistency test. */
export async function loadFullProgram(): Promise<Command> {
  const program = createProgram();
  for (const group of Object.keys(commandGroups) as CommandGroup[]) (await commandGroups[group]())(program);
  return finishProgram(program);
}

export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  const group = groupFor(argv);
  if (group) (await commandGroups[group]())(program);
  else listCommands(program);
  finishProgram(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
      )
        return 0;
      return exitCodes.usage;
    }
    if (err instanceof UserError && err.problems.length) {
      process.stderr.write(`${describeError(err)}\n`);
      process.stderr.write(
        `slipway: ${err.message} (${err.problems.length} problem${err.problems.length > 1 ? "s" : ""}); nothing ran\n`,
      );
    } else {
      process.stderr.write(`slipway: ${describeError(err)}\n`);
    }
    return exitCodeFor(err);
  }
}

/** Whether a database URL carries a password (postgres://user:secret@host/db). */
function urlPassword(url: string): boolean {
  try {
    return new URL(url).password !== "";
  } catch {
    return /\/\/[^:/@]*:[^@/]+@/.test(url);
  }
}
