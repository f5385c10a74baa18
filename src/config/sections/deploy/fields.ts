// The building blocks the deploy section's schemas share: name patterns, oneOf (a value in one of several
// forms, told apart by its kind), and the fields written alike in many places (durations, sizes, commands,
// env, publish). Their descriptions and messages are part of the published JSON Schema and the docs.
import { z } from "zod";
import { serviceNamePattern } from "../build.js";
import { durationHelp, parseDuration, parsePublish, parseSize, sizeHelp } from "./values.js";

export const appNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;
export const environmentNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;
export const secretNamePattern = /^[A-Z_][A-Z0-9_]*$/;
export const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string ("${v.length > 40 ? `${v.slice(0, 40)}…` : v}")`;
  return `a ${typeof v} (${String(v)})`;
}

// ---- schema helpers ----

type Kind = "string" | "number" | "boolean" | "array" | "object";
type Branches = Partial<Record<Kind, z.ZodType>>;
type BranchOutput<B extends Branches> = { [K in keyof B]: z.output<NonNullable<B[K]>> }[keyof B];

const kindOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * A value written in one of several forms, told apart by its kind (a string, a list, a mapping…). Unlike
 * z.union, a mistake inside the chosen form is reported where it is (`restart.policy: invalid option`)
 * rather than as "no form matched" at the top; the JSON Schema still lists every form.
 */
export function oneOf<B extends Branches>(
  branches: B,
  expected: string,
): z.ZodType<BranchOutput<B>, unknown> {
  const schema = z.any().transform((value, ctx) => {
    const branch = branches[kindOf(value) as Kind];
    if (!branch) {
      if (value === undefined) ctx.addIssue({ code: "invalid_type", expected: "object", input: value });
      else ctx.addIssue({ code: "custom", message: `expected ${expected}, got ${describeValue(value)}` });
      return value as BranchOutput<B>;
    }
    const result = branch.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
      // The parse fails anyway; the value as written is what the cross-reference checks then read.
      return value as BranchOutput<B>;
    }
    return result.data as BranchOutput<B>;
  });
  const anyOf = Object.values(branches).map((b) => {
    const { $schema: _, ...json } = z.toJSONSchema(b as z.ZodType, { io: "input", unrepresentable: "any" });
    return json;
  });
  return schema.meta({ anyOf }) as unknown as z.ZodType<BranchOutput<B>, unknown>;
}

/** A text value checked by a parser that throws (durations, sizes…): the parser's message is the problem. */
export function parsed<T extends z.ZodType<string | number>>(
  schema: T,
  parse: (v: string | number) => unknown,
) {
  return schema.superRefine((value, ctx) => {
    try {
      parse(value as string | number);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });
}

const stringOrNumber = (help: string) =>
  z.union([z.string(), z.number()], { error: (iss) => `expected ${help}, got ${describeValue(iss.input)}` });

export const duration = (description: string) =>
  parsed(stringOrNumber(durationHelp), parseDuration).describe(`${description} (${durationHelp}).`);
export const size = (description: string) =>
  parsed(stringOrNumber(sizeHelp), parseSize).describe(description);

export type DurationConfig = string | number;

export const named = (pattern: RegExp, what: string) =>
  z.string().regex(pattern, `${what} use a-z, 0-9, '.', '_' and '-', starting with a letter or digit`);
export const serviceName = named(serviceNamePattern, "service names");
export const secretName = z
  .string()
  .regex(secretNamePattern, "secret names use A-Z, 0-9 and _, not starting with a digit");

export const argv = z.array(z.string()).min(1, "the command needs at least one word");
export const command = (description: string) =>
  oneOf(
    { string: z.string().min(1), array: argv },
    "a command (a string run by sh -c, or a list of words)",
  ).describe(description);

const envValue = z.union([z.string(), z.number(), z.boolean()], {
  error: (iss) => `expected a string, number or boolean, got ${describeValue(iss.input)}`,
});
export const env = z
  .record(
    z
      .string()
      .regex(envNamePattern, "environment variable names use A-Z, a-z, 0-9 and _, not starting with a digit"),
    envValue.transform(String),
  )
  .describe("Environment variables (numbers and booleans are written as text).");

export const publish = parsed(
  stringOrNumber("a port (8080) or host:port (127.0.0.1:8080)"),
  parsePublish,
).describe("Where slipway's router listens for the service: a port (on 127.0.0.1) or host:port.");

export const port = z.number().int().min(1).max(65535);
