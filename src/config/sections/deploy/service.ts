// One service of the deploy section — a docker image or a local command, its replicas, port, env, secrets,
// volumes, health, strategy — and what an environment may change in it.
import { z } from "zod";
import {
  command,
  duration,
  env,
  envNamePattern,
  oneOf,
  parsed,
  port,
  publish,
  secretName,
  size,
} from "./fields.js";
import { dependsOn, health, hook, restart } from "./lifecycle.js";
import { deployRuntimes } from "./runtime.js";
import { strategy } from "./strategy.js";
import { parseVolume } from "./values.js";

const secretRef = oneOf(
  {
    string: secretName,
    object: z
      .strictObject({
        name: secretName.describe("The secret's name in slipway's secret store."),
        env: z
          .string()
          .regex(
            envNamePattern,
            "environment variable names use A-Z, a-z, 0-9 and _, not starting with a digit",
          )
          .optional()
          .describe("The environment variable to set (default: the secret's name)."),
        file: z.string().min(1).optional().describe("Write the value to this file (mode 0600) instead."),
      })
      .refine((s) => s.env === undefined || s.file === undefined, { message: "give env or file, not both" }),
  },
  "a secret name or a mapping {name, env} / {name, file}",
);

export const service = z
  .strictObject({
    runtime: z
      .enum(deployRuntimes)
      .optional()
      .describe(
        "process or docker (default: deploy.runtime, else docker with an image, process with a command).",
      ),
    image: z.string().min(1).optional().describe("docker: the image (may be overridden with --image)."),
    command: command("process: what to run (required); docker: replaces the image's CMD.").optional(),
    cwd: z.string().min(1).optional().describe("process: the working directory, relative to slipway.yaml."),
    replicas: z.number().int().min(0).default(1).describe("How many instances (default 1)."),
    port: port
      .optional()
      .describe("The port the app listens on (docker: in the container; process: given in PORT)."),
    publish: publish.optional(),
    env: env.optional(),
    secrets: z
      .array(secretRef)
      .optional()
      .describe("Secrets from slipway's store, as env variables or files."),
    volumes: z
      .array(parsed(z.string(), (v) => parseVolume(String(v))))
      .optional()
      .describe("NAME:/target, ./dir:/target or /abs:/target, optionally :ro."),
    health: health.optional(),
    depends_on: dependsOn.optional(),
    resources: z
      .strictObject({
        memory: size("Memory limit, e.g. 256m or 1g.").optional(),
        cpus: z.number().positive().optional().describe("CPU limit, e.g. 0.5."),
      })
      .optional(),
    restart: restart.default("always"),
    hooks: z
      .strictObject({
        pre_deploy: hook
          .optional()
          .describe("Runs before the new release starts (e.g. migrations); failure stops the deploy."),
        post_deploy: hook.optional().describe("Runs after the new release takes traffic."),
      })
      .optional(),
    strategy: strategy.default("rolling"),
    drain_timeout: duration("How long an old instance finishes its requests after traffic leaves it").default(
      "30s",
    ),
    stop_timeout: duration("SIGTERM to SIGKILL grace").default("10s"),
  })
  .describe("One service: a docker image or a local command, its replicas, health and strategy.");

export const serviceOverride = z
  .strictObject({
    replicas: z.number().int().min(0).optional(),
    publish: publish.optional(),
    env: env.optional(),
    image: z.string().min(1).optional(),
    command: command("Replaces the service's command.").optional(),
    strategy: strategy.optional(),
  })
  .describe("What this environment changes in a service; env is merged, the rest replaces.");

export const environment = z
  .strictObject({
    env: env.optional().describe("Added to every service (a service's own env wins)."),
    services: z.record(z.string(), serviceOverride).optional(),
  })
  .describe("An environment's differences from the services above.");

export type DeployServiceConfig = z.output<typeof service>;
export type DeployServiceOverride = z.output<typeof serviceOverride>;
export type DeployEnvironmentConfig = z.output<typeof environment>;
