// The workflow model the engine runs: the converted template from @actions/workflow-parser plus the
// fields its converter leaves out (step `with`, `shell`, `working-directory`, `timeout-minutes`, job
// `defaults`, `timeout-minutes`, `continue-on-error`), taken from the raw token tree.
import type { MappingToken, TemplateToken } from "@actions/workflow-parser/templates/tokens/index";
import type { EventsConfig } from "@actions/workflow-parser/model/workflow-template";

export type StepDef = {
  /** The id (generated ids start with `__`, as GitHub's do). */
  id: string;
  explicitId: boolean;
  name?: TemplateToken;
  /** The condition, with `success() &&` added when it calls no status function. */
  if: string;
  continueOnError?: boolean | TemplateToken;
  /** A mapping, or a whole expression that must give one. */
  env?: TemplateToken;
  run?: TemplateToken;
  uses?: string;
  /** A mapping, or a whole expression that must give one. */
  with?: TemplateToken;
  shell?: TemplateToken;
  workingDirectory?: TemplateToken;
  timeoutMinutes?: TemplateToken;
  /** Where the step starts, for messages. */
  token: TemplateToken;
};

export type JobDef = {
  id: string;
  name?: TemplateToken;
  needs: string[];
  if: string;
  strategy?: TemplateToken;
  runsOn?: TemplateToken;
  /** A mapping, or a whole expression that must give one. */
  env?: TemplateToken;
  outputs?: MappingToken;
  environment?: TemplateToken;
  concurrency?: TemplateToken;
  container?: TemplateToken;
  services?: TemplateToken;
  timeoutMinutes?: TemplateToken;
  continueOnError?: TemplateToken;
  defaults?: TemplateToken;
  steps: StepDef[];
  /** For a job that calls a reusable workflow. */
  uses?: string;
  with?: MappingToken;
  secrets?: MappingToken;
  inheritSecrets?: boolean;
  token: TemplateToken;
};

export type InputDef = {
  type: string;
  required?: boolean;
  description?: string;
  options?: string[];
  /** A literal, or (workflow_call) an expression evaluated with github, inputs and vars. */
  default?: TemplateToken;
};

export type WorkflowFile = {
  /** Absolute path. */
  path: string;
  /** Path relative to the repository root, used in messages and `github.workflow_ref`. */
  relPath: string;
  /** `name:` or, like GitHub, the file's path when it has none. */
  name: string;
  events: EventsConfig;
  jobs: JobDef[];
  env?: TemplateToken;
  defaults?: TemplateToken;
  concurrency?: TemplateToken;
  runName?: TemplateToken;
  /** `on.workflow_call.outputs` (name → value token). */
  callOutputs?: MappingToken;
  /** `on.workflow_dispatch.inputs`. */
  dispatchInputs?: Record<string, InputDef>;
  /** `on.workflow_call.inputs`. */
  callInputs?: Record<string, InputDef>;
};
