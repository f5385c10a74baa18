// What every kind of step shares: the scope steps run in, the evaluated step handed to a kind's runner,
// and what it returns. Types only, so each step file can import them without importing another variant.
import type { Json } from "../../expressions/index.js";
import type { StepDef } from "../../workflow/index.js";
import type { JobState, StepContextEntry } from "../job-state.js";

export type StepScope = {
  state: JobState;
  /** The `steps` context of this scope (a composite action has its own). */
  steps: Record<string, StepContextEntry>;
  /** The env context this scope starts from (job: workflow + job env; composite: the caller's env). */
  env: Record<string, string>;
  inputs?: Record<string, Json>;
  /** `github` context fields that differ in this scope (action_path, action_repository, ...). */
  github?: Record<string, Json>;
  /** `defaults.run` (jobs only; composite actions have none). */
  defaults: { shell?: string; "working-directory"?: string };
  /** Whether a step of this scope has failed (a composite's own status). */
  failed: boolean;
  composite: boolean;
  depth: number;
  /** Prefix for step names in the log (the composite step's name). */
  label: string;
  /** State saved by actions' `pre` entries, by step id. */
  preState?: Map<string, Record<string, string>>;
};

/** What a kind of step returns. */
export type StepRunResult = {
  outcome: "success" | "failure" | "cancelled";
  outputs: Record<string, string>;
  message?: string;
};

/** The evaluated inputs of one step, handed to the kind-specific runner. */
export type PreparedStep = {
  def: StepDef;
  id: string;
  name: string;
  /** Env context for the step: scope env, GITHUB_ENV, then the step's `env:`. */
  env: Record<string, string>;
  contexts: Record<string, unknown>;
  timeoutMs?: number;
  signal?: AbortSignal;
};

/**
 * The step loop (execute.ts), handed to the steps that run steps of their own (composite actions):
 * passed in rather than imported, so the loop and the variants it dispatches to import no ring.
 */
export type StepsRunner = (defs: StepDef[], scope: StepScope) => Promise<void>;
