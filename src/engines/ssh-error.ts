// How an ssh:// engine's transport fails: a connection that could not be made (refused, unreachable, timed
// out, authentication, host key) or a remote `docker system dial-stdio` that did not start; `kind` tells
// which, the message says which host and what to do. The Engine turns these into EngineErrors.

export type SshFailure =
  | "refused"
  | "unreachable"
  | "timeout"
  | "auth"
  | "host-key"
  | "no-docker"
  | "dial-stdio"
  | "closed"
  | "other";

/** A connection that failed, or a remote `docker system dial-stdio` that did not start. */
export class SshError extends Error {
  readonly kind: SshFailure;
  constructor(message: string, kind: SshFailure, options?: ErrorOptions) {
    super(message, options);
    this.name = "SshError";
    this.kind = kind;
  }
}
