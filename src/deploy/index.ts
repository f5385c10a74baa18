// Deploy: takes an app spec (slipway.yaml's deploy: section) to running instances — processes or
// containers behind one small Runtime interface — through slipway's router, with the strategies
// recreate, rolling, blue-green and canary, health gating, automatic rollback, release records with the
// router's measured impact, a per-environment lock, and self-healing. The agent (agent.ts) is the
// long-lived process that holds an environment's routers and instances; the CLI talks to it (client.ts).
// A deploy is planned first (plan.ts, pure: per service the revision and why it changes or not), then
// applied by the Deployer (controller.ts over apply.ts, rollout.ts, instances.ts, routing.ts, …).
//
// Invariants: nothing running is touched before every changed service is prepared; a failed deploy
// leaves the previous release serving and says why; a deploy interrupted by a crash is rolled back when
// the agent starts again, and its record says so; traffic never goes to a version without ready
// instances; one deploy per environment at a time.
export { type Agent, type AgentOptions, type AgentPaths, agentPaths, startAgent } from "./agent.js";
export { agentError, callAgent, ensureAgent, streamAgent } from "./client.js";
export {
  type ExecIo,
  type ExecRequest,
  execInInstance,
  type LogsRequest,
  streamInstanceLogs,
} from "./instance-client.js";
export type { LogRecord } from "./instance-io.js";
export { importCompose } from "./compose/import.js";
export {
  type DeployNotice,
  type DeployProgress,
  Deployer,
  type DeployerOptions,
  type DeployRequest,
  effectiveWeights,
  type ReleaseDocument,
  type SecretResolver,
} from "./controller.js";
export { defaultHealth, probeInstance, waitReady } from "./health.js";
export { deployEventOf } from "./notice.js";
export { createDockerRuntime } from "./runtimes/docker.js";
export { createMixedRuntime } from "./runtimes/mixed.js";
export { createProcessRuntime } from "./runtimes/process.js";
export { resolveDeploySpec, specHash, startLevels } from "./spec.js";
export { CanaryAborted, HealthError } from "./errors.js";
export {
  type ChangeReason,
  type DeployPlan,
  type ImageRef,
  type LiveState,
  planDeploy,
  type ServicePlan,
  type SkipReason,
} from "./plan.js";
export { weightsByCount } from "./strategies/index.js";
export * from "./types.js";
