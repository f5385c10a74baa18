// The runner: executes a planned run's jobs on this machine. Jobs start as soon as their own needs are
// done; each job leg gets its own workspace and temp dir; every line of output is masked before it
// leaves the engine; results have the shape of `slipway run --json`. Steps on the host start from a built
// environment (lib/child-env), never from slipway's own; job directories and step scripts are private to
// slipway's user; a job's log is capped (SLIPWAY_JOB_LOG_LIMIT). A fork's job leg runs only on a runner that
// isolates it (isolation.ts): its host processes as an unprivileged user, outside the data dir — or on
// one whose operator declared the machine disposable.
export {
  checkActions,
  defaultDataDir,
  dispatchInputValues,
  type DriveOptions,
  driveRun,
  type ExecuteOptions,
  executeRun,
  type PlannedWorkflow,
  planRun,
  type RunPlan,
} from "./run.js";
export type { JobRef, LogKind, Reporter } from "./reporter.js";
export { silentReporter } from "./reporter.js";
export { killAllGroups, killGraceMs } from "./process.js";
export { jobLogLimit, jobLogLimitSetting } from "./log-limit.js";
export type { JobResult, RunResult, Status, StepResult } from "./types.js";
export type { Annotation } from "./workflow-commands.js";
export { parseRemoteRef, remoteActionDir, remoteRefOf } from "./steps/action-loader.js";
export { ActionCache, refLabel } from "./actions/cache.js";
export { ActionFetchError } from "./actions/fetch.js";
export { type CachedAction, listCachedActions, prune, pruneCandidates } from "./actions/manage.js";
export { actionCacheOf, checkRunNeeds } from "./actions/resolve.js";
export {
  type ActionSource,
  type ActionSourceSettings,
  actionSource,
  defaultActionsUrl,
  displayUrl,
  type LegActionSettings,
  legActionSource,
  serverKey as serverKeyOf,
  validateActionsUrl,
} from "./actions/source.js";
export {
  type AgentOptions,
  cachedRepo,
  type ClaimedLeg,
  type RunnerTransport,
  runAgent,
  runClaimedLeg,
  type StepReport,
} from "./agent.js";
export { executeLegSpec, type LegSpec, legSpecOf } from "./leg-spec.js";
export { runGraph } from "./graph.js";
export { type GraphScope, type JobOutcome, type LegExecutor, newGraphScope } from "./graph-scope.js";
export type { JobInvocation } from "./job-state.js";
export type { RunContext } from "./context.js";
export { ConcurrencyGroups } from "./concurrency.js";
export { Semaphore } from "./context.js";
export { Masker } from "./masker.js";
export {
  lookupUser,
  type RunAs,
  type UntrustedPolicy,
  untrustedModes,
  untrustedPolicy,
  waitingForIsolationReason,
} from "./isolation.js";
export type { ArtifactBackend, ServerArtifact } from "./builtin/storage.js";
export { validateArtifactName } from "./builtin/artifacts.js";
export { parseLogLimit as parseSize } from "./log-limit.js";
export { downloadTo as copyArtifactFiles } from "./builtin/artifact-files.js";
