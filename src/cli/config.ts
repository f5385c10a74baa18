// `slipway config`: check slipway.yaml (every problem at file:line:col, exit 2), print its JSON Schema, and
// print the config as an environment sees it. Loads only src/config: no engine, store or server.
import { isAbsolute, join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { stringify } from "yaml";
import {
  checkConfig,
  configJsonSchemaText,
  loadConfig,
  resolveConfig,
  summarizeConfig,
} from "../config/index.js";
import { exitCodes, formatProblem } from "../lib/errors.js";
import { deprecatedOption } from "./flags.js";

export type ConfigIo = { stdout: (s: string) => void; stderr: (s: string) => void };

const processIo = (): ConfigIo => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
});

export type ConfigFileFlags = { config: string; directory: string };
export type ConfigValidateFlags = ConfigFileFlags & { json?: boolean };

/** The file as problems name it: the path given, under -C's directory unless it is absolute. */
export const configPath = (flags: ConfigFileFlags) =>
  isAbsolute(flags.config) ? flags.config : join(flags.directory, flags.config);

export function runConfigValidate(flags: ConfigValidateFlags, io: ConfigIo = processIo()): number {
  const file = configPath(flags);
  const check = checkConfig(file);
  if (flags.json) {
    const problems = check.problems.map((p) => ({
      file: p.file,
      line: p.line ?? null,
      col: p.col ?? null,
      message: p.message,
    }));
    io.stdout(`${JSON.stringify({ valid: check.valid, problems }, null, 2)}\n`);
  } else if (check.valid) {
    io.stdout(`ok: ${file} (${summarizeConfig(check.config)})\n`);
  } else {
    io.stderr(check.problems.map((p) => `${formatProblem(p)}\n`).join(""));
    const n = check.problems.length;
    io.stderr(`slipway: ${file} is invalid (${n} problem${n === 1 ? "" : "s"})\n`);
  }
  return check.valid ? exitCodes.success : exitCodes.usage;
}

export type ConfigShowFlags = ConfigFileFlags & { env?: string; json?: boolean };

/** The config as slipway reads it (a bad file throws its problems: exit 2, as every command does). */
export function runConfigShow(flags: ConfigShowFlags, io: ConfigIo = processIo()): number {
  const resolved = resolveConfig(loadConfig(configPath(flags)).config, flags.env);
  io.stdout(flags.json ? `${JSON.stringify(resolved, null, 2)}\n` : stringify(resolved, { lineWidth: 0 }));
  return exitCodes.success;
}

const fileOptions = <C extends Command>(command: C) =>
  command
    .option("-c, --config <file>", "the configuration file", "slipway.yaml")
    .option("-C, --directory <dir>", "the directory the configuration file is in", ".");

export function registerConfig(program: Command): void {
  const config = program
    .command("config")
    .description("check and print slipway.yaml (subcommands: validate, schema, show)");
  fileOptions(
    config
      .command("validate")
      .description("check slipway.yaml: every problem at file:line:col on stderr, exit 2 when invalid"),
  )
    .option("--json", "print {valid, problems: [{file, line, col, message}]} on stdout")
    .action((flags) => {
      process.exitCode = runConfigValidate(flags as ConfigValidateFlags);
    });
  config
    .command("schema")
    .description(
      "print the JSON Schema of slipway.yaml (the one published as schema/slipway.schema.json), for editors",
    )
    .action(() => {
      process.stdout.write(configJsonSchemaText());
    });
  const show = fileOptions(
    config
      .command("show")
      .description(
        "print slipway.yaml as slipway reads it: defaults filled in, an environment's overrides applied with -E, secrets by name only",
      ),
  )
    .option("-E, --env <name>", "apply this deploy environment's overrides (default: none, as written)")
    .option("--json", "print JSON instead of YAML")
    .action((flags) => {
      process.exitCode = runConfigShow(flags as ConfigShowFlags);
    });
  deprecatedOption(show, "-e <name>", "--env", "-e is --eventpath, as in `slipway run`");
}
