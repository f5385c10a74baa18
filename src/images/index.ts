// Images: decide which services of a repository to build since the last release (planBuild, pure), build
// them in dependency order with the engine's layer cache and push them (applyBuild), and look after
// registries (tags, newest tag, pruning by digest) and the engine's dangling images. Invariants: a
// dependency cycle is a UserError before anything is built; a service waits only for its own dependencies;
// a digest is deleted from a registry only when no kept or protected tag points to it.
export {
  type ApplyOptions,
  applyBuild,
  BuildFailedError,
  type BuildEvent,
  type BuildResult,
  defaultRetry,
  dependencyArg,
  pruneImages,
  type RetryPolicy,
  type ServiceResult,
  type ServiceStatus,
} from "./apply.js";
export { type ConfiguredBuildOptions, planConfiguredBuild, runConfiguredBuild } from "./configured.js";
export { type GitState, gitArgs, lastReleaseTag, readGitState, tagVersion } from "./git.js";
export {
  type BuildPlan,
  defaultConcurrency,
  dependencyLevels,
  type PlanInput,
  type PlannedService,
  planBuild,
} from "./plan.js";
export {
  type Credentials,
  credentialsFromAuthEntry,
  dockerConfigPath,
  dockerCredentials,
} from "./registry/auth.js";
export {
  type ImageConfig,
  type Manifest,
  manifestTypes,
  RegistryClient,
  type RegistryClientOptions,
  registryFor,
} from "./registry/client.js";
export { RegistryError, type RegistryFailure } from "./registry/errors.js";
export { parseRepository, type RepositoryRef, registryScheme } from "./registry/reference.js";
export {
  describeTags,
  latestTag,
  newestFirst,
  type OrderBy,
  type PruneOptions,
  type PrunePlan,
  type PruneResult,
  planPrune,
  pruneRepository,
  selectLatest,
  type TagInfo,
  tagSemver,
} from "./registry/retention.js";
export {
  hasRegistryHost,
  registryHostOf,
  renderRepository,
  renderTag,
  sanitizeRepositoryPart,
  sanitizeTagPart,
  type TemplateValues,
} from "./templates.js";
