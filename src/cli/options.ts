// Parsing of repeated `NAME=VALUE` flags and dotenv files for secrets, variables and inputs.
import { readFileSync } from "node:fs";
import dotenv from "dotenv";
import { UserError } from "../lib/errors.js";

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `NAME=VALUE` pairs; a bare `NAME` takes its value from the environment (as act's `-s NAME`). */
export function parsePairs(
  pairs: string[],
  flag: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    const name = (eq < 0 ? p : p.slice(0, eq)).trim();
    if (!name) throw new UserError(`${flag} '${p}': expected NAME=VALUE`);
    if (eq < 0) {
      const v = env[name];
      if (v === undefined)
        throw new UserError(`${flag} ${name}: no value given and ${name} is not set in the environment`);
      out[name] = v;
    } else out[name] = p.slice(eq + 1);
  }
  return out;
}

export function readDotenvFile(path: string, flag: string): Record<string, string> {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (err) {
    throw new UserError(`${flag} ${path}: ${(err as Error).message}`);
  }
  return dotenv.parse(content);
}

const secretName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateNames(values: Record<string, string>, what: string): void {
  for (const k of Object.keys(values)) {
    if (!secretName.test(k))
      throw new UserError(
        `invalid ${what} name '${k}': use letters, digits and _, not starting with a digit`,
      );
  }
}
