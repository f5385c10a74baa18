// Which `uses:` values name a remote action (fetched into the action cache) rather than a local one,
// a container image or one built into slipway; apart from action.ts so the action cache can ask
// without importing the step runners.
import { findBuiltinAction } from "../builtin/index.js";

export function isCheckout(uses: string): boolean {
  return /^actions\/checkout@/i.test(uses);
}

/** An action from the action cache (`owner/repo[/path]@ref`): not local, not a container, not built in. */
export function isRemoteAction(uses: string): boolean {
  return (
    !uses.startsWith("./") &&
    uses !== "." &&
    !uses.startsWith("docker://") &&
    !isCheckout(uses) &&
    !findBuiltinAction(uses)
  );
}
