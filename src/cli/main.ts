// The `slipway` command (the entry point scripts/build.mjs bundles): see program.ts.
import { main } from "./program.js";

// A reader that went away (`slipway runs list | head`) is not an error of slipway's.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv);
