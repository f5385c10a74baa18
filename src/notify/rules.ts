// Which channels an event goes to: every rule whose `on` names one of the event's types and whose
// filters all match. A filter the event has no value for (a branch filter on a deploy without a branch,
// an environment filter on a run) does not match.
import type { NotifyRule } from "../config/index.js";
import { matchesAnyFilter } from "../workflow/index.js";
import { eventTypesOf, type NotifyEvent } from "./events.js";

function filterMatches(patterns: readonly string[] | undefined, value: string | undefined): boolean {
  if (patterns === undefined) return true;
  if (value === undefined) return false;
  return matchesAnyFilter(patterns, value);
}

/** The channels of the matching rules, each once, in the order the rules name them. */
export function matchRules(rules: readonly NotifyRule[], event: NotifyEvent): string[] {
  const types = new Set<string>(eventTypesOf(event));
  const channels = new Set<string>();
  for (const rule of rules) {
    if (!rule.on.some((t) => types.has(t))) continue;
    if (!filterMatches(rule.repository, event.repository)) continue;
    if (!filterMatches(rule.branch, event.branch)) continue;
    if (!filterMatches(rule.workflow, event.workflow)) continue;
    if (!filterMatches(rule.environment, event.kind === "deploy" ? event.environment : undefined)) continue;
    for (const c of rule.channels) channels.add(c);
  }
  return [...channels];
}
