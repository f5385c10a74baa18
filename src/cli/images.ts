// `slipway images prune`: remove dangling images (layers no tag points to any more) on the engine host.
import type { Command } from "@commander-js/extra-typings";
import { connectEngine } from "../engines/index.js";
import { pruneImages } from "../images/index.js";
import { type CommandIo, processIo, withInterrupt } from "./build.js";
import { formatBytes } from "../lib/format.js";

export type ImagesPruneFlags = { json?: boolean; onlySlipway?: boolean };

export async function runImagesPrune(flags: ImagesPruneFlags, io: CommandIo = processIo()): Promise<number> {
  const engine = connectEngine({ env: io.env });
  const r = await pruneImages(engine, { onlySlipway: flags.onlySlipway, signal: io.signal });
  io.stdout(
    flags.json
      ? `${JSON.stringify(r, null, 2)}\n`
      : `${r.deleted.map((d) => `deleted ${d}\n`).join("")}reclaimed ${formatBytes(r.spaceReclaimed)}\n`,
  );
  return 0;
}

export function registerImages(program: Command): void {
  const images = program.command("images").description("images on the container engine host");
  images
    .command("prune")
    .description("remove dangling images on the engine host")
    .option("--only-slipway", "only images built by slipway build")
    .option("--json", "print JSON on stdout")
    .action(async (flags: ImagesPruneFlags) => {
      process.exitCode = await withInterrupt((signal) => runImagesPrune(flags, { ...processIo(), signal }));
    });
}
