// The three kinds of error slipway distinguishes, and the one mapping from error to exit code.

/** A problem in a location of a file, reported as `file:line:col: message`. */
export type Problem = { file: string; line?: number; col?: number; message: string };

export function formatProblem(p: Problem): string {
  if (p.line === undefined) return `${p.file}: ${p.message}`;
  return `${p.file}:${p.line}:${p.col ?? 1}: ${p.message}`;
}

/** Bad input or configuration: printed without a stack, exit code 2. */
export class UserError extends Error {
  readonly problems: Problem[];
  constructor(message: string, problems: Problem[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
    this.problems = problems;
  }
}

/** The operation itself failed (a job failed, a push was refused): exit code 1. */
export class OperationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperationError";
  }
}

export const exitCodes = { success: 0, failure: 1, usage: 2, internal: 70 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof UserError) return exitCodes.usage;
  if (err instanceof OperationError) return exitCodes.failure;
  return exitCodes.internal;
}

export function describeError(err: unknown): string {
  if (err instanceof UserError) {
    if (err.problems.length === 0) return err.message;
    return err.problems.map(formatProblem).join("\n");
  }
  if (err instanceof OperationError) return err.message;
  const e = err instanceof Error ? err : new Error(String(err));
  return `internal error (slipway ${process.env.npm_package_version ?? ""} on node ${process.version}): ${e.stack ?? e.message}`;
}
