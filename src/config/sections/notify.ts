// The `notify:` section of slipway.yaml (the server's configuration takes the same shape): named channels
// (a Slack incoming webhook or a generic signed webhook) and rules saying which events go to which
// channels, filtered by repository, branch, workflow and environment with GitHub's filter patterns
// (`*`, `**`, `!` to exclude, the last matching pattern decides). Secrets are named, never written here.
import { z } from "zod";
import { compileFilterPattern } from "../../workflow/index.js";

export const notifyEventTypes = [
  "run.completed",
  "run.failed",
  "run.fixed",
  "deploy.started",
  "deploy.succeeded",
  "deploy.failed",
  "deploy.rolled_back",
] as const;

export const channelNamePattern = /^[a-z0-9][a-z0-9_.-]*$/;
const secretName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "secret names use A-Z, 0-9 and _, not starting with a digit");

const slackChannel = z
  .strictObject({
    webhook_url: z
      .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
      .optional()
      .describe("The incoming webhook URL. Prefer webhook_url_secret: the URL is itself a credential."),
    webhook_url_secret: secretName
      .optional()
      .describe("The name of the secret (slipway secret set) holding the incoming webhook URL."),
  })
  .refine((s) => (s.webhook_url === undefined) !== (s.webhook_url_secret === undefined), {
    message: "give exactly one of webhook_url and webhook_url_secret",
  })
  .describe("A Slack incoming webhook; messages use Block Kit.");

const webhookChannel = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
      .describe("Where the JSON payload is POSTed."),
    secret_name: secretName
      .optional()
      .describe(
        "The secret whose value signs each request (X-Slipway-Signature-256: sha256=HMAC(secret, timestamp.body)). Without it, requests are unsigned.",
      ),
  })
  .describe("A generic webhook: a JSON payload (docs/notifications.md), signed when secret_name is given.");

const channel = z
  .union([z.strictObject({ slack: slackChannel }), z.strictObject({ webhook: webhookChannel })])
  .describe("One channel: `slack:` or `webhook:`.");

const patterns = (what: string) =>
  z
    .union([z.string(), z.array(z.string()).min(1)])
    .transform((v) => (typeof v === "string" ? [v] : v))
    .superRefine((list, ctx) => {
      list.forEach((p, i) => {
        try {
          compileFilterPattern(p);
        } catch (err) {
          ctx.addIssue({ code: "custom", path: [i], message: (err as Error).message });
        }
      });
    })
    .optional()
    .describe(`Only events whose ${what} matches these patterns (GitHub filter syntax; '!' excludes).`);

const rule = z
  .strictObject({
    on: z
      .array(z.enum(notifyEventTypes))
      .min(1)
      .describe(
        "Events: run.completed, run.failed, run.fixed (first success after a failure), deploy.started, deploy.succeeded, deploy.failed, deploy.rolled_back.",
      ),
    channels: z.array(z.string().min(1)).min(1).describe("The channels (names under notify.channels)."),
    repository: patterns("repository (owner/name)"),
    branch: patterns("branch"),
    workflow: patterns("workflow name"),
    environment: patterns("deploy environment"),
  })
  .describe("Which events go to which channels. A filter an event has no value for does not match it.");

export const notifySection = z
  .strictObject({
    channels: z
      .record(
        z
          .string()
          .regex(
            channelNamePattern,
            "channel names use a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
          ),
        channel,
      )
      .default({})
      .describe("Where notifications go, by name."),
    rules: z.array(rule).default([]).describe("Which events are sent to which channels."),
  })
  // Rules' channel names are checked even when other fields have problems, so every problem is reported
  // at once; the value may then be partly invalid, hence the defensive reading.
  .superRefine(
    (notify, ctx) => {
      const channels = (notify as { channels?: unknown }).channels;
      const names = channels && typeof channels === "object" ? Object.keys(channels) : [];
      const rules = (notify as { rules?: unknown }).rules;
      if (!Array.isArray(rules)) return;
      rules.forEach((r: { channels?: unknown } | null, i) => {
        if (!Array.isArray(r?.channels)) return;
        r.channels.forEach((c: unknown, j) => {
          if (typeof c === "string" && !names.includes(c))
            ctx.addIssue({
              code: "custom",
              path: ["rules", i, "channels", j],
              message: `unknown channel '${c}' (channels: ${names.join(", ") || "none"})`,
            });
        });
      });
    },
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  )
  .describe("Notifications: Slack and signed webhooks on run and deploy events.");

export type NotifyConfig = z.output<typeof notifySection>;
export type NotifyRule = NotifyConfig["rules"][number];
export type NotifyChannelConfig = NotifyConfig["channels"][string];
export type NotifyEventType = (typeof notifyEventTypes)[number];
