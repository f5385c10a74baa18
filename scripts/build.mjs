// Bundles the CLI into dist/ so that plain `node` can run it: @actions/workflow-parser imports
// JSON without import attributes, which Node 20's ESM loader refuses; esbuild inlines it.
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

await build({
  entryPoints: { slipway: "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // Command groups are loaded on demand (src/cli/main.ts): each becomes a chunk of its own.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  sourcemap: true,
  packages: "bundle",
  // Native addons and packages that find files relative to themselves stay in node_modules.
  external: ["better-sqlite3", "dockerode", "docker-modem", "ssh2", "cpu-features", "pg-native"],
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});

// The dashboard (src/web): one browser bundle and its stylesheet in dist/web/, served by `slipway serve`.
// Everything is bundled (no CDN): the dashboard works offline, and its CSP allows only its own files.
mkdirSync("dist/web", { recursive: true });
await build({
  entryPoints: [
    { in: "src/web/index.ts", out: "app" },
    { in: "src/web/style.css", out: "app" },
  ],
  outdir: "dist/web",
  bundle: true,
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  format: "esm",
  // Libraries only some pages need (dagre, uPlot, marked) are chunks fetched when those pages open.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  tsconfig: "src/web/tsconfig.json",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
copyFileSync("src/web/index.html", "dist/web/index.html");
copyFileSync("src/web/favicon.svg", "dist/web/favicon.svg");

// The runner's native spawner (optional: the runner falls back to its Perl helper without it).
const { buildNative } = await import("./build-native.mjs");
buildNative();
