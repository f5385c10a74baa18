// `slipway notify test <channel>` and `slipway notify deliveries`: send a test message to a channel now
// (once, no retries) and read the delivery log — of a running server (--server, SLIPWAY_SERVER or
// `slipway login`: its own channels, or with --repo those of the repository's slipway.yaml), or locally
// (--config, --data-dir or --database: a channel of a slipway.yaml, logged in a server data directory or
// its PostgreSQL database).
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { loadConfig } from "../config/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { deliveryView, Notifier } from "../notify/index.js";
import { createSecretStore } from "../secrets/index.js";
import { type NotificationDelivery, type NotificationStatus, notificationStatuses } from "../store/index.js";
import {
  existingMasterKey,
  remoteClient,
  type SecretIo,
  secretProcessIo,
  type TargetFlags,
  withLocalStore,
} from "./secret.js";
import { formatTimestamp, textTable } from "../lib/format.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";

export type NotifyTestFlags = TargetFlags & {
  /** Local only; default slipway.yaml. */
  config?: string;
  repo?: string;
  json?: boolean;
  timeout?: string;
};
export type NotifyDeliveriesFlags = TargetFlags & {
  json?: boolean;
  status?: string;
  channel?: string;
  limit?: string;
};

function positive(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`${flag} must be a positive whole number, got '${v}'`);
  return n;
}

/** A delivery as the API and `--json` show it. */
type DeliveryView = ReturnType<typeof deliveryView>;

function reportTest(channel: string, d: DeliveryView, flags: { json?: boolean }, io: SecretIo): number {
  if (flags.json) io.stdout(`${JSON.stringify(d, null, 2)}\n`);
  if (d.status !== "delivered") throw new OperationError(`test message to ${channel} failed: ${d.lastError}`);
  if (!flags.json) io.stderr(`test message delivered to ${channel} (delivery ${d.id})\n`);
  return 0;
}

export async function runNotifyTest(channel: string, flags: NotifyTestFlags, io: SecretIo): Promise<number> {
  // A slipway.yaml named on the command line is a local test: its channels are not the server's.
  const client = flags.config === undefined ? remoteClient(flags, io.env) : undefined;
  if (flags.config !== undefined && flags.server !== undefined)
    throw new UserError(
      "--config tests a channel of a local slipway.yaml; against --server, name the channel of the server's configuration (or of --repo's slipway.yaml)",
    );
  if (client) {
    if (flags.timeout !== undefined && flags.timeout !== "10")
      io.stderr("--timeout is the server's own against a server (SLIPWAY_NOTIFY_TIMEOUT_MS); ignored\n");
    const r = await client.request<{ delivery: DeliveryView }>("POST", "/api/v1/notifications/test", {
      channel,
      ...(flags.repo ? { repo: flags.repo } : {}),
    });
    return reportTest(channel, r.delivery, flags, io);
  }
  const loaded = loadConfig(resolve(flags.config ?? "slipway.yaml"));
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
    return reportTest(channel, deliveryView(d), flags, io);
  });
}

export async function runNotifyDeliveries(flags: NotifyDeliveriesFlags, io: SecretIo): Promise<number> {
  if (flags.status !== undefined && !notificationStatuses.includes(flags.status as NotificationStatus))
    throw new UserError(`--status must be one of ${notificationStatuses.join(", ")}, got '${flags.status}'`);
  const limit = positive("--limit", flags.limit, 50);
  const client = remoteClient(flags, io.env);
  const filter = {
    ...(flags.status ? { status: flags.status } : {}),
    ...(flags.channel ? { channel: flags.channel } : {}),
    limit: String(limit),
  };
  const list: DeliveryView[] = client
    ? (
        await client.request<{ deliveries: DeliveryView[] }>(
          "GET",
          `/api/v1/notifications/deliveries?${new URLSearchParams(filter)}`,
        )
      ).deliveries
    : await withLocalStore(flags, io.env, async (store) =>
        (
          await store.notifications.list({
            status: flags.status as NotificationStatus | undefined,
            channel: flags.channel,
            limit,
          })
        ).map((d: NotificationDelivery) => deliveryView(d)),
      );
  if (flags.json) {
    io.stdout(`${JSON.stringify(list, null, 2)}\n`);
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
      formatTimestamp(d.createdAt),
      d.scope ? `${d.scope}:${d.channel}` : d.channel,
      d.eventType,
      d.status === "pending" && d.attempts > 0
        ? `retry at ${formatTimestamp(d.nextAttemptAt).slice(11)}`
        : d.status,
      String(d.attempts),
      (d.lastError ?? "").replace(/\s+/g, " ").slice(0, 100),
    ]),
  ];
  io.stdout(textTable(rows));
  return 0;
}

export function registerNotify(program: Command, io: () => SecretIo = secretProcessIo): void {
  const notify = program.command("notify").description("notifications: Slack and signed webhooks");
  notify
    .command("test")
    .description(
      "send a test message to a channel now (one attempt) and log it: a channel of the server's configuration (or of --repo's slipway.yaml), or with --config of a local slipway.yaml",
    )
    .argument("<channel>", "a channel name under notify.channels")
    .option(
      "-c, --config <file>",
      "a local slipway.yaml (a local test; default without a server: slipway.yaml)",
    )
    .option(
      "--repo <owner/name>",
      "the repository whose slipway.yaml (on a server) and secrets the channel belongs to",
    )
    .option("--timeout <seconds>", "how long to wait for the receiver (local tests)", "10")
    .option("--server <url>", "a running server (env SLIPWAY_SERVER; default: the one of `slipway login`)")
    .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--data-dir <dir>", "a local test: the server's data directory (default: as slipway serve)")
    .option("--database <url>", "a local test: postgres://… when the server uses PostgreSQL")
    .option("--json", "print the delivery as JSON")
    .action(async (channel: string, flags: NotifyTestFlags) => {
      process.exitCode = await runNotifyTest(channel, flags, io());
    });
  notify
    .command("deliveries")
    .description("the delivery log: status, attempts and last error of recent notifications, newest first")
    .option("--status <status>", `only ${notificationStatuses.join(" | ")}`)
    .option("--channel <name>", "only this channel")
    .option("-L, --limit <n>", "at most this many", "50")
    .option("--server <url>", "a running server (env SLIPWAY_SERVER; default: the one of `slipway login`)")
    .addOption(hiddenTokenOption("API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--data-dir <dir>", "instead of a server: its data directory (default: as slipway serve)")
    .option("--database <url>", "instead of a server: postgres://… when it uses PostgreSQL")
    .option("--json", "print JSON")
    .action(async (flags: NotifyDeliveriesFlags) => {
      process.exitCode = await runNotifyDeliveries(flags, io());
    });
}
