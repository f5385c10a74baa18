// The routers' live figures on the app page: per service, a chart with one series per version (the
// router's revision, labelled with its release's version) of req/s, error rate, p50 or p99, polled every
// interval from GET …/figures, which keeps the last 5 minutes (a page opened now has its chart at once).
// uPlot draws on a canvas and sets its sizes through element.style (CSSOM, which the CSP's style-src
// 'self' allows; its stylesheet is bundled into app.css); legend labels are set as textContent, so a
// version named like markup shows as text.
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "../api.js";
import { html } from "../html.js";

export type VersionSeries = {
  rps: (number | null)[];
  errorRate: (number | null)[];
  p50: (number | null)[];
  p99: (number | null)[];
};
export type ServiceFigures = { service: string; t: number[]; versions: Record<string, VersionSeries> };
export type FiguresDocument = {
  agent: boolean;
  intervalMs?: number;
  windowMs?: number;
  now?: number;
  services: ServiceFigures[];
};

type Metric = "rps" | "errorRate" | "p50" | "p99";
const metrics: { key: Metric; label: string; unit: string }[] = [
  { key: "rps", label: "req/s", unit: "req/s" },
  { key: "errorRate", label: "errors", unit: "%" },
  { key: "p50", label: "p50", unit: "ms" },
  { key: "p99", label: "p99", unit: "ms" },
];
const colours = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a"];

/** What a value shows as in the chart and the table: error rates in percent. */
function shown(metric: Metric, v: number | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  return metric === "errorRate" ? Math.round(v * 10_000) / 100 : v;
}

function text(metric: Metric, v: number | null | undefined): string {
  const s = shown(metric, v);
  if (s === null) return "—";
  return metric === "errorRate" ? `${s}%` : metric === "rps" ? `${s}` : `${s} ms`;
}

/** The last figure of a series that has one (a version idle in the last sample shows its last value). */
function latest(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

export function LiveFigures({
  app,
  env,
  labels,
}: {
  app: string;
  env: string;
  /** service → revision → what to call it (e.g. "r2 · v2.0.0"). */
  labels: (service: string, revision: string) => string;
}) {
  const [doc, setDoc] = useState<FiguresDocument | undefined>(undefined);
  const [error, setError] = useState("");
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const path = `/api/v1/deploy/${encodeURIComponent(app)}/${encodeURIComponent(env)}/figures`;
    const poll = async () => {
      try {
        const d = await get<FiguresDocument>(path);
        if (stopped) return;
        setDoc(d);
        setError("");
        timer = setTimeout(poll, d.intervalMs ?? 2000);
      } catch (err) {
        if (stopped) return;
        setError((err as Error).message);
        // A refusal (signed out, gone) is not retried in a loop; a failure is, more slowly.
        timer = setTimeout(poll, 10_000);
      }
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [app, env]);

  if (error && !doc) return html`<p class="error" data-testid="figures-error">${error}</p>`;
  if (!doc) return null;
  if (!doc.agent || doc.services.length === 0)
    return html`<p class="empty" data-testid="figures-empty">
      No live figures: ${doc.agent ? "no routed service has been sampled yet" : "no deploy agent runs"}.
    </p>`;
  return html`<div class="figures" data-testid="figures">
    ${error && html`<p class="error">${error}</p>`}
    ${doc.services.map((s) => html`<${ServiceChart} key=${s.service} figures=${s} labels=${labels} />`)}
  </div>`;
}

function ServiceChart({
  figures,
  labels,
}: {
  figures: ServiceFigures;
  labels: (service: string, revision: string) => string;
}) {
  const [metric, setMetric] = useState<Metric>("rps");
  const versions = Object.keys(figures.versions).sort();
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<{ key: string; plot: UPlotLike } | undefined>(undefined);
  const unit = metrics.find((m) => m.key === metric)!.unit;
  const legend = versions.map((v) => labels(figures.service, v));

  useEffect(() => {
    const data: Aligned = [
      figures.t.map((t) => t / 1000),
      ...versions.map((v) => figures.versions[v][metric].map((x) => shown(metric, x))),
    ];
    // Same series as drawn: new data only; otherwise the chart is made again.
    const key = JSON.stringify([metric, legend]);
    if (plot.current?.key === key) {
      plot.current.plot.setData(data);
      return;
    }
    let stale = false;
    void import("uplot").then(({ default: uPlot }) => {
      if (stale || !el.current) return;
      plot.current?.plot.destroy();
      const made = new uPlot(
        {
          width: Math.min(el.current.clientWidth || 600, 900),
          height: 160,
          series: [
            {},
            ...legend.map((label, i) => ({
              label,
              stroke: colours[i % colours.length],
              width: 1.5,
              spanGaps: false,
            })),
          ],
          axes: [{}, { label: unit, size: 60 }],
          scales: { y: { range: (_u: unknown, min: number, max: number) => [0, Math.max(max, min, 1)] } },
        },
        data,
        el.current,
      );
      plot.current = { key, plot: made };
    });
    return () => {
      stale = true;
    };
  });
  useEffect(
    () => () => {
      plot.current?.plot.destroy();
      plot.current = undefined;
    },
    [],
  );

  return html`<section class="service-figures" data-service=${figures.service}>
    <h3>${figures.service} <span class="sub">live, last ${Math.round(span(figures.t) / 1000)} s</span></h3>
    <div class="toolbar" role="group">
      ${metrics.map(
        (m) => html`<button type="button" data-metric=${m.key} class=${m.key === metric ? "active" : ""}
          aria-pressed=${m.key === metric} onClick=${() => setMetric(m.key)}>${m.label}</button>`,
      )}
    </div>
    <div class="chart" data-testid="figures-chart" ref=${el}></div>
    <table class="figures-latest" data-testid="figures-latest">
      <thead><tr><th>Version</th><th>req/s</th><th>errors</th><th>p50</th><th>p99</th></tr></thead>
      <tbody>
        ${versions.map((v, i) => {
          const s = figures.versions[v];
          return html`<tr data-version=${v}>
            <td>${legend[i]}</td>
            <td>${text("rps", latest(s.rps))}</td>
            <td>${text("errorRate", latest(s.errorRate))}</td>
            <td>${text("p50", latest(s.p50))}</td>
            <td>${text("p99", latest(s.p99))}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

type Aligned = [number[], ...(number | null)[][]];
type UPlotLike = { setData(data: Aligned): void; destroy(): void };

function span(t: number[]): number {
  return t.length < 2 ? 0 : t[t.length - 1] - t[0];
}
