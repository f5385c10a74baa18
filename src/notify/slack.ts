// Slack messages for run and deploy events, as Block Kit: a header, the facts as section fields, the
// jobs (matrix legs grouped on one line: `build (node 18, 20) ✓✗`), and a context line with the link.
// Every piece of event text is escaped (escape.ts) and every text object clipped to Block Kit's limits;
// a pipeline with more jobs than fit ends with "… and N more jobs" (failed jobs are listed first, so they
// are the ones that stay).
import type { ContextBlock, HeaderBlock, KnownBlock, MrkdwnElement, SectionBlock } from "@slack/types";
import { formatDuration } from "../lib/format.js";
import { blockKitLimits, fallbackTextLimit, type SlackMessage } from "./block-kit.js";
import { escapeClip, oneLine, slackLink } from "./escape.js";
import {
  type Conclusion,
  type DeployEvent,
  durationOf,
  eventTypeOf,
  type JobSummary,
  type NotifyEvent,
  type RunEvent,
} from "./events.js";

/** Most job lines put in one message, whatever the room: a longer list is noise in a channel. */
const maxJobLines = 150;
/** A job line's own budget, so one absurd job name cannot take the whole section. */
const maxJobLine = 300;
/** A field value's budget (well below the 2000 limit: fields are short facts). */
const maxFieldValue = 300;

function durationText(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : formatDuration(ms);
}

const legMarks: Record<Conclusion, string> = { success: "✓", failure: "✗", cancelled: "⊘", skipped: "–" };
const groupMarks: Record<Conclusion, string> = {
  failure: ":x:",
  cancelled: ":no_entry_sign:",
  success: ":white_check_mark:",
  skipped: ":fast_forward:",
};
const severity: Record<Conclusion, number> = { failure: 0, cancelled: 1, success: 2, skipped: 3 };

function mrkdwn(text: string): MrkdwnElement {
  // verbatim: Slack does not turn bare URLs, #channels or @mentions in the text into links or pings.
  return { type: "mrkdwn", text, verbatim: true };
}

function header(text: string): HeaderBlock {
  return {
    type: "header",
    text: { type: "plain_text", text: escapeClip(oneLine(text), blockKitLimits.headerText), emoji: true },
  };
}

type Field = [label: string, value: string | undefined];

/** Section blocks of `*label*\nvalue` fields, at most 10 per section; values are already mrkdwn. */
function fieldSections(fields: Field[]): SectionBlock[] {
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== "");
  const out: SectionBlock[] = [];
  for (let i = 0; i < present.length; i += blockKitLimits.sectionFields) {
    out.push({
      type: "section",
      fields: present
        .slice(i, i + blockKitLimits.sectionFields)
        .map(([label, value]) => mrkdwn(`*${label}*\n${value}`)),
    });
  }
  return out;
}

const text = (s: string | undefined) =>
  s === undefined || s === "" ? undefined : escapeClip(oneLine(s), maxFieldValue);

type JobGroup = { name: string; legs: JobSummary[]; status: Conclusion; durationMs?: number };

function formatMatrixValue(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
}

/** Legs of a job grouped by name, worst status first (stable), each with its worst status and longest leg. */
export function groupJobs(jobs: readonly JobSummary[]): JobGroup[] {
  const groups = new Map<string, JobGroup>();
  for (const job of jobs) {
    const g = groups.get(job.name) ?? { name: job.name, legs: [], status: job.status };
    g.legs.push(job);
    if (severity[job.status] < severity[g.status]) g.status = job.status;
    if (job.durationMs !== undefined) g.durationMs = Math.max(g.durationMs ?? 0, job.durationMs);
    groups.set(job.name, g);
  }
  return [...groups.values()].sort((a, b) => severity[a.status] - severity[b.status]);
}

/** `build (node 18, 20; os linux)`, unescaped. */
function groupLabel(g: JobGroup): string {
  const values = new Map<string, string[]>();
  for (const leg of g.legs) {
    for (const [k, v] of Object.entries(leg.matrix ?? {})) {
      const list = values.get(k) ?? [];
      const s = formatMatrixValue(v);
      if (!list.includes(s)) list.push(s);
      values.set(k, list);
    }
  }
  if (values.size === 0) return g.name;
  return `${g.name} (${[...values].map(([k, vs]) => `${k} ${vs.join(", ")}`).join("; ")})`;
}

export function jobLine(g: JobGroup): string {
  const grouped = g.legs.length > 1 || g.legs.some((l) => l.matrix && Object.keys(l.matrix).length > 0);
  const legs = grouped ? ` ${g.legs.map((l) => legMarks[l.status]).join("")}` : "";
  const duration = durationText(g.durationMs);
  const tail = `${legs}${duration ? ` · ${duration}` : ""}`;
  const mark = `${groupMarks[g.status]} `;
  const label = escapeClip(oneLine(groupLabel(g)), Math.max(20, maxJobLine - mark.length - tail.length - 2));
  return `${mark}*${label}*${tail}`;
}

/**
 * Job lines packed into section blocks of at most 3000 characters, using at most `maxBlocks` blocks;
 * the lines that do not fit are counted (in jobs, not groups) for the "… and N more jobs" line.
 */
function jobSections(
  jobs: readonly JobSummary[],
  maxBlocks: number,
): { blocks: SectionBlock[]; omittedJobs: number } {
  const groups = groupJobs(jobs);
  const blocks: SectionBlock[] = [];
  let current = "";
  let shown = 0;
  for (const g of groups) {
    if (shown >= maxJobLines) break;
    const line = jobLine(g);
    if (current && current.length + 1 + line.length > blockKitLimits.sectionText) {
      if (blocks.length + 1 >= maxBlocks) break;
      blocks.push({ type: "section", text: mrkdwn(current) });
      current = "";
    }
    current = current ? `${current}\n${line}` : line;
    shown++;
  }
  if (current && blocks.length < maxBlocks) blocks.push({ type: "section", text: mrkdwn(current) });
  const shownJobs = groups.slice(0, shown).reduce((n, g) => n + g.legs.length, 0);
  return { blocks, omittedJobs: jobs.length - shownJobs };
}

function context(parts: (string | undefined)[]): ContextBlock | undefined {
  const elements = parts
    .filter((p): p is string => !!p)
    .slice(0, blockKitLimits.contextElements)
    .map(mrkdwn);
  return elements.length ? { type: "context", elements } : undefined;
}

function runHeadline(e: RunEvent): { emoji: string; verb: string } {
  if (e.test) return { emoji: ":wave:", verb: "test notification" };
  switch (eventTypeOf(e)) {
    case "run.fixed":
      return { emoji: ":white_check_mark:", verb: "fixed" };
    case "run.failed":
      return { emoji: ":x:", verb: "failed" };
    default:
      return e.conclusion === "success"
        ? { emoji: ":white_check_mark:", verb: "succeeded" }
        : e.conclusion === "cancelled"
          ? { emoji: ":no_entry_sign:", verb: "cancelled" }
          : { emoji: ":fast_forward:", verb: e.conclusion };
  }
}

function runMessage(e: RunEvent): SlackMessage {
  const { emoji, verb } = runHeadline(e);
  const number = e.runNumber !== undefined ? ` #${e.runNumber}` : "";
  const title = `${e.workflow}${number} ${verb} · ${e.repository}`;
  const pr = e.pullRequest;
  const blocks: KnownBlock[] = [header(`${emoji} ${title}`)];
  blocks.push(
    ...fieldSections([
      ["Repository", text(e.repository)],
      ["Branch", text(e.branch)],
      ["Commit", text(e.sha.slice(0, 7))],
      ["Version", text(e.version)],
      ["Pull request", pr ? slackLink(pr.url, `#${pr.number} ${pr.title}`, maxFieldValue) : undefined],
      ["Author", text(pr?.author ?? e.author)],
      ["Merged by", text(pr?.merger)],
      ["Trigger", text(e.trigger)],
      ["Duration", durationText(durationOf(e))],
    ]),
  );
  if (e.commitMessage) {
    const first = oneLine(e.commitMessage.split("\n")[0] ?? "");
    if (first) blocks.push({ type: "section", text: mrkdwn(`> ${escapeClip(first, 500)}`) });
  }
  const tail = context([
    slackLink(e.runUrl, `View run${number}`),
    e.runAttempt && e.runAttempt > 1 ? `attempt ${e.runAttempt}` : undefined,
  ]);
  // Room for the jobs: what is left under the block limit after the tail and a "more" line.
  const room = blockKitLimits.blocks - blocks.length - (tail ? 1 : 0) - 1;
  const jobs = jobSections(e.jobs, room);
  blocks.push(...jobs.blocks);
  if (jobs.omittedJobs > 0)
    blocks.push({
      type: "context",
      elements: [mrkdwn(`… and ${jobs.omittedJobs} more job${jobs.omittedJobs === 1 ? "" : "s"}`)],
    });
  if (tail) blocks.push(tail);
  const failed = e.jobs.filter((j) => j.status === "failure").length;
  const summary = `${title}${e.branch ? ` on ${oneLine(e.branch)}` : ""}${failed ? ` (${failed} failed job${failed === 1 ? "" : "s"})` : ""}`;
  return { text: escapeClip(summary, fallbackTextLimit), blocks };
}

function deployHeadline(e: DeployEvent): string {
  const what = `${e.service ?? e.repository} ${e.version}`;
  switch (e.type) {
    case "deploy.started":
      return `:rocket: Deploying ${what} to ${e.environment}`;
    case "deploy.succeeded":
      return `:white_check_mark: Deployed ${what} to ${e.environment}`;
    case "deploy.failed":
      return `:x: Deploy of ${what} to ${e.environment} failed`;
    case "deploy.rolled_back":
      return `:leftwards_arrow_with_hook: Rolled back ${e.service ?? e.repository} in ${e.environment} to ${e.version}`;
  }
}

function deployMessage(e: DeployEvent): SlackMessage {
  const headline = deployHeadline(e);
  const blocks: KnownBlock[] = [header(headline)];
  blocks.push(
    ...fieldSections([
      ["Repository", text(e.repository)],
      ["Environment", text(e.environment)],
      ["Strategy", text(e.strategy)],
      ["Service", text(e.service)],
      ["Version", text(e.version)],
      ["Previous version", text(e.previousVersion)],
      ["Branch", text(e.branch)],
      ["Commit", text(e.sha?.slice(0, 7))],
      ["By", text(e.actor)],
      ["Duration", durationText(durationOf(e))],
    ]),
  );
  if (e.reason) {
    const quoted = escapeClip(e.reason, blockKitLimits.sectionText - 200)
      .split("\n")
      .map((l) => `> ${l}`)
      .join("\n");
    blocks.push({ type: "section", text: mrkdwn(quoted.slice(0, blockKitLimits.sectionText)) });
  }
  const tail = context([
    e.url ? slackLink(e.url, "View deploy") : undefined,
    e.runUrl ? slackLink(e.runUrl, e.workflow ? `View run (${e.workflow})` : "View run") : undefined,
  ]);
  if (tail) blocks.push(tail);
  return { text: escapeClip(oneLine(headline.replace(/^:[a-z_]+: /, "")), fallbackTextLimit), blocks };
}

/** The Block Kit message for an event, within Block Kit's limits, untrusted text escaped. */
export function slackMessage(event: NotifyEvent): SlackMessage {
  return event.kind === "run" ? runMessage(event) : deployMessage(event);
}
