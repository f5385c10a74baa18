// The protection rules of a deployment environment, as pure functions: who may approve a job bound for
// it, which refs may deploy to it, how long its timer holds a job, and the rules as the API takes them.
// The I/O (gates in the store, waiting, audit) is environments.ts's.
import { z } from "zod";
import { UserError } from "../lib/errors.js";
import type { EnvironmentRules, Gate, Role } from "../store/index.js";
import { roleAllows, roles } from "../store/index.js";
import { compileFilterPattern, matchesAnyFilter } from "../workflow/index.js";

/** A reviewer is a role (that role or above may approve) when it names one, else a token's name. */
const isRole = (r: string): r is Role => (roles as readonly string[]).includes(r);

/** "role deployer or token alice" */
export function describeReviewers(reviewers: readonly string[]): string {
  return reviewers.map((r) => (isRole(r) ? `role ${r}` : `token ${r}`)).join(" or ");
}

export type Reviewer = { name: string; role: Role };

/**
 * Whether `who` may approve (or reject) the jobs waiting at `gate`; the refusal names the rule that
 * refused. `triggeredBy` is who started the run: they may reject it, and approve it only when the
 * environment allows self-review.
 */
export function reviewRefusal(
  gate: Pick<Gate, "environment" | "reviewers" | "allowSelfReview">,
  who: Reviewer,
  verb: "approve" | "reject",
  triggeredBy: string | undefined,
): string | undefined {
  const you = `you are ${who.name} (${who.role})`;
  if (gate.reviewers.length === 0)
    return `${gate.environment} has no required reviewers: its jobs wait only for its timer`;
  const listed = gate.reviewers.some((r) => (isRole(r) ? roleAllows(who.role, r) : r === who.name));
  if (!listed) return `${gate.environment} requires approval by ${describeReviewers(gate.reviewers)}; ${you}`;
  if (
    verb === "approve" &&
    !gate.allowSelfReview &&
    triggeredBy !== undefined &&
    triggeredBy.toLowerCase() === who.name.toLowerCase()
  )
    return `${gate.environment} does not allow self-review: ${who.name} triggered this run and cannot approve it`;
  return undefined;
}

/**
 * Why `ref` may not deploy to the environment, or undefined when it may. With neither branches nor
 * tags listed every ref may; with some listed only matching branches and tags may (GitHub's
 * "selected branches and tags"), so a pull request's merge ref never does.
 */
export function refRefusal(
  environment: string,
  rules: Pick<EnvironmentRules, "branches" | "tags">,
  ref: string,
): string | undefined {
  if (rules.branches === null && rules.tags === null) return undefined;
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;
  const tag = ref.startsWith("refs/tags/") ? ref.slice("refs/tags/".length) : undefined;
  if (branch !== undefined && rules.branches && matchesAnyFilter(rules.branches, branch)) return undefined;
  if (tag !== undefined && rules.tags && matchesAnyFilter(rules.tags, tag)) return undefined;
  const allowed = [
    rules.branches?.length ? `branches ${rules.branches.join(", ")}` : "",
    rules.tags?.length ? `tags ${rules.tags.join(", ")}` : "",
  ].filter(Boolean);
  return `${ref} may not deploy to environment ${environment} (allowed: ${allowed.join("; ") || "no ref"})`;
}

/** What a pending gate still waits for at `now`: reviewers, the timer (ms left), or nothing. */
export function gateWaitsFor(
  gate: Pick<Gate, "status" | "reviewers" | "waitUntil">,
  now: number,
): { approval: boolean; timerMs: number } {
  const approval = gate.status === "pending" && gate.reviewers.length > 0;
  const timerMs = gate.waitUntil === null ? 0 : Math.max(0, gate.waitUntil - now);
  return { approval, timerMs };
}

/** The reason shown on a job waiting at `gate`. */
export function waitingReason(
  gate: Pick<Gate, "environment" | "status" | "reviewers" | "waitUntil">,
  now: number,
): string {
  const { approval, timerMs } = gateWaitsFor(gate, now);
  const parts = [
    approval ? `approval by ${describeReviewers(gate.reviewers)} (slipway approve)` : "",
    timerMs > 0 ? `its wait timer (until ${new Date(gate.waitUntil!).toISOString()})` : "",
  ].filter(Boolean);
  return `waiting for environment ${gate.environment}: ${parts.join(" and ") || "nothing"}`;
}

/** "90", "90s", "5m", "2h", "1h30m" → seconds; a UserError otherwise. At most 30 days (GitHub's limit). */
export function parseDuration(text: string, what = "wait timer"): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return checkTimer(Number(t), what, text);
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!t || !m) throw new UserError(`${what} ${JSON.stringify(text)}: use seconds or 30s, 5m, 2h, 1d`);
  const [, d, h, min, s] = m.map((x) => Number(x ?? 0));
  return checkTimer(d * 86400 + h * 3600 + min * 60 + s, what, text);
}

const maxTimerS = 30 * 24 * 3600;
function checkTimer(s: number, what: string, text: string): number {
  if (s > maxTimerS) throw new UserError(`${what} ${JSON.stringify(text)} is longer than 30 days`);
  return s;
}

const pattern = z
  .string()
  .min(1)
  .max(255)
  .superRefine((p, ctx) => {
    try {
      compileFilterPattern(p);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
    }
  });

/** The body of PUT /api/v1/repos/:repo/environments/:env (and what the CLI sends). */
export const environmentBody = z.strictObject({
  reviewers: z
    .array(
      z
        .string()
        .min(1)
        .max(100)
        .regex(/^[^\p{C}\s]+$/u, "a role or token name without spaces or control characters"),
    )
    .max(50)
    .default([]),
  waitTimer: z
    .union([z.number().int().min(0).max(maxTimerS), z.string().max(20)])
    .optional()
    .transform((v) => (v === undefined ? 0 : typeof v === "number" ? v : parseDuration(v))),
  branches: z.array(pattern).max(100).nullable().default(null),
  tags: z.array(pattern).max(100).nullable().default(null),
  allowSelfReview: z.boolean().default(false),
  vars: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/, "a variable name: letters, digits and _"),
      z.string().max(48 * 1024),
    )
    .refine((v) => Object.keys(v).length <= 500, { message: "at most 500 variables" })
    .default({}),
});

/** The rules from an API body; a UserError naming each bad field otherwise. */
export function parseEnvironmentRules(body: unknown): EnvironmentRules {
  let r: z.infer<typeof environmentBody>;
  try {
    r = environmentBody.parse(body);
  } catch (err) {
    if (err instanceof z.ZodError)
      throw new UserError(
        `invalid environment rules: ${err.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`,
      );
    throw err;
  }
  return {
    reviewers: [...new Set(r.reviewers)],
    waitTimerS: r.waitTimer,
    branches: r.branches,
    tags: r.tags,
    allowSelfReview: r.allowSelfReview,
    vars: r.vars,
  };
}
