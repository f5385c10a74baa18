// Destructive commands ask first: on a terminal, a `[y/N]` question on stderr; anywhere else (no TTY, CI,
// --json) they refuse unless given --yes, as gh and Kamal do, so a script never deletes by accident and
// never hangs on a question nobody sees. Nothing is changed until the answer is yes.
import { createInterface } from "node:readline/promises";
import { OperationError, UserError } from "../lib/errors.js";

export type ConfirmIo = {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
};

export const processConfirmIo = (): ConfirmIo => ({
  stdin: process.stdin,
  stderr: process.stderr,
  env: process.env,
});

export type ConfirmFlags = { yes?: boolean; json?: boolean };

/** Whether a question can be asked and answered: both ends a terminal, not CI, not --json. */
export function canAsk(flags: ConfirmFlags, io: ConfirmIo): boolean {
  return !flags.json && !io.env.CI && !!io.stdin.isTTY && !!io.stderr.isTTY;
}

/**
 * Returns when the user agreed (or passed --yes); throws otherwise: a UserError (exit 2) when no one can be
 * asked, an OperationError (exit 1) when the answer was not yes.
 */
export async function confirm(
  question: string,
  flags: ConfirmFlags,
  io: ConfirmIo = processConfirmIo(),
): Promise<void> {
  if (flags.yes) return;
  if (!canAsk(flags, io))
    throw new UserError(
      `${question.replace(/\?$/, "")}: pass --yes to confirm (not asking: no terminal); nothing was changed`,
    );
  // Not readline's terminal mode: the terminal's own line editing is enough for a y/N answer.
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  let answer: string;
  try {
    // Input that ends before a line (Ctrl-D) is a no.
    answer = await new Promise<string>((done) => {
      rl.once("close", () => done(""));
      rl.question(`${question} [y/N] `).then(done, () => done(""));
    });
  } finally {
    rl.close();
  }
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new OperationError("not confirmed; nothing was changed");
}

// Commander's inferred types cannot follow options added by a helper; the actions declare their flags.
export function yesOption(cmd: any): any {
  return cmd.option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)");
}
