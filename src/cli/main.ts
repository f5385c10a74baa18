// The `slipway` command: one program, thin commands over the domains, one place mapping errors to exit codes.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { describeError, exitCodeFor, exitCodes, UserError } from "../lib/errors.js";
import { registerActions } from "./actions.js";
import { registerBuild } from "./build.js";
import { registerCiCommands } from "./ci.js";
import { registerImages } from "./images.js";
import { registerRegistry } from "./registry.js";
import { registerNotify } from "./notify.js";
import { registerRun } from "./run.js";
import { registerSecret } from "./secret.js";
import { registerServe } from "./serve.js";
import { registerVersion } from "./version.js";

const version = "0.1.0";

// A reader that went away (`slipway runs list | head`) is not an error of slipway's.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("slipway")
    .description("Self-hosted CI/CD: run GitHub Actions workflows unchanged, release, deploy, notify.")
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerRun(program as unknown as Command);
  registerActions(program as unknown as Command);
  registerVersion(program as unknown as Command);
  registerServe(program as unknown as Command);
  registerCiCommands(program as unknown as Command);
  registerBuild(program as unknown as Command);
  registerRegistry(program as unknown as Command);
  registerImages(program as unknown as Command);
  registerSecret(program as unknown as Command);
  registerNotify(program as unknown as Command);
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

const code = await main(process.argv);
process.exitCode = code;
