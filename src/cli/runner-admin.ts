// `slipway runner ls|disable|enable|rm`: the admin's view and controls of the runners registered with a
// server, over its API (human tables, or --json).
import type { Command } from "@commander-js/extra-typings";
import { formatTimestamp, textTable } from "../lib/format.js";
import type { Runner } from "../store/index.js";
import { ApiClient, type ClientFlags } from "./client.js";
import { type ConfirmFlags, confirm, yesOption } from "./confirm.js";
import { hiddenTokenOption, resolveTokenHook, tokenFileFor } from "./token-flags.js";

// Commander's inferred types cannot follow options added by a helper; the actions declare their flags.
function withClient(cmd: any): any {
  return cmd
    .option("--server <url>", "the slipway server (env SLIPWAY_SERVER)")
    .addOption(hiddenTokenOption("admin API token", "SLIPWAY_TOKEN"))
    .option(...tokenFileFor("admin API token", "SLIPWAY_TOKEN"))
    .hook("preAction", resolveTokenHook)
    .option("--json", "print JSON");
}

/** A runner as the API answers it (never its token). */
type RunnerView = Runner;

/** `slipway runner ls|disable|enable|rm`: an admin's view and controls of the registered runners. */
export function registerRunnerAdmin(runner: Command): void {
  const print = (flags: { json?: boolean }, data: unknown, human: () => string) =>
    process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : human());
  withClient(runner.command("ls").description("list registered runners (admin)")).action(
    async (flags: ClientFlags & { json?: boolean }) => {
      const r = await new ApiClient(flags).request<{ runners: RunnerView[] }>("GET", "/api/v1/runners");
      print(flags, r.runners, () => {
        const rows = [
          ["ID", "NAME", "LABELS", "STATE", "LAST SEEN"],
          ...r.runners.map((x) => [
            x.id,
            x.name,
            x.labels.join(","),
            x.disabledAt ? "disabled" : "enabled",
            formatTimestamp(x.lastHeartbeatAt),
          ]),
        ];
        return textTable(rows);
      });
    },
  );
  const control = (verb: "disable" | "enable" | "rm", description: string) => {
    const cmd = withClient(runner.command(verb).description(description).argument("<runner>", "name or id"));
    // Removing cannot be undone (the runner must register again): ask first, as for tokens.
    return (verb === "rm" ? yesOption(cmd) : cmd).action(
      async (ref: string, flags: ClientFlags & ConfirmFlags) => {
        const path = `/api/v1/runners/${encodeURIComponent(ref)}`;
        if (verb === "rm")
          await confirm(`remove runner ${ref}? its token stops working and its running jobs fail`, flags);
        const r =
          verb === "rm"
            ? await new ApiClient(flags).request<{ failedJobs?: number[] }>("DELETE", path)
            : await new ApiClient(flags).request<{ failedJobs?: number[] }>("POST", `${path}/${verb}`);
        const failed = r.failedJobs?.length ? ` (its ${r.failedJobs.length} running job(s) failed)` : "";
        const done = { disable: "disabled", enable: "enabled", rm: "removed" }[verb];
        print(flags, r, () => `${done} runner ${ref}${failed}\n`);
      },
    );
  };
  control("disable", "refuse a runner's token until it is enabled; its running jobs fail (admin)");
  control("enable", "accept a disabled runner's token again (admin)");
  control("rm", "remove a runner: its token stops working at once and its running jobs fail (admin)");
}
