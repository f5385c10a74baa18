// The `slipway` command: one program, thin commands over the domains, one place mapping errors to exit codes.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { describeError, exitCodeFor, exitCodes, UserError } from "../lib/errors.js";

type Registrar = (program: Command) => void;

/**
 * Each command group is loaded only when it is used: `slipway run` does not load the server, the
 * database drivers or the container engine client (start-up time, and the memory every step's fork copies).
 */
const groups: Record<string, () => Promise<Registrar[]>> = {
  run: async () => [(await import("./run.js")).registerRun as unknown as Registrar],
  actions: async () => [(await import("./actions.js")).registerActions as unknown as Registrar],
  version: async () => [(await import("./version.js")).registerVersion as unknown as Registrar],
  serve: async () => [(await import("./serve.js")).registerServe as unknown as Registrar],
  build: async () => [(await import("./build.js")).registerBuild as unknown as Registrar],
  registry: async () => [(await import("./registry.js")).registerRegistry as unknown as Registrar],
  images: async () => [(await import("./images.js")).registerImages as unknown as Registrar],
  secret: async () => [(await import("./secret.js")).registerSecret as unknown as Registrar],
  notify: async () => [(await import("./notify.js")).registerNotify as unknown as Registrar],
  ci: async () => [(await import("./ci.js")).registerCiCommands as unknown as Registrar],
  deploy: async () => [(await import("./deploy.js")).registerDeploy as unknown as Registrar],
  demo: async () => [(await import("./demo.js")).registerDemo as unknown as Registrar],
};
const commandGroup: Record<string, string> = {
  runner: "serve",
  login: "ci",
  repo: "ci",
  runs: "ci",
  logs: "ci",
  rerun: "ci",
  cancel: "ci",
  dispatch: "ci",
  token: "ci",
  rollback: "deploy",
  promote: "deploy",
  abort: "deploy",
  releases: "deploy",
  status: "deploy",
  up: "deploy",
  down: "deploy",
};

async function registrars(argv: string[]): Promise<Registrar[]> {
  const first = argv.slice(2).find((a) => !a.startsWith("-"));
  const group = first ? (groups[first] ? first : commandGroup[first]) : undefined;
  if (group) return groups[group]();
  // Help, a typo or no command: every group, so help lists them all and commander can suggest.
  return (await Promise.all(Object.values(groups).map((g) => g()))).flat();
}

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
    // `slipway --version` is slipway's; `slipway deploy --version v1.2.0` is the release's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of await registrars(argv)) register(program as unknown as Command);
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
