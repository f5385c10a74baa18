// Workflows: GitHub Actions workflow files parsed and validated by GitHub's own parser, the model the
// engine runs, trigger filters with GitHub's glob rules, and the event that triggers a run.
// Invariant: a workflow that loads without error has no schema, expression or job-graph problem left.
export { type ActionRefParts, validateActionRef } from "./action-ref.js";
export { eventRef, eventSha, loadEventFile, synthesizeEvent } from "./event.js";
export { compileFilterPattern, matchesAnyFilter } from "./filters.js";
export {
  buildSteps,
  listWorkflowFiles,
  loadWorkflowFile,
  loadWorkflows,
  parseWorkflowText,
  yamlLineBreaks,
} from "./load.js";
export type { InputDef, JobDef, StepDef, WorkflowFile } from "./model.js";
export {
  evaluateMapping,
  evaluateTemplateString,
  evaluateToken,
  registerTemplateStrings,
  tokenToJson,
} from "./template.js";
export { matchWorkflowTrigger, type TriggerEvent, type TriggerMatch } from "./triggers.js";
