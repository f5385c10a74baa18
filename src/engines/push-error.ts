// A push the registry refused or could not take, and which kind of failure its message describes: the
// kind tells a retry whether it can help (auth never heals by itself, an unreachable registry may).
import { EngineError } from "./errors.js";

export type PushFailure = "auth" | "unreachable" | "other";

/** A push the registry refused or could not take; `kind` tells a retry whether it can help. */
export class PushError extends EngineError {
  readonly kind: PushFailure;
  readonly reference: string;
  constructor(reference: string, kind: PushFailure, reason: string) {
    const hint =
      kind === "auth"
        ? " (check the registry credentials: docker login, ~/.docker/config.json or the configured auth)"
        : kind === "unreachable"
          ? " (is the registry running and reachable from the engine?)"
          : "";
    super(`push of ${reference} failed: ${reason}${hint}`);
    this.name = "PushError";
    this.kind = kind;
    this.reference = reference;
  }
}

const authPattern =
  /unauthorized|authentication required|denied|no basic auth credentials|\b401\b|403 forbidden/i;
const unreachablePattern =
  /connection refused|dial tcp|i\/o timeout|no such host|connection reset|\bEOF\b|\b50[234]\b|service unavailable|bad gateway|TLS handshake timeout|network is unreachable|server misbehaving/i;

/** Which kind of failure a registry error message describes. */
export function classifyPushFailure(message: string): PushFailure {
  // A registry's address holds digits too: port 40193 is no 401, port 5023 no 502.
  const words = message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "URL").replace(/[\w.-]+:\d+/g, "ADDRESS");
  if (authPattern.test(words)) return "auth";
  if (unreachablePattern.test(words)) return "unreachable";
  return "other";
}
