// Human output of a run on stderr: a live log prefixed by job (and matrix values), step start/end with
// durations and status, annotations, and a final summary with step summaries.
import type {
  Annotation,
  JobRef,
  JobResult,
  LogKind,
  Reporter,
  RunResult,
  StepResult,
} from "../runner/index.js";
import type { Style } from "./tty.js";
import { formatDuration } from "../lib/format.js";

function statusMark(status: string, style: Style): string {
  switch (status) {
    case "success":
      return style.green("✓");
    case "failure":
      return style.red("✗");
    case "cancelled":
      return style.yellow("⊘");
    default:
      return style.dim("-");
  }
}

/** `withStep`: name the step that made it (in summaries; a live annotation shows inside its step). */
export function formatAnnotation(a: Annotation, withStep = false): string {
  const where = a.file ? `${a.file}${a.line ? `:${a.line}` : ""}${a.col ? `:${a.col}` : ""}: ` : "";
  const step = withStep && a.stepName ? ` (step ${a.stepNumber ?? "?"}: ${a.stepName})` : "";
  return `${a.level}: ${where}${a.title ? `${a.title}: ` : ""}${a.message}${step}`;
}

/**
 * Output lines are gathered and written in blocks: one write per line costs more than the step that
 * printed it when a step prints millions of lines.
 */
export class BufferedWriter {
  private parts: string[] = [];
  private size = 0;
  private scheduled = false;
  private readonly sink: (s: string) => void;
  constructor(sink: (s: string) => void) {
    this.sink = sink;
  }
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (this.parts.length === 0) return;
    const text = this.parts.join("");
    this.parts = [];
    this.size = 0;
    this.sink(text);
  }
}

export class HumanReporter implements Reporter {
  private readonly out: BufferedWriter;
  private readonly style: Style;
  private readonly depth = new Map<string, number>();
  constructor(style: Style, write: (s: string) => void = (s) => process.stderr.write(s)) {
    this.style = style;
    this.out = new BufferedWriter(write);
  }
  private write(s: string): void {
    this.out.write(s);
  }
  flush(): void {
    this.out.flush();
  }
  private readonly prefixes = new Map<string, string>();
  private prefix(job: JobRef): string {
    let p = this.prefixes.get(job.key);
    if (p === undefined) {
      p = this.style.cyan(`[${job.name}]`);
      this.prefixes.set(job.key, p);
    }
    return p;
  }
  jobStarted(job: JobRef): void {
    this.write(`${this.prefix(job)} ${this.style.bold("▶ job started")}\n`);
  }
  stepStarted(job: JobRef, step: { id: string; name: string }): void {
    this.write(`${this.prefix(job)} ${this.style.bold(`⭒ ${step.name}`)}\n`);
  }
  log(job: JobRef, text: string, kind: LogKind): void {
    const indent = "  ".repeat(this.depth.get(job.key) ?? 0);
    switch (kind) {
      case "group-start":
        this.write(`${this.prefix(job)}   ${indent}${this.style.bold(`▼ ${text}`)}\n`);
        this.depth.set(job.key, (this.depth.get(job.key) ?? 0) + 1);
        return;
      case "group-end":
        this.depth.set(job.key, Math.max(0, (this.depth.get(job.key) ?? 0) - 1));
        return;
      case "error":
        this.write(`${this.prefix(job)}   ${indent}${this.style.red(text)}\n`);
        return;
      case "warning":
        this.write(`${this.prefix(job)}   ${indent}${this.style.yellow(text)}\n`);
        return;
      case "debug":
        this.write(`${this.prefix(job)}   ${indent}${this.style.dim(`debug: ${text}`)}\n`);
        return;
      default:
        this.write(
          indent ? `${this.prefix(job)}   | ${indent}${text}\n` : `${this.prefix(job)}   | ${text}\n`,
        );
    }
  }
  annotation(job: JobRef, a: Annotation): void {
    const text = formatAnnotation(a);
    const colour =
      a.level === "error" ? this.style.red : a.level === "warning" ? this.style.yellow : this.style.cyan;
    this.write(`${this.prefix(job)}   ${colour(text)}\n`);
  }
  stepFinished(job: JobRef, step: StepResult): void {
    if (step.outcome === "skipped") return;
    const extra = step.outcome !== step.conclusion ? ` (continue-on-error: ${step.outcome})` : "";
    this.write(
      `${this.prefix(job)} ${statusMark(step.conclusion, this.style)} ${step.name} ${this.style.dim(`[${formatDuration(step.durationMs, "tenths")}]`)}${extra}\n`,
    );
  }
  jobFinished(job: JobRef, result: JobResult): void {
    const why = result.message ? `: ${result.message}` : "";
    this.write(
      `${this.prefix(job)} ${statusMark(result.status, this.style)} job ${result.status}${why} ${this.style.dim(`[${formatDuration(result.durationMs, "tenths")}]`)}\n`,
    );
  }
}

export function renderSummary(result: RunResult, style: Style): string {
  const lines: string[] = ["", style.bold("Summary")];
  if (result.jobs.length === 0) {
    lines.push("  no workflow matched the event; nothing ran");
    return `${lines.join("\n")}\n`;
  }
  const width = Math.max(...result.jobs.map((j) => j.name.length));
  for (const j of result.jobs) {
    lines.push(
      `  ${statusMark(j.status, style)} ${j.name.padEnd(width)}  ${j.status.padEnd(9)} ${formatDuration(j.durationMs, "tenths")}`,
    );
  }
  const annotations = result.jobs.flatMap((j) => j.annotations.map((a) => ({ job: j.name, a })));
  if (annotations.length) {
    lines.push("", style.bold("Annotations"));
    for (const { job, a } of annotations) lines.push(`  [${job}] ${formatAnnotation(a, true)}`);
  }
  const summaries = result.jobs.filter((j) => j.summary.trim());
  for (const j of summaries) {
    lines.push("", style.bold(`Step summary: ${j.name}`));
    for (const l of j.summary.trimEnd().split("\n")) lines.push(`  ${l}`);
  }
  lines.push(
    "",
    `${statusMark(result.status, style)} run ${result.status} in ${formatDuration(result.durationMs, "tenths")}`,
  );
  return `${lines.join("\n")}\n`;
}
