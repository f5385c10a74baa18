// Container engines: one small client for the Docker Engine API, used for Docker Engine and Podman's
// compatible API alike. Invariants: creating an Engine does no I/O (an engine that is missing is an
// OperationError naming the address, raised only when a call needs it); build and push streams are read to
// their end so that an error inside them is never mistaken for success; containers and networks are
// described as data (ContainerSpec) and turned into request bodies by pure functions.
export { type AttachOptions, attachExec } from "./attach.js";
export { type EngineAddress, resolveEngineAddress } from "./address.js";
export { createBuildContext, type IgnoreRules, parseDockerignore, tarFiles } from "./build-context.js";
export {
  type ContainerSpec,
  containerCreateOptions,
  type HealthCheck,
  labelFilters,
  type Mount,
  type PortBinding,
  type RestartPolicy,
} from "./container-spec.js";
export { type Builder, type BuildOptions, type BuildResult, engineBuilder } from "./build.js";
export { BuildError, EngineError } from "./errors.js";
export type {
  ContainerState,
  ContainerSummary,
  ExecOptions,
  ExecResult,
  HealthStatus,
  LogOptions,
} from "./containers.js";
export { demuxBuffer } from "./demux.js";
export { connectEngine, Engine, type EngineOptions } from "./engine.js";
export type { EngineVersion } from "./engine-client.js";
export { splitReference } from "./image-reference.js";
export type { ImageInfo, PushOptions, PushResult, RegistryAuth } from "./images.js";
export { classifyPushFailure, PushError, type PushFailure } from "./push-error.js";
export type { VolumeInfo } from "./volumes.js";
export type { StreamMessage } from "./json-stream.js";
