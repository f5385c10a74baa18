#!/usr/bin/env node
// Stages what the slipway image (packaging/Dockerfile) holds, into a directory that is then the build
// context: bin/, dist/ (`npm run build` first), package.json, schema/, packaging/systemd/, the demo's
// example, and node_modules with only the packages dist/ still imports at run time (the ones esbuild
// leaves out of the bundle: native addons and packages that find files next to themselves) and what they
// depend on. It reads the installed node_modules and needs no network.
//
//   node packaging/stage.mjs OUT_DIR
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? "");
if (!process.argv[2]) {
  console.error("usage: node packaging/stage.mjs OUT_DIR");
  process.exit(2);
}
if (!existsSync(join(root, "dist", "slipway.js"))) {
  console.error("stage: dist/slipway.js is missing: run `npm run build` first");
  process.exit(1);
}

/** Files under dir (recursively) whose names end with .js. */
function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith(".js") ? [p] : [];
  });
}

/**
 * The packages dist/ imports at run time (bare specifiers that are not Node's own), among those installed:
 * bundled code may mention others (optional requires inside try blocks) that were never needed.
 */
function importedPackages() {
  const builtins = new Set(builtinModules);
  const names = new Set();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/[\w./-]*)?["']/g;
  for (const file of jsFiles(join(root, "dist")))
    for (const m of readFileSync(file, "utf8").matchAll(pattern)) {
      const spec = m[1];
      if (spec.startsWith("node:") || builtins.has(spec.split("/")[0])) continue;
      if (locate(spec, root)) names.add(spec);
    }
  return names;
}

/** Where a package is installed, as Node would find it from `from` (a directory in node_modules). */
function locate(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The installed packages `names` need, with their dependencies: path in node_modules → real path. */
function closure(names) {
  const found = new Map();
  const queue = [...names].map((name) => ({ name, from: root, optional: false }));
  while (queue.length) {
    const { name, from, optional } = queue.shift();
    const dir = locate(name, from);
    if (!dir) {
      if (optional) continue;
      throw new Error(`stage: ${name} (needed by ${from}) is not installed`);
    }
    if (found.has(dir)) continue;
    found.set(dir, true);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {}))
      queue.push({ name: dep, from: dir, optional: true });
  }
  return [...found.keys()];
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const part of ["bin", "dist", "package.json", "schema", "packaging/systemd", "examples/demo-shop", "README.md"])
  if (existsSync(join(root, part))) cpSync(join(root, part), join(out, part), { recursive: true, dereference: true });
const packages = closure(importedPackages());
for (const dir of packages) {
  // node_modules may be a link (a shared install): paths are kept relative to the repository's own.
  const rel = dir.slice(root.length + 1);
  cpSync(dir, join(out, rel), {
    recursive: true,
    dereference: true,
    // A package's own node_modules holds nested packages: those come in through the closure.
    filter: (src) => !src.slice(dir.length).includes("/node_modules/") && !/\/node_modules$/.test(src.slice(dir.length)),
  });
}
let bytes = 0;
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else bytes += statSync(p).size;
  }
};
walk(out);
console.error(`stage: ${packages.length} packages, ${(bytes / 1048576).toFixed(1)} MiB in ${out}`);
