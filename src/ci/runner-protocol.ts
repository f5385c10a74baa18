// The runner protocol's messages, checked field by field before anything is stored: a runner is
// another machine, possibly compromised, and what it reports drives the run's state machine (an
// unknown job status once left a run running forever). Every field has a type, an enum where there is
// one, and a size; unknown fields are dropped.
import { z } from "zod";
import { UserError } from "../lib/errors.js";
import { annotationLevels, finishedJobStatuses } from "../store/index.js";

const stepOutcomes = ["success", "failure", "cancelled", "skipped"] as const;

/** Epoch milliseconds: a whole number from 0 to year 10000. */
const epochMs = z.number().int().min(0).max(253_402_300_800_000);

/** Log chunk text: the runner's shipper sends about 64 KiB at a time; this leaves room, no more. */
export const maxLogChunkChars = 4 * 1024 * 1024;
const maxOutputs = 1000;
const maxOutputChars = 1024 * 1024;

export const claimBody = z.strictObject({
  /** Labels to claim with: a subset of the runner's registered labels (default: all of them). */
  labels: z.array(z.string().min(1).max(100)).max(64).optional(),
  /** Long poll: how long to wait for a leg, at most 25 s. */
  waitMs: z.number().int().min(0).max(25_000).optional(),
  /**
   * The runner takes forks' pull request legs: it runs them as an unprivileged user, or its operator
   * declared the machine disposable (`--untrusted=same-user`). Absent or false: it is never offered one.
   */
  untrusted: z.boolean().optional(),
});

/** A heartbeat carries nothing but the job id in its URL. */
export const heartbeatBody = z.strictObject({});

export const logBody = z.strictObject({
  seq: z.number().int().min(1).max(1_000_000_000),
  content: z.string().max(maxLogChunkChars),
});

export const stepBody = z.strictObject({
  idx: z.number().int().min(0).max(100_000),
  id: z.string().max(1000),
  // A step's default name is its script's first line, which can be long; bounded all the same.
  name: z.string().max(16 * 1024),
  status: z.enum(["running", "completed"]),
  outcome: z.enum(stepOutcomes).optional(),
  conclusion: z.enum(stepOutcomes).optional(),
  startedAt: epochMs.optional(),
  finishedAt: epochMs.optional(),
});

const outputs = z
  .record(z.string().min(1).max(255), z.string().max(maxOutputChars))
  .refine((o) => Object.keys(o).length <= maxOutputs, { message: `at most ${maxOutputs} outputs` })
  .refine((o) => Object.values(o).reduce((n, v) => n + v.length, 0) <= 4 * maxOutputChars, {
    message: `outputs larger than ${4 * maxOutputChars} characters in all`,
  });

/** Annotations a job may report; GitHub keeps 10 errors and 10 warnings per step, far fewer. */
export const maxAnnotations = 1000;
/** A job's step summaries together; GitHub keeps 1 MiB per step. */
export const maxSummaryChars = 8 * 1024 * 1024;
const position = z.number().int().min(0).max(100_000_000);

export const annotationBody = z.object({
  level: z.enum(annotationLevels),
  message: z.string().max(64 * 1024),
  file: z.string().max(4096).optional(),
  line: position.optional(),
  endLine: position.optional(),
  col: position.optional(),
  endColumn: position.optional(),
  title: z.string().max(1024).optional(),
  /** The step that made it (GitHub's runner sends `stepNumber`), 1-based; absent: the job's set-up. */
  stepNumber: z.number().int().min(1).max(100_000).optional(),
  stepName: z.string().max(1024).optional(),
});

/**
 * A job's end as the runner reports it. The server stores status, outputs, message, annotations and
 * the step summary; the rest of a runner's JobResult (steps…) is accepted with a shape check and not
 * stored (steps arrive one by one in step reports).
 */
export const completeBody = z.object({
  status: z.enum(finishedJobStatuses),
  outputs: outputs.default({}),
  message: z
    .string()
    .max(64 * 1024)
    .optional(),
  id: z.string().max(1000).optional(),
  name: z.string().max(1000).optional(),
  workflow: z.string().max(4096).optional(),
  durationMs: z.number().min(0).optional(),
  steps: z.array(z.unknown()).max(10_000).optional(),
  annotations: z.array(annotationBody).max(maxAnnotations).optional(),
  summary: z.string().max(maxSummaryChars).optional(),
  /** `environment.url` as the runner evaluated it at the job's end (kept to 2048 characters). */
  environmentUrl: z
    .string()
    .max(64 * 1024)
    .optional(),
  matrix: z.record(z.string(), z.unknown()).nullable().optional(),
  continueOnError: z.boolean().optional(),
});

export type ClaimBody = z.infer<typeof claimBody>;
export type HeartbeatBody = z.infer<typeof heartbeatBody>;
export type LogBody = z.infer<typeof logBody>;
export type StepBody = z.infer<typeof stepBody>;
export type CompleteBody = z.infer<typeof completeBody>;

/** The problems of a message, as one line naming each field (values are not echoed). */
export function protocolProblems(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
}

/** Parses a runner message or throws a UserError (400) naming the fields. */
export function parseRunnerMessage<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new UserError(`invalid ${what}: ${protocolProblems(r.error)}`);
  return r.data;
}

/** A job row id from a URL: a positive whole number. */
export function jobRowIdParam(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new UserError(`invalid job id ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/**
 * The labels a registered runner claims with: the registered ones, or the requested subset of them.
 * A label outside the registration is refused — labels are what decide which jobs (and so which
 * secrets) a runner receives, so only the admin who registered it chooses them.
 */
export function claimLabels(registered: string[], requested: string[] | undefined): string[] {
  if (requested === undefined) return registered;
  const allowed = new Set(registered.map((l) => l.toLowerCase()));
  const foreign = requested.filter((l) => !allowed.has(l.toLowerCase()));
  if (foreign.length > 0)
    throw new UserError(
      `labels: ${foreign.map((l) => JSON.stringify(l)).join(", ")} ${foreign.length === 1 ? "is" : "are"} not among this runner's registered labels (${registered.join(", ") || "none"})`,
    );
  return requested;
}

/** Another run's id as download-artifact's `run-id` gives it (digits), for the artifact calls. */
export function runIdParam(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new UserError(`run must be a run id (digits), got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}
