// The runs list: newest first, filtered by repository and status on the server and by branch, workflow
// and actor here; one event stream (GET /api/v1/events) re-reads it when any run or job changes.
import { useEffect, useMemo, useState } from "preact/hooks";
import { get, withQuery } from "../api.js";
import { StateBadge } from "../components.js";
import { ago, duration, stateOf } from "../format.js";
import { html } from "../html.js";
import { actorOf, branchOf, type Repo, type Run, titleOf } from "../model.js";
import { navigate, useLocation } from "../router.js";

const filters = ["repo", "branch", "workflow", "status", "actor"] as const;

export function RunsPage() {
  const { query } = useLocation();
  const f = Object.fromEntries(filters.map((k) => [k, query.get(k) ?? ""])) as Record<
    (typeof filters)[number],
    string
  >;
  const [repos, setRepos] = useState<Repo[]>([]);
  const [runs, setRuns] = useState<Run[] | undefined>(undefined);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);

  useEffect(() => {
    get<{ repos: Repo[] }>("/api/v1/repos").then(
      (r) => setRepos(r.repos),
      () => {},
    );
  }, []);
  useEffect(() => {
    let stale = false;
    get<{ runs: Run[] }>(withQuery("/api/v1/runs", { repo: f.repo, status: f.status, limit: 200 }))
      .then((r) => {
        if (stale) return;
        setRuns(r.runs);
        setError("");
      })
      .catch((err: Error) => !stale && setError(err.message));
    return () => {
      stale = true;
    };
  }, [f.repo, f.status, tick]);
  useEffect(() => {
    // Bursts of events (a run's jobs starting together) become one re-read.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const es = new EventSource("/api/v1/events");
    const changed = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setTick((t) => t + 1);
      }, 150);
    };
    for (const type of ["run", "job", "resync"]) es.addEventListener(type, changed);
    return () => {
      es.close();
      clearTimeout(timer);
    };
  }, []);

  const repoName = useMemo(() => new Map(repos.map((r) => [r.id, r.name])), [repos]);
  const shown = (runs ?? []).filter(
    (r) =>
      (!f.branch || branchOf(r.ref).includes(f.branch)) &&
      (!f.workflow || r.workflowName.includes(f.workflow) || r.workflowFile.includes(f.workflow)) &&
      (!f.actor || actorOf(r).includes(f.actor)),
  );
  const set = (k: string, v: string) => {
    const q = new URLSearchParams(location.search);
    if (v) q.set(k, v);
    else q.delete(k);
    const s = q.toString();
    navigate(s ? `/?${s}` : "/", true);
  };
  const input = (k: string, placeholder: string) =>
    html`<input
      name=${k}
      placeholder=${placeholder}
      value=${f[k as keyof typeof f]}
      onChange=${(e: Event) => set(k, (e.target as HTMLInputElement).value)}
    />`;

  return html`
    <main>
      <h1>Runs</h1>
      <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
        <select name="repo" value=${f.repo} onChange=${(e: Event) => set("repo", (e.target as HTMLSelectElement).value)}>
          <option value="">All repositories</option>
          ${repos.map((r) => html`<option value=${r.name}>${r.name}</option>`)}
        </select>
        ${input("branch", "Branch")} ${input("workflow", "Workflow")} ${input("actor", "Actor")}
        <select name="status" value=${f.status} onChange=${(e: Event) => set("status", (e.target as HTMLSelectElement).value)}>
          <option value="">Any status</option>
          ${["waiting", "queued", "running", "completed"].map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </form>
      ${error && html`<p class="error">${error}</p>`}
      ${runs === undefined && !error && html`<p class="loading">Loading…</p>`}
      ${runs !== undefined && shown.length === 0 && html`<p class="empty">No runs${runs.length ? " match these filters" : " yet"}.</p>`}
      <table class="runs" data-testid="runs">
        <tbody>
          ${shown.map(
            (r) => html`<tr key=${r.id} data-run=${r.id}>
              <td><${StateBadge} state=${stateOf(r.status, r.conclusion)} /></td>
              <td class="title">
                <a href=${`/runs/${r.id}`}>${titleOf(r)}</a>
                <div class="sub">
                  ${repoName.get(r.repoId) ?? `repo ${r.repoId}`} · ${r.workflowName} #${r.number}
                  ${r.attempt > 1 ? ` · attempt ${r.attempt}` : ""}
                </div>
              </td>
              <td><code>${branchOf(r.ref)}</code><div class="sub">${r.sha.slice(0, 7)}</div></td>
              <td>${actorOf(r)}<div class="sub">${r.eventName}</div></td>
              <td class="num">${ago(r.createdAt)}<div class="sub">${duration(r.startedAt, r.finishedAt)}</div></td>
            </tr>`,
          )}
        </tbody>
      </table>
    </main>
  `;
}
