// The human and --json rendering of the deploy commands: releases (one line, the --json view, the measured
// impact), status, and the progress events of a deploy. Shared by the local commands and, through
// `renderers`, by the same commands against a server (deploy-remote.ts), so both print alike.
import type { DeployProgress, ReleaseDocument } from "../deploy/index.js";
import type { Release } from "../store/index.js";
import type { Renderers } from "./deploy-remote.js";
import type { Style } from "./tty.js";

export type StatusView = {
  app: string;
  env: string;
  runtime: string;
  current: { number: number; version: string | null } | null;
  active: { number: number; actor: string } | null;
  services: {
    name: string;
    revision: string | null;
    replicas: number;
    router: { url: string; weights: Record<string, number> } | null;
    instances: { id: string; revision: string; state: string; healthy: boolean; address: string | null }[];
  }[];
};

export function renderStatus(s: StatusView | undefined): string {
  if (!s) return "";
  const lines = [
    `${s.app}/${s.env}: current release ${s.current ? `#${s.current.number}${s.current.version ? ` (${s.current.version})` : ""}` : "none"}${s.active ? `, deploying #${s.active.number} (${s.active.actor})` : ""}`,
  ];
  for (const svc of s.services) {
    const weights = svc.router
      ? Object.entries(svc.router.weights)
          .filter(([, w]) => w > 0)
          .map(([v, w]) => `${v} ${w}%`)
          .join(", ") || "no traffic"
      : "";
    lines.push(
      `  ${svc.name}  ${svc.revision ?? "-"}  ${svc.instances.filter((i) => i.state === "ready").length}/${svc.replicas} ready${svc.router ? `  ${svc.router.url}  ${weights}` : ""}`,
    );
    for (const i of svc.instances)
      lines.push(`    ${i.id}  ${i.state}${i.healthy ? "" : " (unhealthy)"}  ${i.address ?? ""}`);
  }
  return `${lines.join("\n")}\n`;
}

export function renderEvent(e: DeployProgress, started: number, style: Style): string {
  const t = `${((e.at - started) / 1000).toFixed(1).padStart(6)}s`;
  const msg =
    e.level === "error" ? style.red(e.message) : e.level === "warn" ? style.yellow(e.message) : e.message;
  return `${style.dim(t)} ${msg}`;
}

export function releaseView(r: Release) {
  const doc = r.spec as ReleaseDocument | undefined;
  return {
    number: r.number,
    app: r.app,
    env: r.env,
    kind: r.kind,
    rollbackOf: r.rollbackOf,
    version: r.version,
    status: r.status,
    phase: r.phase,
    error: r.error,
    trigger: r.trigger,
    actor: r.actor,
    strategy: r.strategy,
    revisions: doc?.revisions ?? {},
    changed: doc?.changed ?? [],
    images: r.images,
    specHash: r.specHash,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    durationMs: r.finishedAt ? r.finishedAt - r.startedAt : null,
    impact: r.impact,
  };
}

export function releaseLine(r: Release): string {
  const took = r.finishedAt ? ` in ${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s` : "";
  const what = r.kind === "rollback" ? ` rollback to #${r.rollbackOf}` : "";
  return `#${r.number}${r.version ? ` ${r.version}` : ""}${what} ${r.status.replace("_", " ")}${r.status === "failed" && r.phase ? ` (${r.phase})` : ""}${took}  ${new Date(r.createdAt).toISOString()}  ${r.actor}`;
}

export function renderImpact(impact: unknown): string {
  const services = (
    impact as { services?: Record<string, Record<string, Record<string, number | null>>> } | null
  )?.services;
  if (!services) return "";
  const lines: string[] = [];
  for (const [svc, versions] of Object.entries(services))
    for (const [v, f] of Object.entries(versions))
      lines.push(
        `  ${svc} ${v}: ${f.requests} requests, ${f.failed} failed, ${f.errors5xx} 5xx, p50 ${fmtMs(f.p50Ms)}, p99 ${fmtMs(f.p99Ms)}`,
      );
  return lines.length ? `impact during the rollout (measured by the router):\n${lines.join("\n")}\n` : "";
}

/** The rendering above, for the same commands against a server (deploy-remote.ts). */
export const renderers: Renderers = { releaseView, releaseLine, renderImpact, renderEvent, renderStatus };

const fmtMs = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `${v.toFixed(1)} ms`);
