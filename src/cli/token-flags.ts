// `--token` is accepted but a token in argv is visible to every local user (`ps`, /proc) and lands in shell
// history; `--token-file FILE` and the environment keep it off the command line. The file is refused when
// group or others can read it, as ssh refuses such a key.
import { readFileSync, statSync } from "node:fs";
import { Option } from "@commander-js/extra-typings";
import { UserError } from "../lib/errors.js";

export type TokenFlags = { token?: string; tokenFile?: string };

/** The token in FILE: one trailing newline (as `echo` or an editor leaves it) is not part of it. */
export function readTokenFile(path: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UserError(`--token-file ${path}: ${(err as NodeJS.ErrnoException).message}`);
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0)
    throw new UserError(
      `--token-file ${path}: readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); chmod 600 it`,
    );
  const token = text.replace(/\r?\n$/, "");
  if (!token) throw new UserError(`--token-file ${path}: the file is empty`);
  return token;
}

/**
 * Folds --token-file into --token and warns about a token given on the command line; the commands then
 * read `token` as before (falling back to their environment variable when neither was given).
 */
export function resolveTokenFlags(
  flags: TokenFlags,
  fromArgv: boolean,
  warn: (line: string) => void,
): string | undefined {
  if (flags.tokenFile !== undefined) {
    if (flags.token !== undefined) throw new UserError("give --token or --token-file, not both");
    return readTokenFile(flags.tokenFile);
  }
  if (flags.token !== undefined && fromArgv)
    warn(
      "slipway: warning: --token on the command line is visible to other local users (ps, /proc) and shell history; use --token-file or the environment\n",
    );
  return flags.token;
}

/** Kept for commands not yet moved to hiddenTokenOption + tokenFileFor (consistency.test flags a visible --token). */
export const tokenFileOption = [
  "--token-file <file>",
  "read the token from this file instead of --token (mode 0600; one trailing newline ignored)",
] as const;

/**
 * A preAction hook for a command with --token and --token-file: resolves them before its action runs, so
 * the action reads `token` as before (falling back to its environment variable when neither was given).
 */
export function resolveTokenHook(self: unknown, action: TokenCommand): void {
  // A parent's hook also runs for its subcommands' actions; each command resolves only its own flags.
  if (self !== action) return;
  const token = resolveTokenFlags(action.opts(), action.getOptionValueSource("token") === "cli", (l) =>
    process.stderr.write(l),
  );
  if (token !== undefined) action.setOptionValue("token", token);
}

type TokenCommand = {
  opts(): TokenFlags;
  getOptionValueSource(key: string): string | undefined;
  setOptionValue(key: string, value: unknown): unknown;
};

/**
 * `--token VALUE`, hidden from help: still accepted (with the warning above) so scripts keep working, but
 * never offered; `--token-file` (tokenFileFor) and the environment variable are the ways in.
 */
export function hiddenTokenOption(what = "API token", envVar = "SLIPWAY_TOKEN") {
  return new Option(
    "--token <token>",
    `${what} (visible to other users: use --token-file or ${envVar})`,
  ).hideHelp();
}

export function tokenFileFor(what = "API token", envVar = "SLIPWAY_TOKEN") {
  return ["--token-file <file>", `read the ${what} from this file (mode 0600; else env ${envVar})`] as const;
}
