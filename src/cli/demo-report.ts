// The last step of `slipway demo`: what it reports (the --json document's shape) and the human account of
// it — the pipelines, the URLs, what the load probe saw, the release records, and where to look next.
import { join } from "node:path";
import { formatDuration } from "../lib/format.js";
import type { ProbeCounts, ProbeReport } from "./demo-probe.js";
import { demoApp } from "./demo-setup.js";
import type { Style } from "./tty.js";

/** The commands a user runs to look at (and stop) the demo's environment. */
export function lookAroundCommands(dir: string): string[] {
  const where = `-c ${join(dir, "slipway.yaml")} --data-dir ${join(dir, ".slipway", "data")}`;
  return ["status", "releases", "down"].map((c) => `slipway ${c.padEnd(8)} ${where}`);
}

export type ReleaseView = {
  number: number;
  version: string | null;
  status: string;
  phase: string;
  trigger: string;
  kind: string;
  strategy: Record<string, string>;
  changed: string[];
  durationMs: number | null;
  error: string | null;
  impact?: {
    services?: Record<string, Record<string, { requests: number; failed: number; status5xx?: number }>>;
  };
};

export type DemoStage = {
  name: "v1" | "v2";
  commit: string;
  message: string;
  version: string | null;
  run: { status: string; jobs: { id: string; status: string; durationMs: number; message?: string }[] };
};

export type DemoReport = {
  ok: boolean;
  dir: string;
  dataDir: string;
  docker: { used: boolean; reason: string; images: string[] };
  urls: { web: string; api: string };
  stages: DemoStage[];
  /** What web answered at the end: the version it serves. */
  serving: string | null;
  probe: ProbeReport | null;
  releases: ReleaseView[];
  kept: boolean;
  stopped: boolean;
  problems: string[];
  notes: string[];
};

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describeCounts(c: ProbeCounts): string {
  const versions = Object.entries(c.versions)
    .map(([v, n]) => `${v} ×${n}`)
    .join(", ");
  return `${plural(c.requests, "request")}, ${c.failed} failed${versions ? `  (${versions})` : ""}`;
}

/** The human account of a demo: what ran, what it served, what the probe saw, and where to look next. */
export function renderDemoReport(r: DemoReport, style: Style): string {
  const mark = (ok: boolean) => (ok ? style.green("✓") : style.red("✗"));
  const lines: string[] = [];
  lines.push(
    `${mark(r.ok)} slipway demo ${r.ok ? "succeeded" : "failed"}: ${demoApp} (api, web, worker) in ${r.dir}`,
  );
  lines.push("");
  for (const s of r.stages) {
    const jobs = s.run.jobs.map((j) => `${j.id} ${j.status}`).join(", ");
    lines.push(
      `  ${s.name}  ${(s.version ?? "-").padEnd(7)} commit ${s.commit.slice(0, 7)} "${s.message}": pipeline ${s.run.status} (${jobs})`,
    );
  }
  lines.push(
    r.docker.used
      ? `  images  ${r.docker.images.length ? r.docker.images.join(", ") : "none built"} (Docker; the services run as local processes)`
      : `  images  not built: ${r.docker.reason}`,
  );
  lines.push(`  web     ${r.urls.web}/${r.serving ? `   serves ${r.serving}` : ""}`);
  lines.push(`  api     ${r.urls.api}/products`);
  if (r.probe) {
    const p = r.probe;
    lines.push("");
    lines.push(
      `load probe during the v2 rollout (blue-green): ${plural(p.requests, "request")} in ${formatDuration(p.durationMs, "tenths")}, ${p.failed === 0 ? style.green("0 failed") : style.red(`${p.failed} failed`)}`,
    );
    for (const [name, t] of Object.entries(p.targets)) lines.push(`  ${name.padEnd(4)} ${describeCounts(t)}`);
    for (const e of p.errors) lines.push(`  ${style.red(e)}`);
  }
  if (r.releases.length) {
    lines.push("");
    lines.push("releases (slipway releases):");
    for (const rel of r.releases) {
      const strategies = Object.entries(rel.strategy ?? {})
        .map(([svc, st]) => `${svc} ${st}`)
        .join(", ");
      const took = rel.durationMs === null ? "" : ` in ${formatDuration(rel.durationMs, "tenths")}`;
      lines.push(
        `  #${rel.number} ${rel.version ?? "-"} ${rel.status}${took}, by ${rel.trigger}; ${strategies}${rel.error ? `; ${rel.error}` : ""}`,
      );
    }
  }
  for (const p of r.problems) lines.push(style.red(`problem: ${p}`));
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push("");
  if (r.kept) {
    lines.push("still running (--keep). Look around, then stop it:");
  } else {
    lines.push(
      r.stopped
        ? "stopped: `slipway down` stopped the agent and every instance. The records stay; look around:"
        : style.red("could not confirm that everything stopped; look around:"),
    );
  }
  for (const c of lookAroundCommands(r.dir)) lines.push(`  ${c}`);
  lines.push(`  the demo's repository and data: ${r.dir} (rm -rf it when done)`);
  return `${lines.join("\n")}\n`;
}
