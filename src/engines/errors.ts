// The errors of engine calls: what failed, with the engine's own words, and for builds the failing step.
import { OperationError } from "../lib/errors.js";

/** A failed Engine API call; `statusCode` is the HTTP status when the engine answered. */
export class EngineError extends OperationError {
  readonly statusCode?: number;
  constructor(message: string, statusCode?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "EngineError";
    this.statusCode = statusCode;
  }
}

/** A build that failed: the failing instruction and the end of the log are part of the message. */
export class BuildError extends EngineError {
  readonly step?: string;
  readonly instruction?: string;
  readonly reason: string;
  readonly logTail: string[];
  constructor(
    image: string,
    fields: { step?: string; instruction?: string; reason: string; logTail: string[] },
  ) {
    // BuildKit's own steps ("[internal] load metadata for …") have no step number.
    const at = !fields.instruction
      ? ""
      : fields.step
        ? ` at step ${fields.step}: ${fields.instruction}`
        : ` at ${fields.instruction}`;
    const tail = fields.logTail.length
      ? `\n--- build log (last lines) ---\n${fields.logTail.join("\n")}`
      : "";
    super(`build of ${image} failed${at}\n${fields.reason}${tail}`);
    this.name = "BuildError";
    this.step = fields.step;
    this.instruction = fields.instruction;
    this.reason = fields.reason;
    this.logTail = fields.logTail;
  }
}
