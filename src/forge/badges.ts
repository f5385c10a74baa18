// Status badges as SVG, in the shape shields.io made familiar (label on grey, message on a colour). Every
// text is XML-escaped where it is placed: workflow, app and environment names come from repositories,
// and a badge is embedded in other people's pages.
import type { Release } from "../store/index.js";

export type Badge = { label: string; message: string; color: string };

const colors = {
  green: "#4c1",
  red: "#e05d44",
  yellow: "#dfb317",
  blue: "#007ec6",
  grey: "#9f9f9f",
} as const;

/** XML text and attribute escaping: the five predefined entities, and no control characters. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Verdana 11px widths are about 6–7 px; narrow letters less. Close enough for a badge's box. */
function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[iljtfr.,:;'!|I ]/.test(ch) ? 4 : /[mwMW@]/.test(ch) ? 10 : 7;
  return w;
}

function clip(s: string, max = 60): string {
  const chars = [...s];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : s;
}

export function renderBadge(b: Badge): string {
  const label = clip(b.label);
  const message = clip(b.message);
  const lw = textWidth(label) + 10;
  const mw = textWidth(message) + 10;
  const w = lw + mw;
  const title = escapeXml(`${label}: ${message}`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${title}">`,
    `<title>${title}</title>`,
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`,
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>`,
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${escapeXml(b.color)}"/><rect width="${w}" height="20" fill="url(#s)"/></g>`,
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`,
    `<text x="${lw / 2}" y="14">${escapeXml(label)}</text>`,
    `<text x="${lw + mw / 2}" y="14">${escapeXml(message)}</text>`,
    "</g></svg>",
  ].join("");
}

/** A workflow's badge from its newest finished run on the branch (or none). */
export function workflowBadge(workflow: string, conclusion: string | null | undefined): Badge {
  if (conclusion === undefined) return { label: workflow, message: "no runs", color: colors.grey };
  if (conclusion === "success") return { label: workflow, message: "passing", color: colors.green };
  if (conclusion === "failure") return { label: workflow, message: "failing", color: colors.red };
  return { label: workflow, message: conclusion ?? "unknown", color: colors.grey };
}

/** An app environment's badge from its newest release: healthy once it succeeded, else what happened. */
export function appBadge(app: string, env: string, latest: Release | undefined): Badge {
  const label = `${app} ${env}`;
  if (!latest) return { label, message: "not deployed", color: colors.grey };
  const version = latest.version ?? `#${latest.number}`;
  switch (latest.status) {
    case "succeeded":
      return { label, message: `healthy ${version}`, color: colors.green };
    case "running":
      return { label, message: `deploying ${version}`, color: colors.blue };
    case "paused":
      return { label, message: `canary ${version}`, color: colors.yellow };
    case "rolled_back":
      return { label, message: "rolled back", color: colors.yellow };
    default:
      return { label, message: latest.status, color: colors.red };
  }
}

/**
 * What the badge reads of an app environment's status (`GET /api/v1/deploy/:app/:env/status`: the deploy
 * agent's answer, or `agent: null` and the store's current release when no agent answers). Only counts,
 * states and the release's version are read: instance ids and addresses never reach a badge.
 */
export type LiveStatus = {
  agent?: unknown;
  current?: { number: number; version: string | null } | null;
  active?: unknown;
  services?: {
    revision?: string | null;
    replicas?: number;
    instances?: { revision?: string | null; state?: string; healthy?: boolean }[];
  }[];
};

/**
 * An app environment's live health from its agent: *healthy v1.2.3* when every wanted replica of every
 * service runs the service's revision and is healthy, *degraded 1/2* when some are, *down* when none
 * are, *deploying* or *canary* while a rollout is under way. No agent answering (none runs, or it did not
 * answer in time): the newest release, marked *unknown* because nothing vouches for it now.
 */
export function healthBadge(
  app: string,
  env: string,
  status: LiveStatus | undefined,
  latest: Release | undefined,
): Badge {
  const label = `${app} ${env}`;
  if (!status?.agent) {
    if (!latest) return { label, message: "not deployed", color: colors.grey };
    const last = appBadge(app, env, latest);
    const what = latest.status === "succeeded" ? (latest.version ?? `#${latest.number}`) : last.message;
    return {
      label,
      message: `unknown, last ${what}`,
      color: latest.status === "failed" ? colors.red : colors.grey,
    };
  }
  const release = status.current ?? undefined;
  const version = release ? (release.version ?? `#${release.number}`) : undefined;
  if (status.active || latest?.status === "running")
    return {
      label,
      message: `deploying ${latest?.version ?? (latest ? `#${latest.number}` : "")}`.trim(),
      color: colors.blue,
    };
  if (latest?.status === "paused")
    return { label, message: `canary ${latest.version ?? `#${latest.number}`}`, color: colors.yellow };
  let want = 0;
  let have = 0;
  for (const s of status.services ?? []) {
    const replicas = typeof s.replicas === "number" && s.replicas > 0 ? s.replicas : 0;
    want += replicas;
    const serving = (s.instances ?? []).filter(
      (i) => i.revision === s.revision && i.state === "ready" && i.healthy === true,
    ).length;
    have += Math.min(serving, replicas);
  }
  if (want === 0)
    return release
      ? { label, message: "stopped", color: colors.grey }
      : { label, message: "not deployed", color: colors.grey };
  if (have === want) return { label, message: `healthy ${version ?? ""}`.trim(), color: colors.green };
  if (have === 0) return { label, message: "down", color: colors.red };
  return { label, message: `degraded ${have}/${want}`, color: colors.yellow };
}
