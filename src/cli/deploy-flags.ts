// Flags that `slipway deploy` checks the same way whether it deploys locally or through a server.
import { strategyNames } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";

/** --image SERVICE=REF flags (repeatable) as service → reference. */
export function parseImageFlags(pairs: string[] | undefined): Record<string, string> {
  const images: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || eq === pair.length - 1)
      throw new UserError(`--image: expected SERVICE=REF, got ${JSON.stringify(pair)}`);
    images[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return images;
}

export function checkStrategyFlag(strategy: string | undefined): void {
  if (strategy !== undefined && !(strategyNames as readonly string[]).includes(strategy))
    throw new UserError(
      `--strategy: unknown strategy ${JSON.stringify(strategy)} (one of ${strategyNames.join(", ")})`,
    );
}
