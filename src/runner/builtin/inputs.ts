// Reading `with:` inputs the way @actions/core does for the real actions: values are trimmed, absent and
// empty are the same, and booleans follow each action's own parser (core.getBooleanInput is strict YAML,
// actions/cache compares with "true" and treats anything else as false).

import os from "node:os";
import path from "node:path";
import { UserError } from "../../lib/errors.js";
import type { BuiltinActionContext } from "./types.js";

export function getInput(ctx: BuiltinActionContext, name: string): string {
  return (ctx.inputs[name] ?? "").trim();
}

export function getRequiredInput(ctx: BuiltinActionContext, name: string): string {
  const value = getInput(ctx, name);
  if (value === "") throw new UserError(`Input required and not supplied: ${name}`);
  return value;
}

/** core.getBooleanInput: only the YAML 1.2 core schema spellings, anything else is an error. */
export function getBooleanInput(ctx: BuiltinActionContext, name: string, defaultValue: boolean): boolean {
  const value = getInput(ctx, name);
  if (value === "") return defaultValue;
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new UserError(
    `Input does not meet YAML 1.2 "Core Schema" specification: ${name}\n` +
      "Support boolean input list: `true | True | TRUE | false | False | FALSE`",
  );
}

/** actions/cache's getInputAsBool: "true" in any case is true, everything else false. */
export function getLenientBooleanInput(ctx: BuiltinActionContext, name: string): boolean {
  return getInput(ctx, name).toUpperCase() === "TRUE";
}

/** actions/cache's getInputAsArray: one value per non-empty line, `! pattern` tightened to `!pattern`. */
export function getInputAsArray(ctx: BuiltinActionContext, name: string): string[] {
  return getInput(ctx, name)
    .split("\n")
    .map((s) => s.replace(/^!\s+/, "!").trim())
    .filter((s) => s !== "");
}

/** Expands a leading `~` or `~/` to the home directory, as the actions do for their `path` inputs. */
export function expandHome(p: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return path.join(home, p.slice(2));
  return p;
}

/** A path input resolved like the real action running with the workspace as its working directory. */
export function resolveInputPath(ctx: BuiltinActionContext, p: string): string {
  return path.resolve(ctx.workspace, expandHome(p, ctx.home || os.homedir()));
}
