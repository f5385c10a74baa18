// How a new release replaces the old one: rolling, blue-green, canary (weights, pauses, automatic analysis,
// header or cookie matches) or recreate, written as a name or a mapping with a type.
import { z } from "zod";
import { duration, oneOf } from "./fields.js";
import { parseDuration } from "./values.js";

/**
 * Text that becomes part of a router command or a header match: control characters (a newline above all)
 * are refused here, at their file:line:col, before any router sees them.
 */
const noControl = z.string().refine((v) => !/[\u0000-\u001f\u007f]/.test(v), {
  message: "must not contain control characters (newlines, tabs, …)",
});

const strategyTypes = ["rolling", "blue-green", "canary", "recreate"] as const;

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

export const strategy = oneOf(
  { string: z.enum(strategyTypes), object: strategyObject },
  `a strategy (${strategyTypes.join(", ")}) or a mapping with a type`,
).describe("How a new release replaces the old one (default: rolling, max_surge 1, max_unavailable 0).");
