// A job's log on screen: only the rows in view (plus a margin) are in the DOM, positioned in a spacer as
// tall as all visible lines, so a 10,000-line log renders and scrolls like a short one; new lines are
// drawn once per animation frame, and the view follows the end while it is scrolled to the end.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { get, withQuery } from "./api.js";
import { clock, safeHtml } from "./format.js";
import { html } from "./html.js";
import { LogModel } from "./log-model.js";

const rowHeight = 20;
const overscan = 30;
/** Chunks per log request (the API's most): a 10,000-line log is one round trip. */
const pageSize = 10_000;

type Chunk = { seq: number; content: string; createdAt: number };
export type LogEvent = { type: "log"; jobRowId: number; seq: number; content: string } | { type: "resync" };
export type LogSubscribe = (f: (e: LogEvent) => void) => () => void;

export function LogView({
  runId,
  attempt,
  jobKey,
  jobRowId,
  subscribe,
  line,
}: {
  runId: number;
  attempt: number;
  jobKey: string;
  jobRowId: number;
  subscribe: LogSubscribe;
  /** The line named by the URL's #L<n>. */
  line?: number;
}) {
  const model = useMemo(() => new LogModel(), [runId, attempt, jobRowId]);
  const [version, setVersion] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState("");
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [times, setTimes] = useState(false);
  const [query, setQuery] = useState("");
  const [match, setMatch] = useState(-1);
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const frame = useRef(0);
  const sanitised = useRef(new Map<number, string>());

  const redraw = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setVersion((v) => v + 1);
    });
  };

  useEffect(() => {
    let stopped = false;
    const early: Chunk[] = [];
    let ready = false;
    const readFrom = async () => {
      // Pages of chunks until the end.
      for (;;) {
        const r = await get<{ jobs: { chunks: Chunk[] }[] }>(
          withQuery(`/api/v1/runs/${runId}/logs`, {
            attempt,
            job: jobKey,
            after: model.lastSeq || undefined,
            limit: pageSize,
          }),
        );
        const chunks = r.jobs[0]?.chunks ?? [];
        for (const c of chunks) model.append(c.seq, c.content, c.createdAt);
        if (chunks.length < pageSize || stopped) return;
      }
    };
    // Live lines are subscribed to before the history is read, and kept until it is: none is lost.
    const unsubscribe = subscribe((e) => {
      if (e.type === "resync") {
        void readFrom().then(redraw);
        return;
      }
      if (e.jobRowId !== jobRowId) return;
      const chunk = { seq: e.seq, content: e.content, createdAt: Date.now() };
      if (!ready) early.push(chunk);
      else if (model.append(chunk.seq, chunk.content, chunk.createdAt)) redraw();
    });
    readFrom()
      .then(() => {
        ready = true;
        for (const c of early) model.append(c.seq, c.content, c.createdAt);
        if (!stopped) {
          setLoaded(true);
          redraw();
        }
      })
      .catch((err: Error) => setError(err.message));
    return () => {
      stopped = true;
      unsubscribe();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [model]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setHeight(el.clientHeight);
    if (follow.current && !line) el.scrollTop = el.scrollHeight;
  }, [version]);

  // #L<n>: unfold its group, scroll to it once the log is there.
  useEffect(() => {
    if (!loaded || !line) return;
    const i = line - 1;
    if (!model.lines[i]) return;
    model.reveal(i);
    const pos = model.visible().indexOf(i);
    follow.current = false;
    if (box.current && pos >= 0) box.current.scrollTop = Math.max(0, pos * rowHeight - 100);
    setVersion((v) => v + 1);
  }, [loaded, line]);

  const matches = useMemo(() => model.search(query), [query, version, model]);
  const goTo = (k: number) => {
    if (!matches.length) return;
    const m = ((k % matches.length) + matches.length) % matches.length;
    setMatch(m);
    model.reveal(matches[m]);
    const pos = model.visible().indexOf(matches[m]);
    follow.current = false;
    if (box.current) box.current.scrollTop = Math.max(0, pos * rowHeight - 100);
    setVersion((v) => v + 1);
  };

  const visible = model.visible();
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(visible.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const current = matches[match];
  const rows = [];
  for (let k = first; k < last; k++) {
    const i = visible[k];
    const l = model.lines[i];
    let body: unknown;
    if (l.title !== undefined) {
      body = html`<button type="button" class="fold" aria-expanded=${!model.folded.has(i)}
        onClick=${() => {
          model.toggle(i);
          setVersion((v) => v + 1);
        }}>${model.folded.has(i) ? "▸" : "▾"} ${l.title}</button>`;
    } else {
      let markup = sanitised.current.get(i);
      if (markup === undefined) {
        markup = safeHtml(l.markup);
        sanitised.current.set(i, markup);
      }
      body = html`<span class="text" dangerouslySetInnerHTML=${{ __html: markup }}></span>`;
    }
    const cls = `line${l.n === line ? " target" : ""}${i === current ? " match" : ""}${l.group >= 0 ? " grouped" : ""}`;
    rows.push(html`<div key=${i} class=${cls} id=${`L${l.n}`} style=${{ top: `${k * rowHeight}px` }} data-line=${l.n}>
      <a class="ln" href=${`#L${l.n}`}>${l.n}</a>${times ? html`<span class="ts">${clock(l.at)}</span>` : ""}${body}
    </div>`);
  }

  return html`
    <section class="log-view">
      <div class="log-tools">
        <input type="search" placeholder="Search the log" value=${query} aria-label="Search the log"
          onInput=${(e: Event) => {
            setQuery((e.target as HTMLInputElement).value);
            setMatch(-1);
          }}
          onKeyDown=${(e: KeyboardEvent) => e.key === "Enter" && goTo(match + (e.shiftKey ? -1 : 1))} />
        <span class="count" data-testid="matches">${query ? `${matches.length ? match + 1 : 0}/${matches.length}` : ""}</span>
        <button type="button" onClick=${() => goTo(match - 1)} disabled=${!matches.length}>↑</button>
        <button type="button" onClick=${() => goTo(match + 1)} disabled=${!matches.length}>↓</button>
        <label><input type="checkbox" checked=${times} onChange=${() => setTimes(!times)} /> timestamps</label>
        <span class="count" data-testid="line-count">${model.lines.length} lines</span>
      </div>
      ${error && html`<p class="error">${error}</p>`}
      <div class="log" ref=${box} data-testid="log" data-loaded=${loaded ? "true" : "false"}
        onScroll=${(e: Event) => {
          const el = e.target as HTMLDivElement;
          setScrollTop(el.scrollTop);
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight * 2;
        }}>
        <div class="spacer" style=${{ height: `${visible.length * rowHeight}px` }}>${rows}</div>
      </div>
    </section>
  `;
}
