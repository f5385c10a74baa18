// Whether to decorate output: never with --json, NO_COLOR, CI, or when stderr is not a terminal.
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

export function makeStyle(opts: {
  json?: boolean;
  stream?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}): Style {
  const env = opts.env ?? process.env;
  const stream = opts.stream ?? process.stderr;
  const enabled = !opts.json && !env.NO_COLOR && !env.CI && !!stream.isTTY;
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
