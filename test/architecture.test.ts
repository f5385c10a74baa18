// The dependency rules of ../shared/ARCHITECTURE.md, checked on the source: domains are imported only
// through their index.ts, never import cli/ or server/, lib/ imports no domain, and the graph of
// domains has no cycle.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const src = resolve(import.meta.dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

type Edge = { from: string; to: string; file: string; target: string };

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of files(src)) {
    if (file.endsWith(".test.ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+["'](\.[^"']+)["']/g)) {
      const target = resolve(dirname(file), m[1]);
      // The package's own metadata (slipway's version, in lib/version.ts) is no domain.
      if (relative(src, target) === join("..", "package.json")) continue;
      const from = relative(src, file).split("/")[0];
      const to = relative(src, target).split("/")[0];
      if (from !== to) out.push({ from, to, file: relative(src, file), target: relative(src, target) });
    }
  }
  return out;
}

describe("architecture", () => {
  const all = edges();

  it("imports other domains only through their index.ts (lib/ modules directly)", () => {
    const bad = all
      .filter((e) => e.to !== "lib" && !/^[^/]+\/index\.js$/.test(e.target))
      .map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });

  it("keeps domains free of cli/ and server/, and lib/ free of domains", () => {
    const bad = all
      .filter((e) => (e.to === "cli" || e.to === "server") && e.from !== "cli" && e.from !== "server")
      .concat(all.filter((e) => e.from === "lib"))
      .map((e) => `${e.file} → ${e.target}`);
    expect(bad).toEqual([]);
  });

  it("has no cycle between domains", () => {
    const graph = new Map<string, Set<string>>();
    for (const e of all) {
      if (!graph.has(e.from)) graph.set(e.from, new Set());
      graph.get(e.from)!.add(e.to);
    }
    const cycles: string[] = [];
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string, path: string[]) => {
      visiting.add(n);
      for (const m of graph.get(n) ?? []) {
        if (visiting.has(m)) cycles.push([...path, m].join(" → "));
        else if (!done.has(m)) visit(m, [...path, m]);
      }
      visiting.delete(n);
      done.add(n);
    };
    for (const n of graph.keys()) if (!done.has(n)) visit(n, [n]);
    expect(cycles).toEqual([]);
  });
});
