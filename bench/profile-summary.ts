// Summarises a V8 CPU profile (`node --cpu-prof bin/slipway.js run ...`): self and total time per
// function and self time per source file, mapped through dist/slipway.js.map back to src/.
// Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N]
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bundle = join(root, "dist", "slipway.js");

function loadSourceMap(): SourceMap | undefined {
  try {
    return new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8")));
  } catch {
    return undefined;
  }
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" } },
  });
  if (positionals.length !== 1) throw new Error("usage: profile-summary.ts FILE.cpuprofile [--top N]");
  const top = Number(values.top);
  const profile = JSON.parse(readFileSync(positionals[0], "utf8")) as Profile;
  const map = loadSourceMap();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const where = (cf: CallFrame): string => {
    if (map && cf.url.endsWith("/dist/slipway.js") && cf.lineNumber >= 0) {
      const e = map.findEntry(cf.lineNumber, cf.columnNumber) as {
        originalSource?: string;
        originalLine?: number;
      };
      if (e.originalSource) {
        const src = relative(root, fileURLToPath(new URL(e.originalSource, `file://${bundle}`)));
        return `${src}:${(e.originalLine ?? 0) + 1}`;
      }
    }
    if (!cf.url) return "(native)";
    return `${cf.url.replace(/^file:\/\//, "")}:${cf.lineNumber + 1}`;
  };
  const key = (cf: CallFrame) => `${cf.functionName || "(anonymous)"} ${where(cf)}`;

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    all += dt;
    const node = byId.get(id)!;
    const k = key(node.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    const file = where(node.callFrame).replace(/:\d+$/, "");
    files.set(file, (files.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const ck = key(byId.get(cur)!.callFrame);
      if (seen.has(ck)) continue;
      seen.add(ck);
      total.set(ck, (total.get(ck) ?? 0) + dt);
    }
  });
  const show = (title: string, m: Map<string, number>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(
        `${ms.toFixed(0).padStart(8)} ms ${((ms / all) * 100).toFixed(1).padStart(5)} %  ${k}\n`,
      );
    }
  };
  process.stdout.write(`profile: ${all.toFixed(0)} ms sampled\n`);
  show("self time by function", self);
  show("self time by file", files);
  show("total (inclusive) time by function", total);
}

main();
