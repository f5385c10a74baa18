// `slipway notify test <channel>` and `slipway notify deliveries`: send a test message to a channel of
// slipway.yaml's `notify:` section now (once, no retries) and read the delivery log of a local server
// data directory (or its PostgreSQL database).
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { loadConfig } from "../config/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { deliveryView, Notifier } from "../notify/index.js";
import { createSecretStore } from "../secrets/index.js";
import { type NotificationStatus, notificationStatuses } from "../store/index.js";
import {
  existingMasterKey,
  type SecretIo,
  type StoreFlags,
  secretProcessIo,
  withLocalStore,
} from "./secret.js";

export type NotifyTestFlags = StoreFlags & {
  config: string;
  repo?: string;
  json?: boolean;
  timeout?: string;
};
export type NotifyDeliveriesFlags = StoreFlags & {
  json?: boolean;
  status?: string;
  channel?: string;
  limit?: string;
};

function when(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function positive(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`${flag} must be a positive whole number, got '${v}'`);
  return n;
}

export async function runNotifyTest(channel: string, flags: NotifyTestFlags, io: SecretIo): Promise<number> {
  const loaded = loadConfig(resolve(flags.config));
  const notify = loaded.config.notify;
  if (!notify) throw new UserError(`${loaded.file} has no notify: section`);
  const timeoutMs = positive("--timeout", flags.timeout, 10) * 1000;
  return withLocalStore(flags, io.env, async (store, dataDir) => {
    const secrets = createSecretStore(store, existingMasterKey(dataDir, io.env));
    const notifier = new Notifier({
      store,
      secret: (name, repo) => secrets.lookup(name, { repo }),
      timeoutMs,
    });
    const d = await notifier.test(channel, notify, { scope: flags.repo ?? null });
    if (flags.json) io.stdout(`${JSON.stringify(deliveryView(d), null, 2)}\n`);
    if (d.status !== "delivered")
      throw new OperationError(`test message to ${channel} failed: ${d.lastError}`);
    if (!flags.json) io.stderr(`test message delivered to ${channel} (delivery ${d.id})\n`);
    return 0;
  });
}

export async function runNotifyDeliveries(flags: NotifyDeliveriesFlags, io: SecretIo): Promise<number> {
  if (flags.status !== undefined && !notificationStatuses.includes(flags.status as NotificationStatus))
    throw new UserError(`--status must be one of ${notificationStatuses.join(", ")}, got '${flags.status}'`);
  const limit = positive("--limit", flags.limit, 50);
  return withLocalStore(flags, io.env, async (store) => {
    const list = await store.notifications.list({
      status: flags.status as NotificationStatus | undefined,
      channel: flags.channel,
      limit,
    });
    if (flags.json) {
      io.stdout(`${JSON.stringify(list.map(deliveryView), null, 2)}\n`);
      return 0;
    }
    if (list.length === 0) {
      io.stderr("no deliveries\n");
      return 0;
    }
    const rows = [
      ["ID", "CREATED", "CHANNEL", "EVENT", "STATUS", "ATTEMPTS", "LAST ERROR"],
      ...list.map((d) => [
        String(d.id),
        when(d.createdAt),
        d.scope ? `${d.scope}:${d.channel}` : d.channel,
        d.eventType,
        d.status === "pending" && d.attempts > 0 ? `retry at ${when(d.nextAttemptAt).slice(11)}` : d.status,
        String(d.attempts),
        (d.lastError ?? "").replace(/\s+/g, " ").slice(0, 100),
      ]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    io.stdout(
      `${rows
        .map((r) =>
          r
            .map((c, i) => c.padEnd(widths[i]))
            .join("  ")
            .trimEnd(),
        )
        .join("\n")}\n`,
    );
    return 0;
  });
}

export function registerNotify(program: Command, io: () => SecretIo = secretProcessIo): void {
  const notify = program.command("notify").description("notifications: Slack and signed webhooks");
  notify
    .command("test")
    .description("send a test message to a channel of slipway.yaml now (one attempt) and log it")
    .argument("<channel>", "a channel name under notify.channels")
    .option("-c, --config <file>", "the configuration file", "slipway.yaml")
    .option("--repo <owner/name>", "the repository whose secrets the channel's secret names refer to")
    .option("--timeout <seconds>", "how long to wait for the receiver", "10")
    .option("--data-dir <dir>", "the server's data directory (default: as slipway serve)")
    .option("--database <url>", "postgres://… when the server uses PostgreSQL (env SLIPWAY_DATABASE)")
    .option("--json", "print the delivery as JSON")
    .action(async (channel: string, flags: NotifyTestFlags) => {
      process.exitCode = await runNotifyTest(channel, flags, io());
    });
  notify
    .command("deliveries")
    .description("the delivery log: status, attempts and last error of recent notifications, newest first")
    .option("--status <status>", `only ${notificationStatuses.join(" | ")}`)
    .option("--channel <name>", "only this channel")
    .option("--limit <n>", "at most this many", "50")
    .option("--data-dir <dir>", "the server's data directory (default: as slipway serve)")
    .option("--database <url>", "postgres://… when the server uses PostgreSQL (env SLIPWAY_DATABASE)")
    .option("--json", "print JSON")
    .action(async (flags: NotifyDeliveriesFlags) => {
      process.exitCode = await runNotifyDeliveries(flags, io());
    });
}
