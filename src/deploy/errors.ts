// The deploy domain's failures. Both are failures of the operation (exit code 1, HTTP 500 "operation"
// on the agent's socket), with what a user needs to see why.
import { OperationError } from "../lib/errors.js";

/** An instance never became ready; `detail` holds the last probe and the instance's output. */
export class HealthError extends OperationError {
  readonly detail: string;
  constructor(message: string, detail: string) {
    super(message);
    this.name = "HealthError";
    this.detail = detail;
  }
}

/** A canary whose analysis failed or that was aborted by `slipway abort`. */
export class CanaryAborted extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = "CanaryAborted";
  }
}
