// Built-in actions: well-known actions that slipway implements natively so that workflows using them run
// unchanged and offline. Each follows its real counterpart's inputs, outputs, messages and edge cases (see
// the file of each); their data (artifacts, caches) lives below the data directory, scoped by repository,
// and is published atomically so that a crash or a concurrent job never exposes a partial entry.
// actions/checkout is not here: the job executor handles it, since it needs the run's git source.
// slipway's own steps live here too: `slipway/version` (releases), `slipway/build` (images) and
// `slipway/deploy` (deploys).

import { downloadArtifact, uploadArtifact } from "./artifacts.js";
import { cache, cacheRestore, cacheSave } from "./cache.js";
import { slipwayBuild } from "./slipway-build.js";
import { slipwayDeploy } from "./slipway-deploy.js";
import { slipwayVersion } from "./slipway-version.js";
import type { BuiltinAction } from "./types.js";

export type { ArtifactMetadata, StoredArtifact } from "./artifacts.js";
export { listArtifacts, validateArtifactName } from "./artifacts.js";
export type { CacheEntry } from "./cache.js";
export { listCacheEntries } from "./cache.js";
export type { BuiltinAction, BuiltinActionContext } from "./types.js";

/** Keyed by the action's name as written in `uses:`, lowercase, without the `@ref`. */
export const builtinActions: Record<string, BuiltinAction> = {
  "slipway/build": slipwayBuild,
  "slipway/deploy": slipwayDeploy,
  "actions/upload-artifact": uploadArtifact,
  "actions/download-artifact": downloadArtifact,
  "actions/cache": cache,
  "actions/cache/restore": cacheRestore,
  "actions/cache/save": cacheSave,
  "slipway/version": slipwayVersion,
};

/** The built-in action for a `uses:` value such as `actions/cache/restore@v4` (any ref, any case). */
export function findBuiltinAction(uses: string): BuiltinAction | undefined {
  const at = uses.indexOf("@");
  const name = (at === -1 ? uses : uses.slice(0, at)).trim().toLowerCase();
  return Object.hasOwn(builtinActions, name) ? builtinActions[name] : undefined;
}
