// A run: its status, attempts and buttons, the job graph, the selected job's steps and live log,
// annotations and step summaries (Markdown, sanitised). One event stream per page
// (GET /api/v1/runs/:id/events) refreshes the run and feeds the log view. Protected environments and
// their Approve/Reject buttons: approvals.ts.
import { useEffect, useMemo, useState } from "preact/hooks";
import { get, type Identity, post, roleAllows } from "../api.js";
import { ActionButton, StateBadge } from "../components.js";
import { duration, safeHtml, stateOf } from "../format.js";
import { JobGraph, loadGraphLayout } from "../graph.js";
import { html } from "../html.js";
import { type LogEvent, LogView } from "../log-view.js";
import { actorOf, type Annotation, branchOf, type Job, type RunDetail, titleOf } from "../model.js";
import { navigate, useLocation } from "../router.js";
import { Approvals, type GateView } from "./approvals.js";

/**
 * `job`: from /runs/<id>/jobs/<job> — a job row's id (what the dashboard's own links use), or a job's key
 * (`build-2`) or workflow id (`build`) in the attempt shown, for links made without the row id.
 */
export function RunPage({ runId, job: jobRef, me }: { runId: number; job?: string; me: Identity }) {
  const { query, hash } = useLocation();
  const [detail, setDetail] = useState<RunDetail | undefined>(undefined);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  const listeners = useMemo(() => new Set<(e: LogEvent) => void>(), [runId]);
  const subscribe = useMemo(
    () => (f: (e: LogEvent) => void) => {
      listeners.add(f);
      return () => listeners.delete(f);
    },
    [listeners],
  );

  useEffect(() => {
    // The graph's layout code loads while the run is read.
    void loadGraphLayout();
  }, []);
  useEffect(() => {
    get<RunDetail>(`/api/v1/runs/${runId}`).then(
      (d) => {
        setDetail(d);
        setError("");
      },
      (err: Error) => setError(err.message),
    );
  }, [runId, tick]);

  const live = detail !== undefined && detail.run.status !== "completed";
  useEffect(() => {
    if (!live) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setTick((t) => t + 1);
      }, 100);
    };
    const es = new EventSource(`/api/v1/runs/${runId}/events`);
    es.addEventListener("log", (m) => {
      const e = JSON.parse((m as MessageEvent).data) as LogEvent;
      for (const f of listeners) f(e);
    });
    for (const type of ["job", "step"]) es.addEventListener(type, refresh);
    es.addEventListener("resync", () => {
      for (const f of listeners) f({ type: "resync" });
      refresh();
    });
    es.addEventListener("run", (m) => {
      refresh();
      // The server ends the stream with the run; do not let the browser reconnect for nothing.
      if ((JSON.parse((m as MessageEvent).data) as { status?: string }).status === "completed") es.close();
    });
    return () => {
      es.close();
      clearTimeout(timer);
    };
  }, [runId, live]);

  if (error) return html`<main><p class="error">${error}</p></main>`;
  if (!detail) return html`<main><p class="loading">Loading…</p></main>`;
  const { run } = detail;
  const attemptNo = Number(query.get("attempt")) || run.attempt;
  const attempt =
    detail.attempts.find((a) => a.attempt === attemptNo) ?? detail.attempts[detail.attempts.length - 1];
  const jobs = attempt?.jobs ?? [];
  const job =
    jobs.find((j) => String(j.id) === jobRef) ??
    jobs.find((j) => j.jobKey === jobRef) ??
    jobs.find((j) => j.jobId === jobRef) ??
    jobs.find((j) => j.status === "failure") ??
    jobs[0];
  const canAct = roleAllows(me.role, "developer");
  const done = run.status === "completed";
  const rerun = (body: Record<string, unknown>) => async () => {
    await post(`/api/v1/runs/${run.id}/rerun`, body);
    navigate(`/runs/${run.id}`);
    setTick((t) => t + 1);
  };
  const cancel = async () => {
    await post(`/api/v1/runs/${run.id}/cancel`);
    setTick((t) => t + 1);
  };
  const failed = jobs.some((j) => j.status === "failure" || j.status === "cancelled");
  const lineMatch = /^#L(\d+)$/.exec(hash);
  const annotations = [...(detail.annotations ?? []), ...jobs.flatMap((j) => j.annotations ?? [])];
  const summaries = (detail.summaries ?? [])
    .map((s) => s.markdown ?? s.content ?? "")
    .concat(jobs.map((j) => j.summary ?? "").filter(Boolean));

  return html`
    <main class="run" data-run=${run.id}>
      <div class="run-head">
        <${StateBadge} state=${stateOf(run.status, run.conclusion)} />
        <h1>${titleOf(run)}</h1>
      </div>
      <p class="sub">
        ${run.workflowName} #${run.number} · <code>${branchOf(run.ref)}</code> · ${run.sha.slice(0, 7)} ·
        ${actorOf(run)} · ${run.eventName} · ${duration(run.startedAt, run.finishedAt)}
        ${run.reason ? html` · <span class="reason">${run.reason}</span>` : ""}
      </p>
      <div class="toolbar">
        ${
          detail.attempts.length > 1 &&
          html`<label>Attempt
          <select value=${String(attempt?.attempt)} onChange=${(e: Event) =>
            navigate(`/runs/${run.id}?attempt=${(e.target as HTMLSelectElement).value}`)}>
            ${detail.attempts.map((a) => html`<option value=${String(a.attempt)}>#${a.attempt}</option>`)}
          </select></label>`
        }
        ${canAct && done && html`<${ActionButton} name="rerun-all" label="Re-run all jobs" action=${rerun({ all: true })} />`}
        ${canAct && done && failed && html`<${ActionButton} name="rerun-failed" label="Re-run failed jobs" action=${rerun({ failed: true })} />`}
        ${
          canAct &&
          !done &&
          html`<${ActionButton} name="cancel" kind="danger" label="Cancel run"
          action=${cancel} />`
        }
      </div>
      <${Approvals} runId=${run.id} attempt=${attempt?.attempt ?? run.attempt} jobs=${jobs}
        gates=${(detail as { environments?: GateView[] }).environments ?? []} onDecided=${() => setTick((t) => t + 1)} />
      <${JobGraph} runId=${run.id} jobs=${jobs} selected=${job?.id} />
      ${annotations.length > 0 && html`<${Annotations} list=${annotations} />`}
      ${summaries.map((md) => html`<${Markdown} md=${md} />`)}
      ${done && html`<${Artifacts} runId=${run.id} />`}
      ${
        job
          ? html`<${JobPanel} job=${job} runId=${run.id} attempt=${attempt.attempt} canAct=${canAct && done}
            subscribe=${subscribe} line=${lineMatch ? Number(lineMatch[1]) : undefined} rerun=${rerun} />`
          : html`<p class="hint">Choose a job to see its log.</p>`
      }
    </main>
  `;
}

/** A step summary: Markdown (marked, loaded on demand) rendered, then sanitised (DOMPurify). */
function Markdown({ md }: { md: string }) {
  const [markup, setMarkup] = useState("");
  useEffect(() => {
    let stale = false;
    void import("marked").then(({ marked }) => {
      if (!stale) setMarkup(safeHtml(marked.parse(md, { async: false })));
    });
    return () => {
      stale = true;
    };
  }, [md]);
  return html`<section class="summary markdown" dangerouslySetInnerHTML=${{ __html: markup }}></section>`;
}

type Artifact = { name: string; size: number; files: number; expiresAt?: number | null };

/** The run's artifacts, to download (a tar of the files), when the server keeps artifacts. */
function Artifacts({ runId }: { runId: number }) {
  const [list, setList] = useState<Artifact[]>([]);
  useEffect(() => {
    // A server without artifact storage answers 404: nothing to show.
    get<{ artifacts: Artifact[] }>(`/api/v1/runs/${runId}/artifacts`).then(
      (r) => setList(r.artifacts),
      () => setList([]),
    );
  }, [runId]);
  if (list.length === 0) return null;
  return html`<section class="artifacts" data-testid="artifacts">
    <h2>Artifacts</h2>
    <ul>
      ${list.map(
        (a) => html`<li>
          <a href=${`/api/v1/runs/${runId}/artifacts/${encodeURIComponent(a.name)}`} download=${`${a.name}.tar`}>${a.name}</a>
          <span class="sub"> ${a.files} files · ${Math.ceil(a.size / 1024)} KB</span>
        </li>`,
      )}
    </ul>
  </section>`;
}

function Annotations({ list }: { list: Annotation[] }) {
  return html`<section class="annotations" data-testid="annotations">
    <h2>Annotations</h2>
    <ul>
      ${list.map(
        (a) => html`<li class=${`annotation ${a.level ?? "notice"}`}>
          <strong>${a.level ?? "notice"}</strong> ${a.title ? html`<em>${a.title}</em> ` : ""}${a.message ?? ""}
          ${a.file ? html` <code>${a.file}${a.line ? `:${a.line}` : ""}</code>` : ""}
          ${a.stepName ? html` <span class="sub" data-testid="annotation-step">in ${a.stepName}</span>` : ""}
        </li>`,
      )}
    </ul>
  </section>`;
}

function JobPanel(p: {
  job: Job;
  runId: number;
  attempt: number;
  canAct: boolean;
  subscribe: (f: (e: LogEvent) => void) => () => void;
  line?: number;
  rerun: (body: Record<string, unknown>) => () => Promise<void>;
}) {
  const { job } = p;
  return html`<section class="job" data-job-row=${job.id}>
    <div class="job-title">
      <${StateBadge} state=${job.status} />
      <h2>${job.name}</h2>
      <span class="sub">${duration(job.startedAt, job.finishedAt)}${job.reusedFrom ? " · reused from an earlier attempt" : ""}</span>
      ${p.canAct && html`<${ActionButton} name="rerun-job" label="Re-run this job" action=${p.rerun({ job: job.jobId.split("/")[0] })} />`}
    </div>
    ${job.reason && html`<p class="reason">${job.reason}</p>`}
    <ol class="steps">
      ${job.steps.map(
        (
          s,
        ) => html`<li><${StateBadge} state=${s.conclusion ?? (s.startedAt ? "running" : "queued")} /> ${s.name}
          <span class="dur">${duration(s.startedAt, s.finishedAt)}</span></li>`,
      )}
    </ol>
    <${LogView} runId=${p.runId} attempt=${p.attempt} jobKey=${job.jobKey} jobRowId=${job.id}
      subscribe=${p.subscribe} line=${p.line} />
  </section>`;
}
