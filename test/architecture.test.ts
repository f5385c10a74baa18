// The dependency rules of ../shared/ARCHITECTURE.md, checked on the source: domains are imported only
// through their index.ts, never import cli/ or server/, lib/ imports no domain, and the graph of
// domains has no cycle, nor has the graph of files inside a domain.
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
  return fileEdges().filter((e) => e.from !== e.to);
}

/** Every relative import (type-only ones too) of the non-test sources, by file and by domain. */
function fileEdges(): Edge[] {
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
      out.push({ from, to, file: relative(src, file), target: relative(src, target) });
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

  it("has no import cycle between the files of a domain", () => {
    const graph = new Map<string, string[]>();
    for (const e of fileEdges()) {
      if (e.from !== e.to) continue;
      const to = e.target.replace(/\.js$/, ".ts");
      graph.set(e.file, [...(graph.get(e.file) ?? []), to]);
    }
    expect(cyclicGroups(graph)).toEqual([]);
  });
});

/**
 * The strongly connected components with more than one file (Tarjan): each is a set of files that
 * import each other in a ring, listed whole so one run of the test names everything to untangle.
 */
function cyclicGroups(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || graph.get(v)?.includes(v)) groups.push(group.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return groups.sort((a, b) => a[0].localeCompare(b[0]));
}
