// How a service's instances live: the health check that judges them ready and alive, the services they wait
// for (depends_on), what happens when one exits (restart), and the hooks run around a deploy.
import { z } from "zod";
import { argv, command, duration, env, oneOf, serviceName } from "./fields.js";

export const health = z
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
export const dependsOn = oneOf(
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
export const restart = oneOf(
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

export const hook = oneOf(
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
