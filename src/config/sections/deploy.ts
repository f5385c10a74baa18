// The `deploy:` section of slipway.yaml: the app spec `slipway deploy` runs — services (a docker image or a
// local command), how many, where the router publishes them, health, dependencies, strategy — and
// per-environment overrides. The section validates and fills defaults but keeps the YAML's shapes (durations
// as written, a command as a string or a list); deploy/spec.ts resolves it into the normalized DeploySpec.
// Cross-references (depends_on, publish clashes, runtimes, environments) are checked here so that an error
// points at the offending line.
import { z } from "zod";
import { findCycle, formatCycle } from "../graph.js";
import { serviceNamePattern } from "./build.js";

/**
 * Text that becomes part of a router command or a header match: control characters (a newline above all)
 * are refused here, at their file:line:col, before any router sees them.
 */
const noControl = z.string().refine((v) => !/[\u0000-\u001f\u007f]/.test(v), {
  message: "must not contain control characters (newlines, tabs, …)",
});

export const appNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;
export const environmentNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;
export const secretNamePattern = /^[A-Z_][A-Z0-9_]*$/;
export const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A docker named volume: what `docker volume create` accepts. */
export const volumeNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const deployRuntimes = ["process", "docker"] as const;
export type DeployRuntime = (typeof deployRuntimes)[number];
const strategyTypes = ["rolling", "blue-green", "canary", "recreate"] as const;

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string ("${v.length > 40 ? `${v.slice(0, 40)}…` : v}")`;
  return `a ${typeof v} (${String(v)})`;
}

// ---- values written as text: durations, sizes, publish addresses, volumes ----

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const durationHelp = "a duration: seconds as a number, or a number with a unit (500ms, 10s, 5m, 1h, 1m30s)";

/**
 * Milliseconds from "500ms", "10s", "1.5m", "1h", "1m30s", "30" (seconds) or a number of seconds.
 * Throws an Error naming the accepted forms.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`invalid duration ${value}: expected ${durationHelp}`);
    return Math.round(value * 1000);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new Error(`invalid duration "${value}": expected ${durationHelp}`);
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * durationUnits[p[2]], 0));
}

const sizeUnits: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const sizeHelp = "a size: bytes as a number, or a number with a unit (512k, 256m, 1g; binary multiples)";

/** Bytes from "256m", "1g", "1.5GiB", "512kb", "1024" or a number of bytes (k/m/g/t are powers of 1024, as in Docker). */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid size ${value}: expected ${sizeHelp}`);
    return Math.round(value);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new Error(`invalid size "${value}": expected ${sizeHelp}`);
  return Math.round(Number(m[1]) * sizeUnits[m[2].toLowerCase()]);
}

/** `8080`, `"8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"` → host and port; the host defaults to 127.0.0.1. */
export function parsePublish(value: string | number): { host: string; port: number } {
  const text = String(value).trim();
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s]+):)?(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`invalid publish "${text}": expected a port (8080) or host:port (127.0.0.1:8080)`);
  const host = m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

export type VolumeConfig = { source: string; kind: "named" | "bind"; target: string; readOnly: boolean };

/**
 * `name:/target`, `./dir:/target:ro`, `/abs:/target` → its parts; a bind's source stays as written (relative
 * to slipway.yaml's directory, resolved by deploy/spec.ts).
 */
export function parseVolume(text: string): VolumeConfig {
  const parts = text.split(":");
  const [source, target, mode, ...rest] = parts;
  const help = "expected SOURCE:TARGET[:ro|rw] with a named volume or a path (./dir, /abs) as SOURCE";
  if (parts.length < 2 || rest.length > 0 || !source || !target)
    throw new Error(`invalid volume "${text}": ${help}`);
  if (mode !== undefined && mode !== "ro" && mode !== "rw")
    throw new Error(`invalid volume "${text}": the mode is ro or rw, not "${mode}"`);
  if (!target.startsWith("/"))
    throw new Error(`invalid volume "${text}": the target must be an absolute path`);
  const bind = source.startsWith("/") || source === "." || source === ".." || /^\.\.?\//.test(source);
  if (!bind && source.startsWith("~"))
    throw new Error(
      `invalid volume "${text}": ~ is not expanded; use a path relative to slipway.yaml or absolute`,
    );
  if (!bind && !volumeNamePattern.test(source))
    throw new Error(
      `invalid volume "${text}": a named volume uses a-z, A-Z, 0-9, '.', '_' and '-' (a path starts with ./ or /)`,
    );
  return { source, kind: bind ? "bind" : "named", target, readOnly: mode === "ro" };
}

// ---- schema helpers ----

type Kind = "string" | "number" | "boolean" | "array" | "object";
type Branches = Partial<Record<Kind, z.ZodType>>;
type BranchOutput<B extends Branches> = { [K in keyof B]: z.output<NonNullable<B[K]>> }[keyof B];

const kindOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * A value written in one of several forms, told apart by its kind (a string, a list, a mapping…). Unlike
 * z.union, a mistake inside the chosen form is reported where it is (`restart.policy: invalid option`)
 * rather than as "no form matched" at the top; the JSON Schema still lists every form.
 */
function oneOf<B extends Branches>(branches: B, expected: string): z.ZodType<BranchOutput<B>, unknown> {
  const schema = z.any().transform((value, ctx) => {
    const branch = branches[kindOf(value) as Kind];
    if (!branch) {
      if (value === undefined) ctx.addIssue({ code: "invalid_type", expected: "object", input: value });
      else ctx.addIssue({ code: "custom", message: `expected ${expected}, got ${describeValue(value)}` });
      return value as BranchOutput<B>;
    }
    const result = branch.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
      // The parse fails anyway; the value as written is what the cross-reference checks then read.
      return value as BranchOutput<B>;
    }
    return result.data as BranchOutput<B>;
  });
  const anyOf = Object.values(branches).map((b) => {
    const { $schema: _, ...json } = z.toJSONSchema(b as z.ZodType, { io: "input", unrepresentable: "any" });
    return json;
  });
  return schema.meta({ anyOf }) as unknown as z.ZodType<BranchOutput<B>, unknown>;
}

/** A text value checked by a parser that throws (durations, sizes…): the parser's message is the problem. */
function parsed<T extends z.ZodType<string | number>>(schema: T, parse: (v: string | number) => unknown) {
  return schema.superRefine((value, ctx) => {
    try {
      parse(value as string | number);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });
}

const stringOrNumber = (help: string) =>
  z.union([z.string(), z.number()], { error: (iss) => `expected ${help}, got ${describeValue(iss.input)}` });

const duration = (description: string) =>
  parsed(stringOrNumber(durationHelp), parseDuration).describe(`${description} (${durationHelp}).`);
const size = (description: string) => parsed(stringOrNumber(sizeHelp), parseSize).describe(description);

export type DurationConfig = string | number;

const named = (pattern: RegExp, what: string) =>
  z.string().regex(pattern, `${what} use a-z, 0-9, '.', '_' and '-', starting with a letter or digit`);
const serviceName = named(serviceNamePattern, "service names");
const secretName = z
  .string()
  .regex(secretNamePattern, "secret names use A-Z, 0-9 and _, not starting with a digit");

const argv = z.array(z.string()).min(1, "the command needs at least one word");
const command = (description: string) =>
  oneOf(
    { string: z.string().min(1), array: argv },
    "a command (a string run by sh -c, or a list of words)",
  ).describe(description);

const envValue = z.union([z.string(), z.number(), z.boolean()], {
  error: (iss) => `expected a string, number or boolean, got ${describeValue(iss.input)}`,
});
const env = z
  .record(
    z
      .string()
      .regex(envNamePattern, "environment variable names use A-Z, a-z, 0-9 and _, not starting with a digit"),
    envValue.transform(String),
  )
  .describe("Environment variables (numbers and booleans are written as text).");

const publish = parsed(stringOrNumber("a port (8080) or host:port (127.0.0.1:8080)"), parsePublish).describe(
  "Where slipway's router listens for the service: a port (on 127.0.0.1) or host:port.",
);

const port = z.number().int().min(1).max(65535);

// ---- the parts of a service ----

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

const health = z
  .strictObject({
    http: z
      .string()
      .startsWith("/", "the http check is a path starting with /")
      .optional()
      .describe("GET this path on the instance's port; 2xx and 3xx are healthy."),
    tcp: z.literal(true).optional().describe("A TCP connect to the instance's port succeeds."),
    exec: command(
      "Run this command in the instance (docker) or beside it (process); exit code 0 is healthy.",
    ).optional(),
    interval: duration("Time between checks").default("1s"),
    timeout: duration("How long one check may take").default("2s"),
    healthy_threshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("Consecutive successes to count as healthy."),
    unhealthy_threshold: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe("Consecutive failures to count as unhealthy."),
    start_period: duration("Failures after start that do not count").default("0s"),
    deadline: duration("Readiness gives up (and the deploy rolls back) after").default("60s"),
  })
  .refine((h) => [h.http, h.tcp, h.exec].filter((c) => c !== undefined).length === 1, {
    message: "give exactly one of http, tcp and exec",
  })
  .describe("How an instance is judged ready and alive. Without it, an instance is ready once it runs.");

const dependencyConditions = ["healthy", "started", "service_healthy", "service_started"] as const;
const dependsOn = oneOf(
  {
    array: z.array(serviceName),
    object: z.record(
      serviceName,
      z.strictObject({
        condition: z
          .enum(dependencyConditions)
          .default("healthy")
          .describe("healthy (default) or started; compose's service_healthy and service_started too."),
      }),
    ),
  },
  "a list of services or a mapping service → {condition}",
).describe("Services started (and healthy) before this one; a list means healthy.");

const restartPolicies = ["always", "on-failure", "no"] as const;
const restart = oneOf(
  {
    string: z.enum(restartPolicies),
    object: z.strictObject({
      policy: z.enum(restartPolicies).default("always"),
      backoff: duration("First delay after a crash; doubles per crash").default("1s"),
      max_backoff: duration("Longest delay between restarts").default("60s"),
    }),
  },
  "always, on-failure, no or a mapping {policy, backoff, max_backoff}",
).describe("What happens when an instance exits (default always, backoff 1s doubling to 60s).");

const hook = oneOf(
  {
    string: z.string().min(1),
    array: argv,
    object: z.strictObject({
      command: command("The hook's command."),
      image: z
        .string()
        .min(1)
        .optional()
        .describe("docker: the image to run (default: the new release's image)."),
      env: env.optional(),
      timeout: duration("The hook fails after").default("10m"),
    }),
  },
  "a command (string or list) or a mapping {command, image, env, timeout}",
);

const canaryStep = z
  .strictObject({
    set_weight: z
      .number()
      .int()
      .min(1, "set_weight is a percentage from 1 to 100")
      .max(100, "set_weight is a percentage from 1 to 100")
      .optional()
      .describe("Send this percentage of requests to the new release."),
    pause: oneOf(
      {
        string: z.string(),
        number: z.number(),
        object: z.strictObject({ duration: duration("How long to hold").optional() }),
      },
      "a duration, {} (until `slipway deploy promote`) or {duration}",
    )
      .superRefine((p, ctx) => {
        if (typeof p !== "object")
          try {
            parseDuration(p);
          } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message });
          }
      })
      .optional()
      .describe("Hold: for a duration, or until promoted when empty."),
  })
  .refine((s) => (s.set_weight === undefined) !== (s.pause === undefined), {
    message: "a step is either {set_weight: N} or {pause: ...}",
  });

const errorRate = oneOf(
  {
    number: z.number().min(0).max(1, "a rate is between 0 and 1 (or a percentage like 1%)"),
    string: z
      .string()
      .regex(/^\d+(\.\d+)?%$/, "expected a rate between 0 and 1 or a percentage like 1%")
      .refine((s) => Number.parseFloat(s) <= 100, "a percentage is at most 100%"),
  },
  "a rate between 0 and 1 or a percentage like 1%",
);

const strategyObject = z.discriminatedUnion(
  "type",
  [
    z
      .strictObject({
        type: z.literal("rolling"),
        max_surge: z.number().int().min(0).default(1).describe("Extra instances started above replicas."),
        max_unavailable: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe("Instances that may be missing below replicas."),
      })
      .refine((r) => r.max_surge > 0 || r.max_unavailable > 0, {
        message: "max_surge and max_unavailable cannot both be 0",
        path: ["max_surge"],
      }),
    z.strictObject({
      type: z.literal("blue-green"),
      keep_old: duration("How long the old release keeps running (for a fast rollback)").default("5m"),
      warmup: z
        .strictObject({
          path: z.string().startsWith("/", "the warmup path starts with /").default("/"),
          requests: z.number().int().min(1).default(10),
        })
        .optional()
        .describe("Requests sent to the new release before traffic switches."),
    }),
    z.strictObject({
      type: z.literal("canary"),
      steps: z
        .array(canaryStep)
        .min(1, "a canary needs at least one step")
        .superRefine((steps, ctx) => {
          let last = 0;
          steps.forEach((s, i) => {
            if (typeof s?.set_weight !== "number") return;
            if (s.set_weight < last)
              ctx.addIssue({
                code: "custom",
                path: [i, "set_weight"],
                message: `set_weight ${s.set_weight} is below the previous step's ${last}: weights never decrease`,
              });
            last = Math.max(last, s.set_weight);
          });
        })
        .describe("set_weight and pause steps; after the last, the new release takes all traffic."),
      analysis: z
        .strictObject({
          interval: duration("How often the router's metrics are read").default("5s"),
          max_error_rate: errorRate.optional().describe("Abort above this error rate (0.01 or 1%)."),
          max_p99: duration("Abort above this p99 latency").optional(),
          min_requests: z
            .number()
            .int()
            .min(0)
            .default(20)
            .describe("Judge nothing below this many requests."),
        })
        .optional()
        .describe("Automatic abort on the canary's error rate or latency."),
      match: z
        .strictObject({
          header: noControl.min(1).optional(),
          cookie: noControl.min(1).optional(),
          value: noControl,
        })
        .refine((m) => (m.header === undefined) !== (m.cookie === undefined), {
          message: "give exactly one of header and cookie",
        })
        .optional()
        .describe("Requests with this header or cookie value always reach the canary."),
    }),
    z.strictObject({ type: z.literal("recreate") }),
  ],
  { error: () => `expected type: ${strategyTypes.join(", ")}` },
);

const strategy = oneOf(
  { string: z.enum(strategyTypes), object: strategyObject },
  `a strategy (${strategyTypes.join(", ")}) or a mapping with a type`,
).describe("How a new release replaces the old one (default: rolling, max_surge 1, max_unavailable 0).");

const service = z
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

const serviceOverride = z
  .strictObject({
    replicas: z.number().int().min(0).optional(),
    publish: publish.optional(),
    env: env.optional(),
    image: z.string().min(1).optional(),
    command: command("Replaces the service's command.").optional(),
    strategy: strategy.optional(),
  })
  .describe("What this environment changes in a service; env is merged, the rest replaces.");

const environment = z
  .strictObject({
    env: env.optional().describe("Added to every service (a service's own env wins)."),
    services: z.record(z.string(), serviceOverride).optional(),
  })
  .describe("An environment's differences from the services above.");

export type DeployServiceConfig = z.output<typeof service>;
export type DeployServiceOverride = z.output<typeof serviceOverride>;
export type DeployEnvironmentConfig = z.output<typeof environment>;

/**
 * The runtime a service runs on: its own `runtime`, else deploy.runtime, else docker when it names an image
 * and process when it has only a command; undefined when none of these says.
 */
export function serviceRuntime(
  s: { runtime?: DeployRuntime; image?: unknown; command?: unknown },
  defaultRuntime?: DeployRuntime,
): DeployRuntime | undefined {
  if (s.runtime) return s.runtime;
  if (defaultRuntime) return defaultRuntime;
  if (s.image !== undefined) return "docker";
  if (s.command !== undefined) return "process";
  return undefined;
}

type Issue = { path: (string | number)[]; message: string; key?: boolean };

/** Reading the partly-validated value defensively: cross-references are checked even when fields are wrong. */
const asRecord = (v: unknown): Record<string, any> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, any>) : {};

function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

function dependencyNames(dependsOn: unknown): string[] {
  if (Array.isArray(dependsOn)) return dependsOn.filter((d): d is string => typeof d === "string");
  return Object.keys(asRecord(dependsOn));
}

function crossCheck(deploy: Record<string, any>): Issue[] {
  const issues: Issue[] = [];
  const services = asRecord(deploy.services);
  const names = Object.keys(services);
  const defaultRuntime = deployRuntimes.includes(deploy.runtime)
    ? (deploy.runtime as DeployRuntime)
    : undefined;
  const runtimes: Record<string, DeployRuntime | undefined> = {};

  for (const [name, raw] of Object.entries(services)) {
    const s = asRecord(raw);
    const at = (...p: (string | number)[]) => ["services", name, ...p];
    const runtime = serviceRuntime(s, defaultRuntime);
    runtimes[name] = runtime;
    const why = s.runtime ? "" : defaultRuntime ? ` (deploy.runtime is ${defaultRuntime})` : "";
    const where = s.runtime ? at("runtime") : at();
    if (runtime === undefined)
      issues.push({
        path: at(),
        message: `service '${name}' needs an image (docker) or a command (process)`,
      });
    if (runtime === "docker" && s.image === undefined)
      issues.push({ path: where, message: `docker service '${name}' needs an image${why}` });
    if (runtime === "process" && s.command === undefined)
      issues.push({
        path: where,
        message: `process service '${name}' needs a command${why}${s.image !== undefined && !s.runtime ? "; set runtime: docker on the service to run its image" : ""}`,
      });
    if (runtime === "docker" && s.cwd !== undefined)
      issues.push({
        path: at("cwd"),
        message: "cwd is for process services; a docker service runs in its image's",
      });
    if (runtime === "docker" && s.publish !== undefined && s.port === undefined)
      issues.push({
        path: at("publish"),
        message: "publish needs the port the container listens on: add port",
      });
    const h = asRecord(s.health);
    if (runtime === "docker" && s.port === undefined && (h.http !== undefined || h.tcp !== undefined))
      issues.push({
        path: at("health", h.http !== undefined ? "http" : "tcp"),
        message: "an http or tcp check needs the port the container listens on: add port",
      });
    for (const hookName of ["pre_deploy", "post_deploy"]) {
      const hk = asRecord(asRecord(s.hooks)[hookName]);
      if (runtime === "process" && hk.image !== undefined)
        issues.push({
          path: at("hooks", hookName, "image"),
          message: "a process service's hook runs no image",
        });
    }
    const deps = s.depends_on;
    if (Array.isArray(deps)) {
      deps.forEach((d, i) => {
        if (typeof d === "string" && !names.includes(d))
          issues.push({ path: at("depends_on", i), message: unknownDependency(d, name, names) });
      });
    } else {
      for (const d of Object.keys(asRecord(deps)))
        if (!names.includes(d))
          issues.push({ path: at("depends_on", d), key: true, message: unknownDependency(d, name, names) });
    }
  }

  const graph = Object.fromEntries(
    names.map((n) => [n, dependencyNames(asRecord(services[n]).depends_on).filter((d) => names.includes(d))]),
  );
  const cycle = findCycle(graph);
  if (cycle) {
    const [first, next] = cycle;
    const deps = asRecord(services[first]).depends_on;
    const path = Array.isArray(deps)
      ? ["services", first, "depends_on", deps.indexOf(next)]
      : ["services", first, "depends_on", next];
    issues.push({ path, message: `depends_on cycle: ${formatCycle(cycle)}` });
  }

  // Publish clashes, first for the services as written, then for each environment's effective values.
  const clashes = (publishes: { name: string; value: unknown; path: (string | number)[] }[]) => {
    const seen: { name: string; host: string; port: number }[] = [];
    for (const p of publishes) {
      const addr = tryParse(() => parsePublish(p.value as string | number));
      if (!addr) continue;
      const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
      const other = seen.find(
        (o) => o.port === addr.port && (o.host === addr.host || wildcard(o.host) || wildcard(addr.host)),
      );
      if (other)
        issues.push({
          path: p.path,
          message: `'${p.name}' publishes ${addr.host}:${addr.port}, which clashes with '${other.name}' (${other.host}:${other.port})`,
        });
      else seen.push({ name: p.name, ...addr });
    }
  };
  clashes(
    names
      .filter((n) => asRecord(services[n]).publish !== undefined)
      .map((n) => ({ name: n, value: services[n].publish, path: ["services", n, "publish"] })),
  );

  for (const [envName, rawEnv] of Object.entries(asRecord(deploy.environments))) {
    const overrides = asRecord(asRecord(rawEnv).services);
    for (const [name, rawOverride] of Object.entries(overrides)) {
      const o = asRecord(rawOverride);
      const at = (...p: (string | number)[]) => ["environments", envName, "services", name, ...p];
      if (!names.includes(name)) {
        issues.push({
          path: at(),
          key: true,
          message: `unknown service '${name}' in environment '${envName}' (services: ${names.join(", ") || "none"})`,
        });
        continue;
      }
      const s = asRecord(services[name]);
      if (runtimes[name] === "process" && o.image !== undefined)
        issues.push({ path: at("image"), message: `'${name}' is a process service: it has no image` });
      if (runtimes[name] === "docker" && o.publish !== undefined && s.port === undefined)
        issues.push({
          path: at("publish"),
          message: "publish needs the port the container listens on: add port",
        });
    }
    clashes(
      names.flatMap((n) => {
        const o = asRecord(overrides[n]);
        if (o.publish !== undefined)
          return [{ name: n, value: o.publish, path: ["environments", envName, "services", n, "publish"] }];
        const own = asRecord(services[n]).publish;
        return own === undefined ? [] : [{ name: n, value: own, path: ["services", n, "publish"] }];
      }),
    );
  }
  // An environment's clash may repeat one of the services' own: report each place once.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = JSON.stringify([i.path, i.message]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function unknownDependency(dep: string, name: string, names: string[]): string {
  return `unknown service '${dep}' in depends_on of '${name}' (services: ${names.join(", ")})`;
}

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
