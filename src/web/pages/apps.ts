// Applications and environments: every (app, env) that has releases; for one, its current release, each
// service's instances with health and router weights, and the release history with each release's
// measured impact (a chart of p99 and failed requests per release), rollback to any earlier release,
// and promote/abort of a canary in progress; the routers' live figures per version (app-figures.ts) and
// what each release changed (release-diff.ts).
import { useEffect, useRef, useState } from "preact/hooks";
import { get, type Identity, post, postStream, roleAllows, withQuery } from "../api.js";
import { ActionButton, StateBadge } from "../components.js";
import { ago, duration } from "../format.js";
import { html } from "../html.js";
import { LiveFigures } from "./app-figures.js";
import { ReleaseChanges } from "./release-diff.js";

type Release = {
  id: number;
  app: string;
  env: string;
  number: number;
  kind: string;
  rollbackOf: number | null;
  version: string | null;
  images: Record<string, { image?: string; digest?: string }>;
  strategy?: Record<string, string> | null;
  spec?: unknown;
  trigger: string;
  actor: string;
  status: string;
  phase: string;
  error: string | null;
  impact: { services?: Record<string, Record<string, VersionImpact>> } | null;
  createdAt: number;
  startedAt: number;
  finishedAt: number | null;
};
type VersionImpact = { requests: number; failed: number; errors5xx?: number; p50Ms?: number; p99Ms?: number };
type Instance = { id: string; revision: string; state: string; healthy: boolean; address: string | null };
type Service = {
  name: string;
  revision: string | null;
  replicas: number;
  router: { url: string; weights: Record<string, number> } | null;
  instances: Instance[];
};
type Status = {
  app: string;
  env: string;
  agent: unknown;
  current: { number: number; version: string | null } | null;
  active?: { number: number; actor: string; startedAt: number } | null;
  services?: Service[];
};

/** A router's version key (a revision, "r<release number>") with the version of the release it came from. */
function revisionLabel(releases: Release[], service: string, revision: string): string {
  const from =
    releases.find(
      (r) =>
        (r.spec as { revisions?: Record<string, string> } | undefined)?.revisions?.[service] === revision,
    ) ?? releases.find((r) => `r${r.number}` === revision);
  return from?.version ? `${revision} · ${from.version}` : revision;
}

const appHref = (app: string, env: string) => `/apps/${encodeURIComponent(app)}/${encodeURIComponent(env)}`;

export function AppsPage() {
  const [releases, setReleases] = useState<Release[] | undefined>(undefined);
  const [error, setError] = useState("");
  useEffect(() => {
    get<{ releases: Release[] }>("/api/v1/releases?limit=1000").then(
      (r) => setReleases(r.releases),
      (err: Error) => setError(err.message),
    );
  }, []);
  const latest = new Map<string, Release>();
  for (const r of releases ?? []) {
    const k = `${r.app}\0${r.env}`;
    const seen = latest.get(k);
    if (!seen || seen.number < r.number) latest.set(k, r);
  }
  return html`<main>
    <h1>Applications</h1>
    ${error && html`<p class="error">${error}</p>`}
    ${releases && latest.size === 0 && html`<p class="empty">Nothing deployed yet.</p>`}
    <table class="apps">
      <tbody>
        ${[...latest.values()].map(
          (r) => html`<tr data-app=${`${r.app}/${r.env}`}>
            <td><a href=${appHref(r.app, r.env)}>${r.app}</a></td>
            <td>${r.env}</td>
            <td><${StateBadge} state=${r.status} /></td>
            <td>#${r.number} ${r.version ?? ""}</td>
            <td>${r.actor} · ${ago(r.finishedAt ?? r.startedAt)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </main>`;
}

function impactTotals(r: Release): VersionImpact | undefined {
  const services = r.impact?.services;
  if (!services) return undefined;
  const t: VersionImpact = { requests: 0, failed: 0, p99Ms: 0 };
  for (const versions of Object.values(services))
    for (const v of Object.values(versions)) {
      t.requests += v.requests;
      t.failed += v.failed;
      t.p99Ms = Math.max(t.p99Ms ?? 0, v.p99Ms ?? 0);
    }
  return t;
}

function ImpactChart({ releases }: { releases: Release[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const rows = releases.filter((r) => r.impact).sort((a, b) => a.number - b.number);
    if (!el.current || rows.length < 1) return;
    const xs = rows.map((r) => r.number);
    const t = rows.map((r) => impactTotals(r)!);
    let plot: { destroy(): void } | undefined;
    let stale = false;
    // uPlot is a chunk of its own, fetched only for a page with a chart.
    void import("uplot").then(({ default: uPlot }) => {
      if (stale || !el.current) return;
      plot = new uPlot(
        {
          width: Math.min(el.current.clientWidth || 600, 900),
          height: 180,
          scales: { x: { time: false } },
          series: [
            { label: "release" },
            { label: "p99 ms", stroke: "#3b82f6", scale: "ms" },
            { label: "failed %", stroke: "#dc2626", scale: "%" },
          ],
          axes: [{}, { scale: "ms" }, { scale: "%", side: 1 }],
        },
        [xs, t.map((v) => v.p99Ms ?? 0), t.map((v) => (v.requests ? (100 * v.failed) / v.requests : 0))],
        el.current,
      );
    });
    return () => {
      stale = true;
      plot?.destroy();
    };
  }, [releases]);
  return html`<div class="chart" ref=${el}></div>`;
}

export function AppPage({ app, env, me }: { app: string; env: string; me: Identity }) {
  const [status, setStatus] = useState<Status | undefined>(undefined);
  const [releases, setReleases] = useState<Release[]>([]);
  const [error, setError] = useState("");
  const [progress, setProgress] = useState<string[]>([]);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    get<Status>(`/api/v1/deploy/${encodeURIComponent(app)}/${encodeURIComponent(env)}/status`).then(
      setStatus,
      (err: Error) => setError(err.message),
    );
    get<{ releases: Release[] }>(withQuery("/api/v1/releases", { app, env, limit: 50 })).then(
      (r) => setReleases(r.releases),
      (err: Error) => setError(err.message),
    );
  }, [app, env, tick]);
  const canDeploy = roleAllows(me.role, "deployer");
  const base = `/api/v1/deploy/${encodeURIComponent(app)}/${encodeURIComponent(env)}`;
  const rollback = (to: number) => async () => {
    setProgress([]);
    const last = await postStream(`${base}/rollback`, { to }, (line) => {
      const ev = line.event as { message?: string; phase?: string } | undefined;
      if (ev) setProgress((p) => [...p.slice(-50), String(ev.message ?? ev.phase ?? JSON.stringify(ev))]);
    });
    setTick((t) => t + 1);
    const err = last.error as { message?: string } | undefined;
    if (err) throw new Error(err.message ?? "the rollback failed");
  };
  const control = (action: string) => async () => {
    await post(`${base}/${action}`);
    setTick((t) => t + 1);
  };
  const current = status?.current?.number;
  return html`<main class="app-page" data-app=${`${app}/${env}`}>
    <h1>${app} <span class="env">${env}</span></h1>
    ${error && html`<p class="error">${error}</p>`}
    ${
      status &&
      html`<p data-testid="current">Current release: ${current ? `#${current} ${status.current?.version ?? ""}` : "none"}
      ${status.active ? ` · deploying #${status.active.number} (${status.active.actor})` : ""}</p>`
    }
    ${
      canDeploy &&
      status?.active &&
      html`<div class="toolbar">
      <${ActionButton} name="promote" label="Promote canary" action=${control("promote")} />
      <${ActionButton} name="abort" kind="danger" label="Abort" action=${control("abort")} />
    </div>`
    }
    ${(status?.services ?? []).map(
      (s) => html`<section class="service">
        <h2>${s.name} <span class="sub">${s.revision ?? ""} · ${s.replicas} replicas</span></h2>
        ${
          s.router &&
          html`<p class="sub">Router ${s.router.url} · weights ${
            Object.entries(s.router.weights)
              .map(([v, w]) => `${v}: ${w}`)
              .join(", ") || "—"
          }</p>`
        }
        <table><tbody>
          ${s.instances.map(
            (i) => html`<tr><td><code>${i.id}</code></td><td>${i.revision}</td><td>${i.state}</td>
              <td><${StateBadge} state=${i.healthy ? "healthy" : "unhealthy"} /></td><td>${i.address ?? ""}</td></tr>`,
          )}
        </tbody></table>
      </section>`,
    )}
    <h2>Live</h2>
    <${LiveFigures} app=${app} env=${env} labels=${(service: string, revision: string) => revisionLabel(releases, service, revision)} />
    <h2>Releases</h2>
    <${ImpactChart} releases=${releases} />
    ${progress.length > 0 && html`<pre class="progress">${progress.join("\n")}</pre>`}
    <table class="releases" data-testid="releases">
      <thead><tr><th>#</th><th>Status</th><th>Version</th><th>Images</th><th>Impact</th><th>Changes</th><th>By</th><th></th></tr></thead>
      <tbody>
        ${releases.map((r) => {
          const t = impactTotals(r);
          return html`<tr data-release=${r.number}>
            <td>#${r.number}${r.kind === "rollback" ? ` ↺ #${r.rollbackOf}` : ""}</td>
            <td><${StateBadge} state=${r.status} />${r.error ? html`<div class="error">${r.error}</div>` : ""}</td>
            <td>${r.version ?? ""}</td>
            <td>${Object.entries(r.images ?? {}).map(([svc, im]) => html`<div><code>${svc}: ${im.image ?? ""}</code></div>`)}</td>
            <td>${t ? `${t.requests} req · ${t.failed} failed · p99 ${t.p99Ms ?? 0} ms` : ""}</td>
            <td><${ReleaseChanges} app=${app} env=${env} release=${r} releases=${releases} /></td>
            <td>${r.actor} · ${r.trigger}<div class="sub">${ago(r.startedAt)} · ${duration(r.startedAt, r.finishedAt)}</div></td>
            <td>${
              canDeploy &&
              r.status === "succeeded" &&
              r.number !== current &&
              html`<${ActionButton} name=${`rollback-${r.number}`} label=${`Roll back to #${r.number}`} action=${rollback(r.number)} />`
            }</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </main>`;
}
