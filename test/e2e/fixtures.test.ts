// Every folder under testdata/ is one case: a repository with real workflows and the result GitHub
// Actions would give (case.json). Each case runs the built CLI on a fresh copy of its repository.
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AnnotationExpectation,
  binPath,
  type CliResult,
  type Expectation,
  expand,
  type Fixture,
  type JobExpectation,
  loadFixtures,
  runFixture,
  type StepExpectation,
} from "./helpers.js";

const fixtures = loadFixtures();
const statuses = ["success", "failure", "cancelled", "skipped"];

beforeAll(() => {
  if (!existsSync(binPath.replace(/bin\/slipway\.js$/, "dist/slipway.js"))) {
    throw new Error("dist/slipway.js is missing: run `npm run build` first");
  }
});

/** The last lines of the log, to make a failed assertion explain itself. */
function logTail(r: CliResult, lines = 60): string {
  const tail = (s: string) => s.split("\n").slice(-lines).join("\n");
  return `\n--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(r.stdout)}`;
}

function sameMatrix(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, norm((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(norm(a ?? null)) === JSON.stringify(norm(b ?? null));
}

/** The `--json` document has the documented shape. */
function checkJsonShape(json: any, where: string): void {
  expect(statuses, `${where}: run status`).toContain(json.status);
  expect(Array.isArray(json.jobs), `${where}: jobs is an array`).toBe(true);
  for (const j of json.jobs) {
    const at = `${where}: job ${JSON.stringify(j.id)}`;
    expect(typeof j.id, `${at} id`).toBe("string");
    expect(typeof j.name, `${at} name`).toBe("string");
    expect(
      j.matrix === null || (typeof j.matrix === "object" && !Array.isArray(j.matrix)),
      `${at} matrix`,
    ).toBe(true);
    expect(statuses, `${at} status`).toContain(j.status);
    expect(typeof j.outputs === "object" && j.outputs !== null, `${at} outputs`).toBe(true);
    for (const v of Object.values(j.outputs)) expect(typeof v, `${at} output value`).toBe("string");
    expect(typeof j.durationMs, `${at} durationMs`).toBe("number");
    expect(Array.isArray(j.steps), `${at} steps`).toBe(true);
    for (const s of j.steps) {
      expect(typeof s.id, `${at} step id`).toBe("string");
      expect(typeof s.name, `${at} step name`).toBe("string");
      expect(statuses, `${at} step ${s.id} outcome`).toContain(s.outcome);
      expect(statuses, `${at} step ${s.id} conclusion`).toContain(s.conclusion);
      expect(typeof s.durationMs, `${at} step ${s.id} durationMs`).toBe("number");
    }
  }
}

function checkOutputs(
  actual: Record<string, string> | undefined,
  want: Record<string, string | null>,
  at: string,
) {
  for (const [k, v] of Object.entries(want)) {
    if (v === null) expect(actual ?? {}, `${at}: output '${k}' must not be set`).not.toHaveProperty([k]);
    else expect(actual?.[k], `${at}: output '${k}'`).toBe(v);
  }
}

const isPost = (s: { id: string; name: string }) => s.id.startsWith("post") || /^post\b/i.test(s.name);
const isPre = (s: { id: string; name: string }) => s.id.startsWith("pre-") || /^pre\b/i.test(s.name);

function checkSteps(actual: any[], want: StepExpectation[], at: string, log: string): void {
  const main = actual.filter((s) => !isPost(s) && !isPre(s));
  const wantMain = want.filter((s) => !s.post);
  const summary = main.map((s) => `${s.id}:${s.outcome}/${s.conclusion}`).join(", ");
  expect(main.length, `${at}: steps [${summary}]${log}`).toBe(wantMain.length);
  wantMain.forEach((w, i) => {
    const s = main[i];
    const label = `${at}: step #${i + 1} (${s.id} "${s.name}")`;
    if (w.id !== undefined) expect(s.id, `${label} id`).toBe(w.id);
    if (w.name !== undefined) expect(s.name, `${label} name`).toBe(w.name);
    expect({ outcome: s.outcome, conclusion: s.conclusion }, `${label}${log}`).toEqual({
      outcome: w.outcome,
      conclusion: w.conclusion,
    });
    if (w.outputs) checkOutputs(s.outputs, w.outputs, label);
  });
  const posts = actual.filter(isPost);
  let from = 0;
  for (const w of want.filter((s) => s.post)) {
    const i = posts.findIndex((s, k) => k >= from && (w.name === undefined || s.name.includes(w.name)));
    expect(
      i,
      `${at}: a post step ${w.name ?? ""} after #${from} among [${posts.map((p) => p.name).join(", ")}]`,
    ).toBeGreaterThanOrEqual(0);
    expect(
      { outcome: posts[i].outcome, conclusion: posts[i].conclusion },
      `${at}: post step ${posts[i].name}${log}`,
    ).toEqual({
      outcome: w.outcome,
      conclusion: w.conclusion,
    });
    from = i + 1;
  }
}

function annotationMatches(a: any, w: AnnotationExpectation): boolean {
  return Object.entries(w).every(([k, v]) =>
    k === "message" ? String(a.message ?? "").includes(String(v)) : (a[k] ?? null) === v,
  );
}

function checkJob(jobs: any[], w: JobExpectation, log: string): void {
  const sameId = jobs.filter((j) => j.id === w.id);
  const list = jobs.map((j) => `${j.id}${j.matrix ? JSON.stringify(j.matrix) : ""}=${j.status}`).join(", ");
  const candidates = w.matrix === undefined ? sameId : sameId.filter((j) => sameMatrix(j.matrix, w.matrix));
  const at = `job ${w.id}${w.matrix ? ` ${JSON.stringify(w.matrix)}` : ""}`;
  expect(candidates.length, `${at}: exactly one such job among [${list}]${log}`).toBe(1);
  const job = candidates[0];
  const allowed = Array.isArray(w.status) ? w.status : [w.status];
  expect(allowed, `${at}: status ${job.status} (${job.message ?? "no message"})${log}`).toContain(job.status);
  if (w.outputs) checkOutputs(job.outputs, w.outputs, at);
  if (w.steps) checkSteps(job.steps, w.steps, at, log);
  for (const s of w.summaryContains ?? []) expect(job.summary ?? "", `${at}: summary`).toContain(s);
  const annotations: any[] = job.annotations ?? [];
  for (const a of w.annotations ?? []) {
    expect(
      annotations.some((x) => annotationMatches(x, a)),
      `${at}: an annotation like ${JSON.stringify(a)} in ${JSON.stringify(annotations)}`,
    ).toBe(true);
  }
  for (const s of w.annotationsNotContain ?? []) {
    expect(
      annotations.some((x) => String(x.message).includes(s)),
      `${at}: no annotation mentions ${s}: ${JSON.stringify(annotations)}`,
    ).toBe(false);
  }
  if (w.environmentUrl !== undefined)
    expect(job.environmentUrl ?? null, `${at}: environmentUrl${log}`).toBe(w.environmentUrl);
  if (w.annotationCount !== undefined) {
    expect(annotations.length, `${at}: annotations ${JSON.stringify(annotations)}`).toBe(w.annotationCount);
  }
}

function checkResult(r: CliResult, want: Partial<Expectation>, label: string): void {
  const log = logTail(r);
  if (want.exitCode !== undefined) {
    const how = r.signal ? `killed by ${r.signal} after ${r.durationMs} ms` : `after ${r.durationMs} ms`;
    expect(r.code, `${label}: exit code (${how})${log}`).toBe(want.exitCode);
  }
  const needsJson = want.status !== undefined || want.jobs !== undefined || want.jobCount !== undefined;
  if (needsJson || r.json !== undefined || r.jsonError !== undefined) {
    expect(r.jsonError, `${label}: stdout is exactly one JSON document${log}`).toBeUndefined();
    expect(r.json, `${label}: --json output${log}`).toBeDefined();
  }
  if (r.json !== undefined && !Array.isArray(r.json) && "jobs" in r.json) checkJsonShape(r.json, label);
  if (want.status !== undefined) expect(r.json.status, `${label}: run status${log}`).toBe(want.status);
  const jobs: any[] = r.json?.jobs ?? [];
  if (want.jobCount !== undefined) expect(jobs.length, `${label}: number of jobs${log}`).toBe(want.jobCount);
  for (const w of want.jobs ?? []) checkJob(jobs, w, log);
  if (want.exactJobs) {
    const extra = jobs.filter(
      (j) =>
        !(want.jobs ?? []).some(
          (w) => w.id === j.id && (w.matrix === undefined || sameMatrix(w.matrix, j.matrix)),
        ),
    );
    expect(
      extra.map((j) => `${j.id}${j.matrix ? JSON.stringify(j.matrix) : ""}`),
      `${label}: jobs that should not have run${log}`,
    ).toEqual([]);
  }
  const stdoutContains =
    typeof want.stdoutContains === "string" ? [want.stdoutContains] : (want.stdoutContains ?? []);
  for (const s of stdoutContains) expect(r.stdout, `${label}: stdout${log}`).toContain(s);
  for (const s of want.stdoutNotContains ?? []) expect(r.stdout, `${label}: stdout`).not.toContain(s);
  for (const s of want.stderrContains ?? []) expect(r.stderr, `${label}: stderr${log}`).toContain(s);
  for (const s of want.stderrNotContains ?? []) expect(r.stderr, `${label}: stderr`).not.toContain(s);
  for (const s of want.stderrMatches ?? [])
    expect(r.stderr, `${label}: stderr${log}`).toMatch(new RegExp(s, "m"));
  if (want.stderrInOrder) {
    let from = 0;
    for (const s of want.stderrInOrder) {
      const i = r.stderr.indexOf(s, from);
      expect(i, `${label}: '${s}' after offset ${from} in stderr${log}`).toBeGreaterThanOrEqual(0);
      from = i + s.length;
    }
  }
  for (const s of want.outputNotContains ?? []) {
    expect(r.stdout.includes(s), `${label}: stdout must not contain ${JSON.stringify(s)}`).toBe(false);
    expect(r.stderr.includes(s), `${label}: stderr must not contain ${JSON.stringify(s)}`).toBe(false);
  }
  if (want.maxDurationMs !== undefined) {
    expect(r.durationMs, `${label}: took ${r.durationMs} ms${log}`).toBeLessThanOrEqual(want.maxDurationMs);
  }
  for (const f of want.filesExist ?? []) expect(existsSync(f), `${label}: ${f} exists`).toBe(true);
  for (const f of want.filesAbsent ?? [])
    expect(existsSync(f), `${label}: ${f} must not exist (something ran)`).toBe(false);
}

describe.concurrent("slipway run fixtures", () => {
  it("has a corpus", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))(
    "%s",
    async (_name, fixture) => {
      const { ws, vars, setup, result } = await runFixture(fixture);
      try {
        for (const [i, s] of (fixture.spec.setup ?? []).entries()) {
          const want = Array.isArray(s) ? { exitCode: 0 } : { exitCode: 0, ...s.expect };
          checkResult(setup[i], expand(want, vars), `${fixture.name} setup #${i}`);
        }
        checkResult(result, expand(fixture.spec.expect, vars), fixture.name);
      } finally {
        ws.cleanup();
      }
    },
    120_000,
  );
});
