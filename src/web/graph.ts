// The job graph: one box per workflow job (its matrix legs listed inside it), laid out by dagre from
// the jobs' `needs`, left to right as on GitHub.
import { useEffect, useState } from "preact/hooks";
import { StateBadge } from "./components.js";
import { duration } from "./format.js";
import { html } from "./html.js";
import type { Job } from "./model.js";

type Dagre = typeof import("@dagrejs/dagre");
let dagre: Dagre | undefined;
let loading: Promise<Dagre> | undefined;
/** dagre is a chunk of its own (the runs page does not need it): fetched when a run page opens. */
export function loadGraphLayout(): Promise<Dagre> {
  loading ??= import("@dagrejs/dagre").then((m) => {
    dagre = m;
    return m;
  });
  return loading;
}

const width = 220;
const head = 30;
const legHeight = 26;

export function JobGraph({ runId, jobs, selected }: { runId: number; jobs: Job[]; selected?: number }) {
  const [lib, setLib] = useState(dagre);
  useEffect(() => {
    if (!lib) void loadGraphLayout().then(setLib);
  }, []);
  if (!lib) return html`<div class="graph"></div>`;
  const { Graph, layout } = lib;
  const groups = new Map<string, Job[]>();
  for (const j of jobs) {
    const list = groups.get(j.jobId) ?? [];
    list.push(j);
    groups.set(j.jobId, list);
  }
  const g = new Graph();
  g.setGraph({ rankdir: "LR", nodesep: 20, ranksep: 50, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const [id, legs] of groups) g.setNode(id, { width, height: head + legs.length * legHeight });
  for (const [id, legs] of groups) {
    const needs = new Set(legs.flatMap((l) => l.needs ?? []));
    for (const n of needs) if (groups.has(n)) g.setEdge(n, id);
  }
  layout(g);
  const size = g.graph() as { width?: number; height?: number };
  const edges = g.edges().map((e: { v: string; w: string }) => {
    const pts = (g.edge(e) as { points: { x: number; y: number }[] }).points;
    return html`<polyline points=${pts.map((p) => `${p.x},${p.y}`).join(" ")} />`;
  });
  const nodes = [...groups].map(([id, legs]) => {
    const n = g.node(id) as { x: number; y: number; width: number; height: number };
    return html`<div class="job-node" data-job=${id}
        style=${{ left: `${n.x - n.width / 2}px`, top: `${n.y - n.height / 2}px`, width: `${n.width}px`, height: `${n.height}px` }}>
      <div class="job-head">${legs.length > 1 ? `${id} (${legs.length})` : legs[0].name}</div>
      ${legs.map(
        (
          l,
        ) => html`<a href=${`/runs/${runId}/jobs/${l.id}`} class=${l.id === selected ? "leg selected" : "leg"} data-leg=${l.jobKey}>
          <${StateBadge} state=${l.status} />
          <span class="leg-name">${legs.length > 1 ? l.name : ""}</span>
          ${l.reusedFrom ? html`<span class="reused" title="reused from an earlier attempt">reused</span>` : ""}
          <span class="dur">${duration(l.startedAt, l.finishedAt)}</span>
        </a>`,
      )}
    </div>`;
  });
  return html`<div class="graph" data-testid="graph" style=${{ width: `${size.width ?? 0}px`, height: `${size.height ?? 0}px` }}>
    <svg class="edges" width=${size.width ?? 0} height=${size.height ?? 0}>${edges}</svg>
    ${nodes}
  </div>`;
}
