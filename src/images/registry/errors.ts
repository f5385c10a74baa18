// The registry client's one error class, and how a registry's non-OK answer becomes one: kept apart so the
// HTTP layer (transport.ts) and the API operations (client.ts) both raise it without importing each other.
import { OperationError } from "../../lib/errors.js";

export type RegistryFailure = "auth" | "unreachable" | "not-found" | "unsupported" | "other";

export class RegistryError extends OperationError {
  readonly kind: RegistryFailure;
  readonly status?: number;
  constructor(message: string, kind: RegistryFailure, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "RegistryError";
    this.kind = kind;
    this.status = status;
  }
}

/** Throws the RegistryError for a failed API response, with the registry's own error codes if it sent any. */
export async function failedResponse(res: Response, what: string, host: string): Promise<never> {
  let detail = "";
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => `${e.code ?? ""}: ${e.message ?? ""}`).join("; ");
  } catch {
    // not JSON
  }
  const kind: RegistryFailure =
    res.status === 404 ? "not-found" : res.status === 405 ? "unsupported" : "other";
  throw new RegistryError(
    `${what} on ${host}: HTTP ${res.status}${detail ? ` (${detail})` : ""}`,
    kind,
    res.status,
  );
}
