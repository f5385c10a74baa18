// The pull request comment on a deployed release: its version and what the rollout measured (requests,
// failed requests, p50/p99 per service and version, from the router). Names come from slipway.yaml and
// versions from tags: they are put in code spans with backticks and pipes removed, so they cannot break
// the table or turn into links or mentions.
import type { Release } from "../store/index.js";

type VersionFigures = {
  requests?: number;
  failed?: number;
  errors5xx?: number;
  p50Ms?: number;
  p99Ms?: number;
};

function code(s: string): string {
  return `\`${s.replace(/[`|\r\n]/g, " ").slice(0, 100)}\``;
}

function num(n: unknown): string {
  return typeof n === "number" && Number.isFinite(n) ? String(Math.round(n * 10) / 10) : "–";
}

export function impactComment(app: string, env: string, release: Release, page: string | undefined): string {
  const version = release.version ? code(release.version) : `#${release.number}`;
  const lines = [
    `**slipway** deployed ${code(app)} ${version} to ${code(env)} (release #${release.number}, ${release.status}).`,
  ];
  const services = (release.impact as { services?: Record<string, Record<string, VersionFigures>> } | null)
    ?.services;
  const rows: string[] = [];
  for (const [service, versions] of Object.entries(services ?? {}))
    for (const [v, f] of Object.entries(versions ?? {}))
      rows.push(
        `| ${code(service)} | ${code(v)} | ${num(f.requests)} | ${num(f.failed)} | ${num(f.p50Ms)} | ${num(f.p99Ms)} |`,
      );
  if (rows.length > 0)
    lines.push(
      "",
      "Measured during the rollout:",
      "",
      "| service | version | requests | failed | p50 ms | p99 ms |",
      "|---|---|---:|---:|---:|---:|",
      ...rows,
    );
  else lines.push("", "No requests were measured during the rollout.");
  if (page) lines.push("", `[Release history](${page})`);
  return lines.join("\n");
}
