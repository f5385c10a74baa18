// The `deploy:` section of slipway.yaml: the app spec `slipway deploy` runs — services (a docker image or a
// local command), how many, where the router publishes them, health, dependencies, strategy — and
// per-environment overrides. The section validates and fills defaults but keeps the YAML's shapes (durations
// as written, a command as a string or a list); deploy/spec.ts resolves it into the normalized DeploySpec.
// Cross-references (depends_on, publish clashes, runtimes, environments) are checked here so that an error
// points at the offending line.
//
// The parts live in deploy/: values.ts (text values and their parsers), fields.ts (shared fields and
// oneOf), runtime.ts, lifecycle.ts (health, depends_on, restart, hooks), strategy.ts, service.ts (a
// service and an environment's overrides) and cross-check.ts; this file composes the section.
import { z } from "zod";
import { crossCheck } from "./deploy/cross-check.js";
import { appNamePattern, environmentNamePattern, named, serviceName, size } from "./deploy/fields.js";
import { deployRuntimes } from "./deploy/runtime.js";
import { environment, service } from "./deploy/service.js";

export {
  appNamePattern,
  type DurationConfig,
  environmentNamePattern,
  envNamePattern,
  secretNamePattern,
} from "./deploy/fields.js";
export { type DeployRuntime, deployRuntimes, serviceRuntime } from "./deploy/runtime.js";
export type {
  DeployEnvironmentConfig,
  DeployServiceConfig,
  DeployServiceOverride,
} from "./deploy/service.js";
export {
  parseDuration,
  parsePublish,
  parseSize,
  parseVolume,
  type VolumeConfig,
  volumeNamePattern,
} from "./deploy/values.js";

export const deploySection = z
  .strictObject({
    app: named(appNamePattern, "app names")
      .optional()
      .describe(
        "The application's name (container names, labels); default: the repository directory's name.",
      ),
    runtime: z
      .enum(deployRuntimes)
      .optional()
      .describe(
        "The default runtime of services: process or docker (default: by whether a service has an image).",
      ),
    docker_host: z
      .string()
      .regex(/^(unix|tcp|ssh):\/\/.+/, "expected unix://PATH, tcp://HOST:PORT or ssh://USER@HOST")
      .optional()
      .describe("The Docker Engine to deploy to (unix://, tcp://, ssh://user@host); default: the local one."),
    router: z
      .enum(["auto", "haproxy", "node"])
      .default("auto")
      .describe(
        "The router in front of published services: haproxy (driven through its runtime API; the measured choice, docs/internals/router.md), node (slipway's own proxy), or auto: haproxy when it is installed, else node.",
      ),
    logs: z
      .strictObject({
        max_size: size(
          "A process instance's log file is rotated before it grows past this (default 10m).",
        ).default("10m"),
        keep: z
          .number()
          .int()
          .min(0)
          .max(100)
          .default(5)
          .describe("How many rotated log files are kept besides the current one (default 5)."),
      })
      .optional()
      .describe(
        "Process instances' output: each instance's log file (read with `slipway logs`) is rotated by size; docker instances' logs are the engine's (its log driver rotates them).",
      ),
    max_starting: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe("At most this many instances are starting (not yet healthy) at once, across services."),
    services: z.record(serviceName, service).describe("The services, by name."),
    environments: z
      .record(named(environmentNamePattern, "environment names"), environment)
      .optional()
      .describe("Per-environment overrides (`slipway deploy --env NAME`); without it any name is accepted."),
  })
  .superRefine(
    (deploy, ctx) => {
      for (const issue of crossCheck(deploy as Record<string, any>)) {
        // A problem with a key (an unknown name) is reported at the key rather than at its value.
        if (issue.key)
          ctx.addIssue({
            code: "invalid_key",
            origin: "record",
            issues: [{ code: "custom", message: issue.message, path: [], input: undefined }],
            path: issue.path,
            message: issue.message,
          });
        else ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
      }
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  )
  .describe("How `slipway deploy` runs this repository's services, per environment.");

export type DeployConfig = z.output<typeof deploySection>;
