// The kinds of error slipway distinguishes, and the one mapping from an error to an exit code, to an
// HTTP status and to the wire (the server's API, the deploy agent's socket, traffic's admin API), and
// back again in the clients, so that a refusal keeps its kind from where it is thrown to the CLI's exit.

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

/** A user error about something that does not exist (a repository, a run, a job): HTTP 404, exit 2. */
export class NotFoundError extends UserError {
  constructor(message: string, problems: Problem[] = [], options?: ErrorOptions) {
    super(message, problems, options);
    this.name = "NotFoundError";
  }
}

/** A user error that the current state refuses (the last admin token, a job not this runner's): 409, exit 2. */
export class ConflictError extends UserError {
  constructor(message: string, problems: Problem[] = [], options?: ErrorOptions) {
    super(message, problems, options);
    this.name = "ConflictError";
  }
}

/** A bug: the message is for the log and the report, with a stack; exit code 70, HTTP 500 without detail. */
export class InternalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InternalError";
  }
}

/**
 * A refusal whose HTTP status a protocol prescribes (a webhook sender's 401 or 413, an admin API's 405):
 * answered with that status; its kind follows from the status.
 */
export class RefusalError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RefusalError";
    this.status = status;
  }
}

export type ErrorKind = "user" | "not-found" | "conflict" | "operation" | "internal";

export const exitCodes = { success: 0, failure: 1, usage: 2, internal: 70 } as const;

/** The kind an HTTP status stands for, where the status is all a client has. */
export function kindForStatus(status: number): ErrorKind {
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  // A refused token is not bad input: the request was right, the credentials were not.
  if (status === 401 || status === 403) return "operation";
  if (status >= 400 && status < 500) return "user";
  return "operation";
}

export function errorKind(err: unknown): ErrorKind {
  if (err instanceof NotFoundError) return "not-found";
  if (err instanceof ConflictError) return "conflict";
  if (err instanceof UserError) return "user";
  if (err instanceof OperationError) return "operation";
  if (err instanceof RefusalError) return kindForStatus(err.status);
  return "internal";
}

const statusOfKind: Record<ErrorKind, number> = {
  user: 400,
  "not-found": 404,
  conflict: 409,
  operation: 500,
  internal: 500,
};

/** The one mapping from an error to the HTTP status it is answered with. */
export function httpStatusFor(err: unknown): number {
  if (err instanceof RefusalError) return err.status;
  return statusOfKind[errorKind(err)];
}

export function exitCodeFor(err: unknown): number {
  switch (errorKind(err)) {
    case "user":
    case "not-found":
    case "conflict":
      return exitCodes.usage;
    case "operation":
      return exitCodes.failure;
    default:
      return exitCodes.internal;
  }
}

/**
 * The one wire encoding of an error, the body of an HTTP answer whose status says its kind
 * (`httpStatusFor`): `{error: message, problems?}` (a user error's file:line:col list, maybe empty).
 */
export type ProblemBody = { error: string; problems?: Problem[] };

/** The body for `err`; `message` replaces its message (the server hides an internal error's). */
export function problemBody(err: unknown, message?: string): ProblemBody {
  const text = message ?? (err instanceof Error ? err.message : String(err));
  if (err instanceof UserError) return { error: text, problems: err.problems };
  return { error: text };
}

/**
 * In a stream whose status was sent before the error happened (NDJSON of a deploy), the error travels
 * in a line `{error: StreamedError}` that names its kind.
 */
export type StreamedError = { kind: ErrorKind; message: string; problems: Problem[] };

export function streamedError(err: unknown): StreamedError {
  return {
    kind: errorKind(err),
    message: err instanceof Error ? err.message : String(err),
    problems: err instanceof UserError ? err.problems : [],
  };
}

/** The error of `kind` on this side of the wire: the same class the other side threw (or its base). */
export function errorOfKind(kind: unknown, message: string, problems: Problem[] = []): Error {
  switch (kind) {
    case "user":
      return new UserError(message, problems);
    case "not-found":
      return new NotFoundError(message, problems);
    case "conflict":
      return new ConflictError(message, problems);
    case "internal":
      return new InternalError(message);
    default:
      return new OperationError(message);
  }
}

/**
 * An answer's error decoded: the class from the HTTP status, or from the kind of a streamed
 * `{error: {kind, …}}` line (status undefined), carrying the status as `status`. `prefix` goes before
 * the message of a failure that is not the user's (the CLI names the request that failed).
 */
export function errorFromProblem(
  status: number | undefined,
  body: unknown,
  opts: { fallback?: string; prefix?: string } = {},
): Error & { status?: number } {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const nested =
    typeof b.error === "object" && b.error !== null ? (b.error as Record<string, unknown>) : undefined;
  const message =
    (nested ? (nested.message as string | undefined) : (b.error as string | undefined)) ??
    opts.fallback ??
    `answered ${status ?? "with an error"}`;
  const problems = ((nested ? nested.problems : b.problems) ?? []) as Problem[];
  let kind = nested?.kind ?? (status === undefined ? "operation" : kindForStatus(status));
  // The server's own failures are not the client's bugs: they end the command as failed operations.
  if (kind === "internal") kind = "operation";
  const prefixed = kind === "operation" && opts.prefix ? `${opts.prefix}: ${message}` : message;
  const err = errorOfKind(kind, prefixed, problems);
  return status === undefined ? err : Object.assign(err, { status });
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
