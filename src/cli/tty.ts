// The one decision whether to colour output, and the style that follows from it. Colour goes to a
// terminal only, and never with --json; --no-color and NO_COLOR (no-color.org) turn it off; FORCE_COLOR
// turns it on anywhere, which is how CI logs that render ANSI (GitHub Actions, slipway's own log view)
// keep it: CI alone (no terminal, often a log file) gets none.
import pc from "picocolors";

export type Style = {
  enabled: boolean;
  dim(s: string): string;
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
};

export type ColorInputs = {
  /** --json was given: stdout is a document, and stderr stays plain so it can be logged next to it. */
  json?: boolean;
  /** The stream the coloured text goes to (default: stderr, where progress goes). */
  stream?: { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  /** false for --no-color; undefined when not given (the process-wide choice, setColorFlag, applies). */
  flag?: boolean;
};

let colorFlag: boolean | undefined;

/** The process-wide --no-color (set once from the command line, before any command runs). */
export function setColorFlag(flag: boolean | undefined): void {
  colorFlag = flag;
}

const isOff = (v: string) => v === "0" || v.toLowerCase() === "false";

export function colorEnabled(opts: ColorInputs = {}): boolean {
  const env = opts.env ?? process.env;
  const stream = opts.stream ?? process.stderr;
  if ((opts.flag ?? colorFlag) === false) return false;
  if (env.NO_COLOR) return false;
  if (opts.json) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return !isOff(env.FORCE_COLOR);
  if (env.CI || env.TERM === "dumb") return false;
  return !!stream.isTTY;
}

export function makeStyle(opts: ColorInputs = {}): Style {
  const enabled = colorEnabled(opts);
  const c = pc.createColors(enabled);
  return {
    enabled,
    dim: c.dim,
    bold: c.bold,
    red: c.red,
    green: c.green,
    yellow: c.yellow,
    cyan: c.cyan,
    magenta: c.magenta,
  };
}
