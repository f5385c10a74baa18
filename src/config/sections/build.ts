// The `build:` section of slipway.yaml: which images the repository builds, from which contexts, how they
// are named and tagged, and in which order (depends_on). Cross-references (unknown services, cycles) are
// checked here so that the error points at the line.
import { z } from "zod";
import { findCycle, formatCycle } from "../graph.js";

/** Placeholders a tag template may use. */
export const tagPlaceholders = ["service", "version", "sha", "sha7", "branch", "prefix"] as const;
/** Placeholders an image (repository) template may use. */
export const imagePlaceholders = ["service", "prefix"] as const;

/** The `{name}` placeholders of a template, in order. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]);
}

function template(allowed: readonly string[], what: string) {
  return z.string().superRefine((value, ctx) => {
    for (const p of templatePlaceholders(value)) {
      if (!allowed.includes(p))
        ctx.addIssue({
          code: "custom",
          message: `unknown placeholder {${p}} in ${what} (allowed: ${allowed.map((a) => `{${a}}`).join(", ")})`,
        });
    }
  });
}

export const serviceNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;

/** `os/arch[/variant]`, as BuildKit and OCI image indexes name platforms. */
export const platformPattern = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;

const buildSecret = z
  .strictObject({
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name")
      .optional()
      .describe("The environment variable that holds the secret when slipway builds."),
    file: z.string().min(1).optional().describe("A file that holds the secret, relative to slipway.yaml."),
  })
  .refine((s) => (s.env === undefined) !== (s.file === undefined), {
    message: "give the secret's source: either env: NAME or file: path (one of them)",
  })
  .describe("Where a build secret comes from: `env: NAME` or `file: path`.");

/** The caches `cache_to` can write with the Engine API: BuildKit's metadata inside the image itself. */
const cacheTo = z
  .string()
  .superRefine((value, ctx) => {
    if (value === "inline" || value === "type=inline") return;
    ctx.addIssue({
      code: "custom",
      message: /^type=(registry|local|gha|s3|azblob)\b/.test(value)
        ? `'${value}': the Docker Engine API can only export the inline cache; use 'inline' and push the image (it then serves as cache_from), or a standalone BuildKit via buildx`
        : `'${value}' is not a cache export: use 'inline'`,
    });
  })
  .transform(() => "inline" as const);

const buildService = z
  .strictObject({
    context: z.string().min(1).describe("The build context directory, relative to slipway.yaml."),
    dockerfile: z
      .string()
      .min(1)
      .optional()
      .describe("The Dockerfile, relative to the context (default: Dockerfile in the context)."),
    args: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .optional()
      .describe("Build arguments (--build-arg)."),
    target: z.string().min(1).optional().describe("The stage of a multi-stage Dockerfile to build."),
    secrets: z
      .record(
        z
          .string()
          .regex(
            /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
            "secret ids use letters, digits, '_', '.' and '-', starting with a letter, digit or '_'",
          ),
        buildSecret,
      )
      .optional()
      .describe(
        "Build secrets by id, for `RUN --mount=type=secret,id=ID` (BuildKit). Never in an image layer or the log.",
      ),
    cache_from: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Images whose layers the build may reuse, e.g. the last pushed tag (built with cache_to: [inline]).",
      ),
    cache_to: z
      .array(cacheTo)
      .optional()
      .describe("Cache exports: `inline` writes BuildKit's cache metadata into the image, for cache_from."),
    platforms: z
      .array(z.string().regex(platformPattern, "a platform is os/arch[/variant], e.g. linux/arm64"))
      .min(1)
      .optional()
      .describe(
        "Platforms to build for (default: the engine's own). Several make a multi-platform image, which needs --push.",
      ),
    image: template(imagePlaceholders, "image")
      .min(1)
      .describe(
        "The repository, optionally with a registry host; may use {prefix} and {service}. Without a host, build.registry is prepended.",
      ),
    paths: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Globs (relative to slipway.yaml) of files outside the context whose change rebuilds the image.",
      ),
    depends_on: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Services whose images this one builds on: built first, and a change to them rebuilds this one.",
      ),
  })
  .describe("One image to build.");

export const buildSection = z
  .strictObject({
    registry: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Registry host (and port) prepended to images that name none, e.g. registry.example.com:5000.",
      ),
    prefix: z.string().optional().describe("The value of {prefix} in image and tag templates."),
    tag: template(tagPlaceholders, "tag")
      .min(1)
      .default("{version}")
      .describe("Tag template: {version}, {sha}, {sha7}, {branch}, {service}, {prefix}. Default {version}."),
    latest: z.boolean().default(false).describe("Also tag and push :latest."),
    concurrency: z.number().int().min(1).optional().describe("How many images build at once (default: 2)."),
    builder: z
      .enum(["auto", "buildkit", "legacy"])
      .default("auto")
      .describe(
        "auto (default): BuildKit when the engine has it, else the legacy builder; buildkit: fail without it.",
      ),
    services: z
      .record(
        z
          .string()
          .regex(
            serviceNamePattern,
            "service names use a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
          ),
        buildService,
      )
      .describe("The images to build, by service name."),
  })
  // Cross-references are checked even when other fields have problems, so every problem is reported at
  // once; the value may then be partly invalid, hence the defensive reading.
  .superRefine(
    (build, ctx) => {
      const services = (build as { services?: unknown }).services;
      if (!services || typeof services !== "object") return;
      const entries = Object.entries(services as Record<string, { depends_on?: unknown } | null>);
      const names = entries.map(([n]) => n);
      const deps = (s: { depends_on?: unknown } | null) =>
        Array.isArray(s?.depends_on)
          ? (s.depends_on as unknown[]).filter((d): d is string => typeof d === "string")
          : [];
      for (const [name, s] of entries) {
        deps(s).forEach((dep, i) => {
          if (!names.includes(dep))
            ctx.addIssue({
              code: "custom",
              path: ["services", name, "depends_on", i],
              message: `unknown service '${dep}' in depends_on of '${name}' (services: ${names.join(", ")})`,
            });
        });
      }
      const graph = Object.fromEntries(
        entries.map(([n, s]) => [n, deps(s).filter((d) => names.includes(d))]),
      );
      const cycle = findCycle(graph);
      if (cycle) {
        const [first, next] = cycle;
        ctx.addIssue({
          code: "custom",
          path: ["services", first, "depends_on", graph[first].indexOf(next)],
          message: `depends_on cycle: ${formatCycle(cycle)}`,
        });
      }
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  )
  .describe("Container images built from this repository.");

export type BuildConfig = z.output<typeof buildSection>;
export type BuildServiceConfig = z.output<typeof buildService>;
