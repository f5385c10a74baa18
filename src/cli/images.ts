// `slipway images prune`: remove dangling images (layers no tag points to any more) on the engine host; with
// --dry-run, list them and remove nothing.
import type { Command } from "@commander-js/extra-typings";
import { connectEngine } from "../engines/index.js";
import { pruneImages } from "../images/index.js";
import { formatBytes } from "../lib/format.js";
import { type CommandIo, processIo, withInterrupt } from "./build.js";
import { type ConfirmIo, confirm, processConfirmIo } from "./confirm.js";

export type ImagesPruneFlags = { json?: boolean; onlySlipway?: boolean; dryRun?: boolean; yes?: boolean };

/** Only slipway's builds carry this label; `--only-slipway` keeps other images out of reach. */
const slipwayLabel = { "io.slipway.service": "" };

export async function runImagesPrune(
  flags: ImagesPruneFlags,
  io: CommandIo = processIo(),
  confirmIo: ConfirmIo = processConfirmIo(),
): Promise<number> {
  const engine = connectEngine({ env: io.env });
  const labels = flags.onlySlipway ? slipwayLabel : undefined;
  if (flags.dryRun) {
    // The engine's prune skips a dangling image a container still uses; the listing cannot tell, so it
    // names candidates.
    const candidates = await engine.listImages({ dangling: true, labels, signal: io.signal });
    const ids = candidates.map((i) => i.id);
    io.stdout(
      flags.json
        ? `${JSON.stringify({ dryRun: true, candidates: ids }, null, 2)}\n`
        : `${ids.map((id) => `would delete ${id} (unless a container uses it)\n`).join("")}${ids.length} dangling image${ids.length === 1 ? "" : "s"}\n`,
    );
    return 0;
  }
  await confirm(
    `Delete every dangling ${flags.onlySlipway ? "slipway-built " : ""}image on the engine host (see them first with --dry-run)?`,
    flags,
    confirmIo,
  );
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
    .option("-n, --dry-run", "list the dangling images that would be deleted, delete nothing")
    .option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)")
    .option("--json", "print JSON on stdout")
    .action(async (flags: ImagesPruneFlags) => {
      process.exitCode = await withInterrupt((signal) => runImagesPrune(flags, { ...processIo(), signal }));
    });
}
