// One file per strategy; this picks the function for a service's strategy.
import type { StrategyName } from "../types.js";
import { blueGreen } from "./blue-green.js";
import { canary } from "./canary.js";
import { recreate } from "./recreate.js";
import { rolling } from "./rolling.js";
import type { Rollout } from "./types.js";

export const strategies: Record<StrategyName, (r: Rollout) => Promise<void>> = {
  recreate,
  rolling,
  "blue-green": blueGreen,
  canary,
};
export { CanaryAborted, HealthError, type Member, type Rollout, weightsByCount } from "./types.js";
