// Bundles the CLI into dist/ so that plain `node` can run it: @actions/workflow-parser imports
// JSON without import attributes, which Node 20's ESM loader refuses; esbuild inlines it.
import { build } from "esbuild";

await build({
  entryPoints: { slipway: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  packages: "bundle",
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
