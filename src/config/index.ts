// slipway.yaml: parsing with positions, validation with zod, and a JSON Schema for editors. Each top-level
// key is a section with its own schema (sections/<key>.ts); unknown keys are errors. Invariant: every
// problem with the file is a UserError whose problems carry file:line:col, and paths in the file are
// relative to the file's directory (LoadedConfig.dir).
export { findCycle, formatCycle } from "./graph.js";
export { type ConfigPath, type LoadedConfig, loadConfig, parseConfig } from "./load.js";
export {
  type ConfigSections,
  configJsonSchema,
  configJsonSchemaText,
  configSchema,
  configSections,
  type SlipwayConfig,
} from "./schema.js";
export {
  type BuildConfig,
  type BuildServiceConfig,
  buildSection,
  imagePlaceholders,
  serviceNamePattern,
  tagPlaceholders,
  templatePlaceholders,
} from "./sections/build.js";
export {
  appNamePattern,
  type DeployConfig,
  type DeployEnvironmentConfig,
  type DeployRuntime,
  type DeployServiceConfig,
  type DeployServiceOverride,
  type DurationConfig,
  deployRuntimes,
  deploySection,
  environmentNamePattern,
  envNamePattern,
  parseDuration,
  parsePublish,
  parseSize,
  parseVolume,
  secretNamePattern,
  serviceRuntime,
  type VolumeConfig,
  volumeNamePattern,
} from "./sections/deploy.js";
export {
  channelNamePattern,
  type NotifyChannelConfig,
  type NotifyConfig,
  type NotifyEventType,
  type NotifyRule,
  notifyEventTypes,
  notifySection,
} from "./sections/notify.js";
export { type ConfigCheck, checkConfig, redacted, resolveConfig, summarizeConfig } from "./inspect.js";
export { configKeyReference, withKeyReference } from "./reference.js";
