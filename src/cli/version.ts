// `slipway version`: slipway's own version (with --json, the Node.js and platform it runs on, for bug
// reports). The release calculator that had this name is `slipway release next`; `slipway version next`
// still runs it this release, with a deprecation notice.
import type { Command } from "@commander-js/extra-typings";
import { slipwayVersion } from "../lib/version.js";
import { deprecationNotice } from "./flags.js";
import { releaseNextCommand } from "./release.js";

export type VersionInfo = { version: string; node: string; platform: string; arch: string };

export function versionInfo(): VersionInfo {
  return {
    version: slipwayVersion,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
  };
}

export function registerVersion(program: Command): void {
  const version = program
    .command("version")
    .description("print slipway's version (--json: with the Node.js version and platform)")
    .option("--json", "print {version, node, platform, arch}")
    .action((flags: { json?: boolean }) => {
      const info = versionInfo();
      process.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : `slipway ${info.version}\n`);
    });
  releaseNextCommand(version.command("next", { hidden: true })).hook("preAction", () =>
    deprecationNotice(
      "`slipway version next` is now `slipway release next`; the old name goes in the next release",
    ),
  );
}
